"""`hallkpi demo`: a small day headless into chDB, checked against a plain replay of the
same simulated day; the report page; the wall screen; re-running into the same folder.

The demo runs as a subprocess (`python -m hallkpi.core.cli demo`): chDB opens one data
directory per process, and the test session already has its own open.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hallkpi.core import Engine
from hallkpi.core.sim.simulate import simulate
from hallkpi.ingest.demo.wall import WallState, progress_line, render_wall
from hallkpi.ingest.report.data import intervals
from hallkpi.ingest.report.svg import Axis, nice_step
from mqtt_broker import mosquitto_binary
from rich.console import Console

HALLS, TICKETS, SEED, DATE = 2, 150, 7, "2026-11-27"
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"}


def hallkpi(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hallkpi.core.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def demo(data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    base = ["demo", "--halls", str(HALLS), "--tickets-per-hall", str(TICKETS)]
    base += ["--seed", str(SEED), "--date", DATE, "--data", str(data)]
    proc = hallkpi(*base, *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def replayed() -> dict[str, Any]:
    """The same simulated day pushed into a plain engine: the figures to match."""
    engine = Engine()
    for event in simulate(halls=HALLS, date=DATE, seed=SEED, tickets_per_hall=TICKETS):
        engine.push(event)
    halls: dict[str, Any] = engine.snapshot()["halls"]
    return halls


class Balance(HTMLParser):
    """Collects tags and checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("demo") / "hallkpi-data"
    return data, demo(data, "--speed", "200000").stdout  # paced: the day in 0.2 s


def test_headless_run_prints_hourly_lines_and_a_summary(first_run: tuple[Path, str]) -> None:
    _, out = first_run
    assert "\x1b[" not in out  # no live screen, no colours without a terminal
    hours = re.findall(r"^demo (\d\d):(\d\d) ", out, re.M)
    assert [h for h, m in hours if m == "00"] == [f"{h:02d}" for h in range(8, 19)]
    assert hours[-1] == ("18", "30")
    assert "hallkpi replay --from-store chdb://" in out
    assert "hallkpi report staff --store chdb://" in out


def test_summary_and_store_equal_a_replay_of_the_same_day(first_run: tuple[Path, str]) -> None:
    data, _ = first_run
    summary = json.loads((data / "summary.json").read_text())
    expected = replayed()
    assert [h["hall"] for h in summary["halls"]] == ["yuhua", "gulou"]
    for h in summary["halls"]:
        today = expected[h["hall"]]["today"]
        assert (h["issued"], h["served"]) == (today["issued"], today["served"])
        assert h["issued"] > 100 and h["served"] > 100
        assert h["wait_p90_s"] == pytest.approx(today["wait_p90_s"])
        assert h["rating_mean"] == pytest.approx(today["rating_mean"])
    n_events = len(simulate(halls=HALLS, date=DATE, seed=SEED, tickets_per_hall=TICKETS))
    assert summary["events_applied"] == n_events
    # each hall's queue system and its phone line number their events (contract v1.1)
    assert (summary["producers"], summary["upstream_lost"]) == (2 * HALLS, 0)
    assert f"sequence check: {2 * HALLS} producers, 0 events lost upstream" in first_run[1]
    rows = summary["store_rows"]
    assert rows["events"] == n_events
    assert rows["hall_kpis"] >= 660 * HALLS * 4  # every simulated minute, 4 horizons
    assert rows["staff_kpis"] > 0 and rows["alerts"] > 0
    # What the store holds, replayed by the ordinary command, gives the same day.
    replay = hallkpi("replay", "--from-store", f"chdb://{data.resolve() / 'store'}", "--json")
    assert replay.returncode == 0, replay.stderr
    stored = json.loads(replay.stdout)["halls"]
    for hall, doc in expected.items():
        for kpi in ("issued", "served", "no_show", "calls_answered", "ratings"):
            assert stored[hall]["today"][kpi] == doc["today"][kpi], (hall, kpi)


def test_report_is_self_contained_html_with_charts_for_every_hall(
    first_run: tuple[Path, str],
) -> None:
    data, _ = first_run
    page = (data / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    parser = Balance()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    labels = [a.get("aria-label") for t, a in parser.tags if t == "svg"]
    for hall in ("yuhua", "gulou"):
        assert f"{hall} queue" in labels
    assert len(labels) >= 2 * HALLS + 2  # queue and flow per hall, city, alert timeline
    for tag, attrs in parser.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value, re.I), (tag, name, value)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "url(" not in page
    assert "hallkpi replay --from-store chdb://" in page
    assert "hallkpi trends --store chdb://" in page
    assert "hallkpi report staff --store chdb://" in page


def test_rerun_into_the_same_folder_starts_afresh_here_through_mqtt(
    first_run: tuple[Path, str],
) -> None:
    """The second run goes through Mosquitto and `hallkpi serve` (when Mosquitto is
    installed, as `make test` ensures), into the folder of the first: same day, same
    figures, the store holds it once."""
    data, _ = first_run
    mqtt = ["--mqtt"] if mosquitto_binary() is not None else []
    out = demo(data, *mqtt, "--speed", "0").stdout
    assert "demo 18:30 100%" in out
    summary = json.loads((data / "summary.json").read_text())
    expected = replayed()
    for h in summary["halls"]:
        today = expected[h["hall"]]["today"]
        assert (h["issued"], h["served"]) == (today["issued"], today["served"])
        assert h["wait_p90_s"] == pytest.approx(today["wait_p90_s"])
    n_events = len(simulate(halls=HALLS, date=DATE, seed=SEED, tickets_per_hall=TICKETS))
    assert summary["events_applied"] == summary["store_rows"]["events"] == n_events
    assert (summary["producers"], summary["upstream_lost"]) == (2 * HALLS, 0)
    assert summary["store_rows"]["hall_kpis"] > 0
    assert "gulou queue" in (data / "report.html").read_text(encoding="utf-8")
    if mqtt:
        assert summary["options"]["mqtt"] == "True" and (data / "serve.log").exists()


def test_wall_screen_shows_every_hall_and_what_is_firing() -> None:
    engine = Engine(halls=["yuhua", "gulou"])
    events: list[dict[str, Any]] = simulate(halls=2, date=DATE, seed=SEED, tickets_per_hall=TICKETS)
    noon: int = next(e["ts"] for e in events if e["ts"] >= events[0]["ts"] + 3 * 3_600_000)
    for e in events:
        if e["ts"] < noon:
            engine.push(e)
    engine.advance(noon)
    state = WallState(
        date=DATE,
        timezone="Asia/Shanghai",
        speed=660,
        start_ms=noon - 4 * 3_600_000,
        end_ms=noon + 7 * 3_600_000,
        now_ms=noon,
        halls=["yuhua", "gulou"],
        snapshot=engine.snapshot(),
        firing={"gulou": ["congestion"]},
        events_applied=1234,
    )
    console = Console(record=True, width=170, force_terminal=True)
    console.print(render_wall(state))
    text = console.export_text()
    for needle in ("yuhua", "gulou", "congestion", "waiting", "answer rate", "1,234 events"):
        assert needle in text
    assert "36%" in text  # 4 of 11 hours
    line = progress_line(state)
    assert "gulou:congestion" in line and line.startswith("demo ")


def test_chart_helpers() -> None:
    assert [nice_step(x) for x in (4, 10, 37, 260, 0)] == [1, 2.5, 10, 100, 1.0]
    axis = Axis.fit([3.0, float("nan"), 212.0])
    assert axis.top == 300 and axis.step == 100
    rows = [
        ("a", "congestion", "pending", 1000, 8.5, 8.0),
        ("a", "congestion", "firing", 2000, 9.0, 8.0),
        ("a", "congestion", "ok", 5000, 6.0, 8.0),
        ("b", "wait_timeout", "firing", 3000, 1900.0, 1800.0),
    ]
    got = intervals(rows, 9000)
    assert [(i.lane, i.start, i.end, i.open) for i in got] == [
        ("a · congestion", 2000, 5000, False),
        ("b · wait_timeout", 3000, 9000, True),
    ]
