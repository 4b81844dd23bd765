"""AMI -> EVENTS.md translation: the self-made capture, lookahead decisions, resync."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from conftest import shared_file
from hallkpi.core import Engine
from hallkpi.telephony import (
    CallTranslator,
    Event,
    Message,
    QueueMap,
    TelephonyConfigError,
    TranslateOptions,
    translate_stream,
    translate_with,
)

HALLS = QueueMap({"12366-yuhua": "yuhua", "12366-xinhua": "xinhua"})
T0 = 1795740000


def msg(name: str, t: float | None = None, **fields: str) -> Message:
    """An event; ``t`` seconds after T0 becomes its Timestamp header."""
    pairs = [("Event", name)]
    if t is not None:
        pairs.append(("Timestamp", f"{T0 + t:.6f}"))
    return Message.from_fields([*pairs, *fields.items()])


def feed(tr: CallTranslator, *msgs: Message, received_ms: int | None = None) -> list[Event]:
    out: list[Event] = []
    for m in msgs:
        out += tr.feed(m, received_ms=received_ms)
    return out


def brief(events: list[Event]) -> list[tuple[Any, ...]]:
    """(type, call or agent, ms after T0, hold/talk/score/state)."""
    keys = ("hold_s", "talk_s", "score", "state")
    return [
        (
            e["type"],
            e.get("call", e.get("agent")),
            e["ts"] - T0 * 1000,
            next((e[k] for k in keys if k in e), None),
        )
        for e in events
    ]


def kpis(events: list[Event], hall: str) -> dict[str, Any]:
    engine = Engine()
    result = engine.push_jsonl("\n".join(json.dumps(e) for e in events).encode())
    assert result.rejected == 0, result.rejections
    snap = engine.snapshot()["halls"][hall]
    return {**snap["1h"], **snap["now"]}


def test_small_capture_events(small_capture: bytes) -> None:
    tr = CallTranslator(HALLS)
    events = list(translate_with(tr, [small_capture]))
    calls = [b for b in brief(events) if b[0] != "agent.state"]
    assert calls == [
        ("call.queued", "pbx-1795740001.1", 1000, None),
        ("call.answered", "pbx-1795740001.1", 3500, 2.5001),
        ("call.queued", "pbx-1795740010.5", 10000, None),
        ("call.abandoned", "pbx-1795740010.5", 17210, 7.21),
        ("call.queued", "pbx-1795740020.9", 20000, None),
        ("call.queued", "pbx-1795740030.13", 30000, None),
        ("call.abandoned", "pbx-1795740030.13", 32000, 2.0001),
        ("call.queued", "pbx-1795740040.17", 40000, None),
        ("call.timeout", "pbx-1795740040.17", 45000, 5.0),
        ("call.completed", "pbx-1795740001.1", 63500, 59.9999),
        ("call.rated", "pbx-1795740001.1", 70000, 4),
        ("call.timeout", "pbx-1795740020.9", 80000, 60.0),
        ("call.queued", "pbx-1795740020.9#2", 81000, None),
        ("call.answered", "pbx-1795740020.9#2", 85000, 4.0),
        ("call.completed", "pbx-1795740020.9#2", 90000, 5.0),
        ("call.answered", "pbx-1795739990.30", 70000, 12.0),
        ("call.completed", "pbx-1795739990.30", 100000, 30.0),
    ]
    agents = [(b[1], b[3]) for b in brief(events) if b[0] == "agent.state"]
    assert agents == [
        ("PJSIP/1001", "available"),
        ("PJSIP/1002", "paused"),
        ("PJSIP/2001", "offline"),
        ("PJSIP/1001", "busy"),
        ("PJSIP/1002", "available"),
        ("PJSIP/1001", "available"),
        ("PJSIP/2002", "available"),
        ("PJSIP/2002", "busy"),
        ("PJSIP/2002", "available"),
        ("PJSIP/1002", "offline"),
    ]
    assert tr.stats.unmapped == {"other": 2} and tr.stats.conflicts == 0
    assert events[1]["id"] == "ami-" + events[1]["id"][4:] and len(events[1]["id"]) == 28
    assert all(len(e["id"]) <= 64 for e in events)
    gaps = tr.drain_gaps()
    assert [(g.queue, g.completed, g.abandoned, g.hidden) for g in gaps] == [
        ("12366-yuhua", 2, 2, False),
        ("12366-xinhua", 1, 1, False),
    ]


def test_small_capture_kpis(small_capture: bytes) -> None:
    events = list(translate_stream([small_capture], HALLS))
    yuhua = kpis(events, "yuhua")
    assert (yuhua["calls_offered"], yuhua["calls_answered"], yuhua["calls_abandoned"]) == (4, 2, 1)
    assert (yuhua["calls_short_abandoned"], yuhua["calls_timeout"]) == (1, 1)
    # holds of 2.5001 s and 12 s, summed as whole milliseconds (docs/SEMANTICS.md)
    assert yuhua["asa_s"] == (2500 + 12000) / 2 / 1000
    assert (yuhua["call_ratings"], yuhua["calls_waiting"], yuhua["agents_available"]) == (1, 0, 1)
    xinhua = kpis(events, "xinhua")
    assert (xinhua["calls_offered"], xinhua["calls_answered"], xinhua["calls_timeout"]) == (2, 1, 1)
    assert xinhua["agents_available"] == 1  # Dave; Carol is unavailable (offline)


def test_translation_ignores_split_points_and_a_replay_deduplicates(small_capture: bytes) -> None:
    whole = list(translate_stream([small_capture], HALLS))
    rng = random.Random(11)
    for _ in range(20):
        cuts = sorted(rng.randrange(len(small_capture)) for _ in range(rng.randint(1, 300)))
        pieces = [
            small_capture[a:b] for a, b in zip([0, *cuts], [*cuts, len(small_capture)], strict=True)
        ]
        assert list(translate_stream(pieces, HALLS)) == whole
    engine = Engine()
    lines = "\n".join(json.dumps(e) for e in whole).encode()
    first, again = engine.push_jsonl(lines), engine.push_jsonl(lines)
    assert (first.applied, first.duplicates) == (len(whole), 0)
    assert (again.applied, again.duplicates) == (0, len(whole))


def test_options_holdtime_agent_names_and_unmapped_policies(small_capture: bytes) -> None:
    options = TranslateOptions(hold_from="holdtime", agent_key="name")
    events = list(translate_stream([small_capture], HALLS, options))
    answered = [e for e in events if e["type"] == "call.answered"]
    assert [(e["agent"], e["hold_s"]) for e in answered] == [
        ("Alice", 3.0),
        ("Dave", 4.0),
        ("Bob", 12.0),
    ]
    default = QueueMap(HALLS.queues, "default", "city")
    assert {e["hall"] for e in translate_stream([small_capture], default)} == {
        "yuhua",
        "xinhua",
        "city",
    }
    as_queue = QueueMap({}, "queue")
    assert "other" in {e["hall"] for e in translate_stream([small_capture], as_queue)}
    for bad in (lambda: QueueMap({"q": "bad hall"}), lambda: QueueMap({}, "default")):
        with pytest.raises(TelephonyConfigError):
            bad()
    assert QueueMap.parse_pairs("a=b, c=d,") == {"a": "b", "c": "d"}
    with pytest.raises(TelephonyConfigError, match="queue=hall"):
        QueueMap.parse_pairs("nohall")
    assert QueueMap({"Support": "x"}).hall("SUPPORT") == "x"  # as app_queue: no case


def join(uid: str, t: float, queue: str = "12366-yuhua") -> Message:
    return msg("QueueCallerJoin", t, Uniqueid=uid, Queue=queue)


def test_leave_waits_for_the_connect_that_follows() -> None:
    tr = CallTranslator(HALLS, TranslateOptions(lookahead_ms=500))
    leave = msg("QueueCallerLeave", 5.0, Uniqueid="u1", Queue="12366-yuhua")
    assert [e["type"] for e in feed(tr, join("u1", 1.0), leave)] == ["call.queued"]
    assert tr.waiting_decisions == 1
    late = msg(
        "AgentConnect", 5.4, Uniqueid="u1", Queue="12366-yuhua", Interface="PJSIP/1", HoldTime="4"
    )
    assert brief(feed(tr, late)) == [("call.answered", "u1", 5400, 4.4)]
    tr2 = CallTranslator(HALLS, TranslateOptions(lookahead_ms=500))
    feed(tr2, join("u2", 1.0), msg("QueueCallerLeave", 5.0, Uniqueid="u2", Queue="12366-yuhua"))
    noise = msg("Newchannel", 5.6, Uniqueid="x")
    assert brief(feed(tr2, noise)) == [("call.timeout", "u2", 5000, 4.0)]
    connect = msg("AgentConnect", 5.7, Uniqueid="u2", Queue="12366-yuhua", Interface="PJSIP/1")
    assert feed(tr2, connect) == [] and tr2.stats.conflicts == 1  # one outcome per call


def test_abandon_or_timeout_is_decided_by_a_hangup_before_the_leave() -> None:
    tr = CallTranslator(HALLS)
    abandon = msg("QueueCallerAbandon", 9.0, Uniqueid="a", Queue="12366-yuhua", HoldTime="8")
    feed(tr, join("a", 1.0), abandon)
    assert tr.waiting_decisions == 1  # between Abandon and Leave a hangup still counts
    events = feed(
        tr,
        msg("SoftHangupRequest", 9.0, Uniqueid="a"),
        msg("QueueCallerLeave", 9.0, Uniqueid="a", Queue="12366-yuhua"),
    )
    assert brief(events) == [("call.abandoned", "a", 9000, 8.0)]
    tr = CallTranslator(HALLS)
    feed(tr, join("b", 1.0), msg("QueueCallerAbandon", 9.0, Uniqueid="b", Queue="12366-yuhua"))
    after = feed(
        tr,
        msg("QueueCallerLeave", 9.0, Uniqueid="b", Queue="12366-yuhua"),
        msg("Hangup", 9.0001, Uniqueid="b"),
    )
    assert brief(after) == [("call.timeout", "b", 9000, 8.0)]  # a hangup after Leave: the dialplan
    tr = CallTranslator(HALLS)
    feed(tr, join("c", 1.0), msg("QueueCallerAbandon", 3.0, Uniqueid="c", Queue="12366-yuhua"))
    assert brief(tr.flush()) == [("call.timeout", "c", 3000, 2.0)]  # no Leave ever: flush


def test_without_timestamps_lookahead_counts_messages() -> None:
    tr = CallTranslator(HALLS, TranslateOptions(lookahead_messages=3))
    base = [
        msg("QueueCallerJoin", Uniqueid="pbx-1795740001.1", Queue="12366-yuhua"),
        msg("QueueCallerLeave", Uniqueid="pbx-1795740001.1", Queue="12366-yuhua"),
    ]
    assert [e["type"] for e in feed(tr, *base)] == ["call.queued"]
    quiet = [msg("Newchannel") for _ in range(3)]  # any of these could have settled it
    assert feed(tr, *quiet) == []
    assert [e["type"] for e in feed(tr, msg("Newchannel"))] == ["call.timeout"]
    assert tr.stats.events["call.timeout"] == 1


def test_live_lookahead_settles_on_wall_clock_poll() -> None:
    tr = CallTranslator(HALLS, TranslateOptions(lookahead_ms=500))
    now = 1_800_000_000_000
    joined = feed(tr, msg("QueueCallerJoin", Uniqueid="u", Queue="12366-yuhua"), received_ms=now)
    assert joined[0]["ts"] == now
    feed(tr, msg("QueueCallerLeave", Uniqueid="u", Queue="12366-yuhua"), received_ms=now + 30_000)
    assert tr.poll(now + 30_499) == []
    (timeout,) = tr.poll(now + 30_500)
    assert (timeout["type"], timeout["hold_s"]) == ("call.timeout", 30.0)
    assert tr.poll(now + 40_000) == [] and tr.flush() == []


def test_list_items_live_are_stamped_on_asterisks_clock() -> None:
    tr = CallTranslator(HALLS)
    here = (T0 - 10) * 1000  # our clock is 10 s behind the PBX's
    feed(tr, join("c", 0.0), received_ms=here)
    item = msg("QueueMember", None, Queue="12366-yuhua", Location="PJSIP/7", Status="1", Paused="1")
    (state,) = feed(tr, item, received_ms=here + 2000)
    assert state["ts"] == (T0 + 2) * 1000  # not T0 - 8 s: it would lose to older events


def test_surveys() -> None:
    opts = TranslateOptions(survey_event="Satisfaction", score_header="Note")
    tr = CallTranslator(HALLS, opts)
    feed(
        tr,
        join("s1", 1.0),
        msg("AgentConnect", 2.0, Uniqueid="s1", Queue="12366-yuhua", Interface="PJSIP/9"),
    )
    survey = msg("UserEvent", 9.0, UserEvent="satisfaction", Uniqueid="s1", Note="5")
    assert brief(feed(tr, survey)) == [("call.rated", "s1", 9000, 5)]
    assert feed(tr, survey) == []  # once per call
    other = msg("UserEvent", 9.0, UserEvent="PostCallSurvey", Uniqueid="s1", Note="5")
    bad = msg("UserEvent", 9.0, UserEvent="Satisfaction", Uniqueid="s1", Note="7")
    assert feed(tr, other, bad) == [] and tr.stats.bad_surveys == 1
    unknown = msg(
        "UserEvent",
        9.0,
        UserEvent="Satisfaction",
        CallerUniqueid="gone",
        Queue="12366-xinhua",
        Interface="PJSIP/3",
        Note="2",
    )
    (rated,) = feed(tr, unknown)
    assert (rated["hall"], rated["call"], rated["agent"], rated["score"]) == (
        "xinhua",
        "gone",
        "PJSIP/3",
        2,
    )


def queue_status(
    aid: str, queue: str, completed: int, abandoned: int, *items: Message
) -> list[Message]:
    params = msg(
        "QueueParams",
        None,
        Queue=queue,
        Completed=str(completed),
        Abandoned=str(abandoned),
        ActionID=aid,
    )
    done = msg("QueueStatusComplete", None, ActionID=aid, EventList="Complete")
    return [params, *items, done]


def test_resync_rebuilds_callers_agents_and_reports_gaps() -> None:
    tr = CallTranslator(HALLS)
    now = (T0 + 100) * 1000
    member = msg(
        "QueueMember",
        None,
        Queue="12366-yuhua",
        Location="PJSIP/1",
        Name="A",
        Status="1",
        Paused="0",
        ActionID="r1",
    )
    first = feed(tr, *queue_status("r1", "12366-yuhua", 5, 1, member), received_ms=now)
    assert brief(first) == [("agent.state", "PJSIP/1", 100000, "available")]
    assert tr.drain_gaps() == []  # the first read is the baseline
    feed(
        tr,
        join("w1", 101.0),
        join("w2", 102.0),
        msg(
            "AgentComplete",
            103.0,
            Uniqueid="x",
            Queue="12366-yuhua",
            Interface="PJSIP/1",
            HoldTime="1",
            TalkTime="2",
        ),
    )
    # a disconnection: w1 left, w3 joined, two answers and one abandon happened unseen
    entry = msg("QueueEntry", None, Queue="12366-yuhua", Uniqueid="w3", Wait="30", ActionID="r2")
    kept = msg("QueueEntry", None, Queue="12366-yuhua", Uniqueid="w2", Wait="98", ActionID="r2")
    again = feed(
        tr, *queue_status("r2", "12366-yuhua", 8, 2, kept, entry), received_ms=now + 100_000
    )
    assert brief(again) == [
        ("call.queued", "w3", 170000, None),
        ("call.timeout", "w1", 200000, 99.0),
        ("agent.state", "PJSIP/1", 200000, "offline"),
    ]
    assert again[1]["inferred"] == "resync" and tr.stats.inferred_timeouts == 1
    (gap,) = tr.drain_gaps()
    assert (gap.completed, gap.observed_completed, gap.hidden_answers) == (3, 1, 2)
    assert (gap.abandoned, gap.hidden_abandons, gap.restarted) == (1, 1, False)
    assert "2 answered and 1 abandoned calls were not seen" in str(gap)
    feed(tr, *queue_status("r3", "12366-yuhua", 1, 0), received_ms=now + 200_000)
    (restart,) = tr.drain_gaps()
    assert restart.restarted and restart.hidden_answers == 1 and "restart" in str(restart)


def test_memory_bounds_and_long_ids() -> None:
    tr = CallTranslator(HALLS, TranslateOptions(max_calls=10, keep_ended_ms=1000))
    for i in range(30):
        feed(tr, join(f"c{i}", float(i)))
    assert len(tr._calls) == 10 and tr.stats.evicted == 20  # noqa: SLF001 (the bound on tracked calls)
    long_uid = "x" * 200
    long_queue = CallTranslator(QueueMap({"q" * 100: "yuhua"}))
    (event,) = feed(long_queue, join(long_uid, 40.0, "q" * 100))
    assert all(len(event[k]) <= 64 for k in ("id", "call", "queue"))
    assert event["call"].startswith("xxx") and event["call"] != event["queue"]
    tr2 = CallTranslator(HALLS, TranslateOptions(keep_ended_ms=1000))
    for i in range(1100):  # the collector runs every 1024 messages
        feed(
            tr2,
            join(f"d{i}", i * 10.0),
            msg("QueueCallerAbandon", i * 10.0 + 1, Uniqueid=f"d{i}", Queue="12366-yuhua"),
            msg("HangupRequest", i * 10.0 + 1, Uniqueid=f"d{i}"),
        )
    assert len(tr2._calls) < 400  # noqa: SLF001 (the bound on tracked calls)


def test_public_trace_without_timestamps() -> None:
    data = shared_file("public-callme-sip-queue-trace.txt").read_bytes()
    events = list(translate_stream([data], QueueMap({"Q1": "callme"})))
    calls = [
        (e["type"], e.get("hold_s", e.get("talk_s"))) for e in events if e["type"] != "agent.state"
    ]
    assert calls == [("call.queued", None), ("call.answered", 9.0), ("call.completed", 3.0)]
    assert events[0]["ts"] == 1514295827000  # from the Uniqueid: no Timestamp headers
