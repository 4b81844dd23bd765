"""The real Asterisk 22.10.1 capture: translated call KPIs equal Asterisk's own counters.

Uses ../shared/data/ami/ (skipped with a message when absent). The timeline file says
what happened: five callers joined queue ``support``; the first hung up after 7.5 s
(a ring-no-answer in between), four were answered and completed; Asterisk's final
QueueStatus says ``Completed: 4, Abandoned: 1``.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from hallkpi.core import Engine
from hallkpi.core.cli import main
from hallkpi.telephony import (
    AmiParser,
    CallTranslator,
    QueueMap,
    TranslateOptions,
    translate_stream,
    translate_with,
)

SUPPORT = QueueMap({"support": "hall-a"})

# Hold times by hand, from the Timestamp headers (QueueCallerJoin -> AgentConnect):
HOLDS = [
    1491.775413 - 1490.773051,  # caller 5550002: 1.002362 s
    1499.775725 - 1499.773802,  # caller 5550003: 0.001923 s
    1509.780953 - 1508.778243,  # caller 5550004: 1.002710 s
    1516.090368 - 1509.079999,  # caller 5550005, waited behind 5550004: 7.010369 s
]
ASA_EXACT_S = sum(HOLDS) / 4  # 2.254341 s
# The engine sums durations as whole milliseconds, each rounded once at validation
# (docs/SEMANTICS.md, "exact sums"): the hand calculation does the same.
ASA_S = sum(math.floor(h * 1000 + 0.5) for h in HOLDS) / 4 / 1000  # 2.25425 s
ABANDON_HOLD_S = 1488.403489 - 1480.895229  # caller 5550001 hung up: 7.508260 s


def asterisk_counters(capture: bytes) -> tuple[int, int]:
    """Completed and Abandoned of the last QueueParams in the capture."""
    params = [m for m in AmiParser().feed(capture) if m.name == "QueueParams"]
    return int(params[-1]["Completed"]), int(params[-1]["Abandoned"])


def hall_kpis(lines: bytes) -> dict[str, object]:
    engine = Engine()
    result = engine.push_jsonl(lines)
    assert result.rejected == 0, result.rejections
    hall = engine.snapshot()["halls"]["hall-a"]
    return {**hall["1h"], **hall["now"]}


def test_call_kpis_equal_asterisks_counters(live_capture: bytes) -> None:
    events = list(translate_stream([live_capture], SUPPORT))
    kpi = hall_kpis("\n".join(json.dumps(e) for e in events).encode())
    completed, abandoned = asterisk_counters(live_capture)
    assert (completed, abandoned) == (4, 1)
    assert kpi["calls_offered"] == 5 == completed + abandoned
    assert kpi["calls_answered"] == completed and kpi["calls_abandoned"] == abandoned
    assert (kpi["calls_short_abandoned"], kpi["calls_timeout"], kpi["calls_waiting"]) == (0, 0, 0)
    assert kpi["asa_s"] == ASA_S  # exact: integer sums, one division
    assert abs(kpi["asa_s"] - ASA_EXACT_S) < 0.0005  # at most half a millisecond per call
    assert kpi["answer_rate"] == 0.8 and kpi["service_level"] == 0.8
    assert (kpi["call_ratings"], kpi["call_rating_mean"]) == (3, 3.0)  # surveys 5, 3, 1
    # the end: agent1 available, agent2 paused (Lunch), agent3 removed
    assert (kpi["agents_available"], kpi["agents_paused"], kpi["agents_busy"]) == (1, 1, 0)
    (abandon,) = [e for e in events if e["type"] == "call.abandoned"]
    assert abandon["hold_s"] == pytest.approx(ABANDON_HOLD_S, abs=1e-9)


def test_whole_second_holdtimes_without_timestamps(live_capture: bytes) -> None:
    options = TranslateOptions(hold_from="holdtime")
    events = list(translate_stream([live_capture], SUPPORT, options))
    answered = [e["hold_s"] for e in events if e["type"] == "call.answered"]
    assert answered == [1.0, 0.0, 1.0, 7.0]  # Asterisk's HoldTime
    assert [e["hold_s"] for e in events if e["type"] == "call.abandoned"] == [8.0]


def test_resync_lists_in_the_capture_report_no_gap(live_capture: bytes) -> None:
    tr = CallTranslator(SUPPORT)
    list(translate_with(tr, [live_capture]))
    gaps = tr.drain_gaps()
    assert len(gaps) == 2 and not any(g.hidden for g in gaps)  # mid-session and final
    assert tr.stats.unstamped == 0 and tr.stats.conflicts == 0


def test_random_splits_give_the_same_events(live_capture: bytes) -> None:
    whole = list(translate_stream([live_capture], SUPPORT))
    rng = random.Random(7)
    for _ in range(10):
        cuts = sorted(rng.randrange(len(live_capture)) for _ in range(rng.randint(10, 2000)))
        bounds = zip([0, *cuts], [*cuts, len(live_capture)], strict=True)
        assert list(translate_stream([live_capture[a:b] for a, b in bounds], SUPPORT)) == whole


def test_ami_translate_then_replay(
    live_capture: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "live.txt"
    capture.write_bytes(live_capture)
    out = tmp_path / "calls.jsonl"
    assert (
        main(["ami", "translate", str(capture), "--hall-map", "support=hall-a", "-o", str(out)])
        == 0
    )
    assert "314 messages -> 35 events" in capsys.readouterr().err
    assert main(["replay", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    row = doc["halls"]["hall-a"]["1h"]
    assert (row["calls_offered"], row["calls_answered"], row["calls_abandoned"]) == (5, 4, 1)
    assert row["asa_s"] == ASA_S
    assert doc["diagnostics"]["rejected_events"] == 0
