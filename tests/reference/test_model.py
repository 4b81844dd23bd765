"""Hand-computed scenarios proving the reference model right (no engine needed).

Times are local Asia/Shanghai on 2026-11-27 (``at(h, m, s)``); every expected number
below was worked out by hand from KPIS.md and docs/SEMANTICS.md.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from reference.alerts import DEFAULT_RULES, AlertRule
from reference.clock import horizon_name, horizon_seconds, local_midnight_ms
from reference.helpers import T0, Feed, at
from reference.model import ReferenceEngine, nearest_rank

VALID: dict[str, Any] = {
    "id": "x1",
    "type": "ticket.rated",
    "ts": at(9),
    "hall": "yuhua",
    "ticket": "A1",
    "window": "W1",
    "staff": "s1",
    "score": 3,
}


def quiet(**kw: Any) -> ReferenceEngine:
    """An engine without alert rules, so scenarios need not think about alerts."""
    return ReferenceEngine(alert_rules=[], **kw)


# ------------------------------------------------------------------- helpers, clock


def test_nearest_rank() -> None:
    vals = [float(v) for v in range(10, 101, 10)]
    assert nearest_rank(vals, 1, 2) == 50
    assert nearest_rank(vals, 9, 10) == 90
    assert nearest_rank([7.0], 9, 10) == 7
    assert nearest_rank([1.0, 2.0], 9, 10) == 2  # ceil(1.8) = 2
    assert nearest_rank([1.0, 2.0, 3.0], 1, 2) == 2  # ceil(1.5) = 2
    assert nearest_rank([], 1, 2) is None
    # ceil(0.9 * 30) = 27 exactly (a float 0.9 * 30 would give 27.000000000000004 -> 28)
    assert nearest_rank([float(v) for v in range(1, 31)], 9, 10) == 27


def test_horizon_names() -> None:
    assert [horizon_name(h) for h in (300, 900, 3600, 86400, 45, 90, 7200)] == [
        "5m",
        "15m",
        "1h",
        "1d",
        "45s",
        "90s",
        "2h",
    ]
    assert horizon_seconds("15m") == 900
    assert horizon_seconds("90s") == 90
    with pytest.raises(ValueError, match="horizon"):
        horizon_seconds("today")


def test_local_midnight() -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    assert local_midnight_ms(tz, at(13, 5)) == T0
    assert local_midnight_ms(tz, T0) == T0
    assert local_midnight_ms(tz, T0 - 1) == T0 - 86_400_000
    # New York, the day DST started (2026-03-08): midnight is EST (UTC-5).
    ny = ZoneInfo("America/New_York")
    assert local_midnight_ms(ny, 1772971200000) == 1772946000000
    # ... and the day it ended (2026-11-01): midnight is EDT, 23:00 is EST.
    assert local_midnight_ms(ny, 1793592000000) == 1793505600000
    # Santiago skips 2026-09-06 00:00 (the day starts at 01:00 -03) and repeats
    # 23:00-24:00 on 2026-04-04; Havana repeats 00:00-01:00 on 2026-11-01.
    cl = ZoneInfo("America/Santiago")
    assert local_midnight_ms(cl, 1788667200000 + 3_600_000) == 1788667200000
    assert local_midnight_ms(cl, 1775358000000 + 1_800_000) == 1775358000000 - 86_400_000
    assert local_midnight_ms(cl, 1775358000000 + 3_600_000) == 1775358000000 + 3_600_000
    hav = ZoneInfo("America/Havana")
    assert local_midnight_ms(hav, 1793509200000 + 600_000) == 1793509200000 - 3_600_000
    # The last valid ts does not overflow local-time arithmetic.
    assert local_midnight_ms(tz, 253_402_300_799_999) > 0


# ---------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ts": True}, "integer"),
        ({"ts": 5.0}, "integer"),
        ({"ts": "1"}, "integer"),
        ({"ts": -1}, "range"),
        ({"ts": 253_402_300_800_000}, "range"),
        ({"ts": None}, "integer"),
        ({"id": ""}, "1..64"),
        ({"id": "x" * 65}, "1..64"),
        ({"id": 7}, "string"),
        ({"id": "\ud800"}, "Unicode"),
        ({"type": "ticket.rerated"}, "unknown type"),
        ({"type": 3}, "unknown type"),
        ({"hall": "yu hua"}, "hall"),
        ({"hall": "雨花"}, "hall"),
        ({"hall": "h" * 65}, "1..64"),
        ({"score": 0}, "range"),
        ({"score": 6}, "range"),
        ({"score": True}, "integer"),
        ({"score": 5.0}, "integer"),
        ({"staff": ""}, "1..64"),
        ({"staff": 12}, "string"),
        ({"window": None}, "string"),
        ({"ticket": "t" * 65}, "1..64"),
    ],
)
def test_invalid_events_are_rejected(change: dict[str, Any], reason: str) -> None:
    eng = quiet()
    with pytest.raises(ValueError, match=reason):
        eng.push({**VALID, **change})
    assert eng.snapshot()["diagnostics"]["rejected_events"] == 1
    assert eng.snapshot()["halls"] == {}
    assert eng.now == 0
    # The rejected event's id is not remembered.
    assert eng.push(VALID) is True


@pytest.mark.parametrize("missing", ["id", "type", "ts", "hall", "ticket", "staff", "score"])
def test_missing_fields_are_rejected(missing: str) -> None:
    eng = quiet()
    ev = dict(VALID)
    del ev[missing]
    with pytest.raises(ValueError, match=r"missing|unknown"):
        eng.push(ev)


@pytest.mark.parametrize(
    ("etype", "fields", "ok"),
    [
        ("call.answered", {"call": "c", "queue": "q", "agent": "a", "hold_s": 0}, True),
        ("call.answered", {"call": "c", "queue": "q", "agent": "a", "hold_s": 2.5}, True),
        ("call.answered", {"call": "c", "queue": "q", "agent": "a", "hold_s": -0.1}, False),
        ("call.answered", {"call": "c", "queue": "q", "agent": "a", "hold_s": math.nan}, False),
        ("call.answered", {"call": "c", "queue": "q", "agent": "a", "hold_s": math.inf}, False),
        ("call.answered", {"call": "c", "queue": "q", "agent": "a", "hold_s": True}, False),
        ("call.answered", {"call": "c", "queue": "q", "agent": "a", "hold_s": "3"}, False),
        ("call.answered", {"call": "c", "queue": "q", "agent": "a", "hold_s": 10**400}, False),
        ("call.answered", {"call": "c", "queue": "q", "agent": "a"}, False),
        ("call.completed", {"call": "c", "queue": "q", "agent": "a", "talk_s": 1e9}, True),
        ("call.abandoned", {"call": "c", "queue": "q", "hold_s": 3}, True),
        ("call.queued", {"call": "c"}, False),
        ("ticket.issued", {"ticket": "A1", "service": "s", "channel": "wechat"}, True),
        ("ticket.issued", {"ticket": "A1", "service": "s", "channel": "fax"}, False),
        ("ticket.issued", {"ticket": "A1", "service": "s", "channel": "kiosk", "score": 9}, True),
        ("ticket.issued", {"ticket": "A1", "service": "s", "channel": "kiosk", "staff": 1}, True),
        ("opinion.submitted", {"opinion": "o", "channel": "fax"}, True),
        ("opinion.submitted", {"opinion": "o"}, False),
        ("agent.state", {"agent": "a", "queue": "q", "state": "busy"}, True),
        ("agent.state", {"agent": "a", "queue": "q", "state": "lunch"}, False),
        ("window.opened", {"window": "W1"}, False),
        ("window.paused", {"window": "W1"}, True),
        ("ticket.cancelled", {"ticket": "税" * 64}, True),
        ("ticket.cancelled", {"ticket": "税" * 65}, False),
    ],
)
def test_type_specific_fields(etype: str, fields: dict[str, Any], ok: bool) -> None:
    eng = quiet()
    ev = {"id": "e1", "type": etype, "ts": at(9), "hall": "a.B-9_z", **fields}
    if ok:
        assert eng.push(ev) is True
    else:
        with pytest.raises(ValueError, match=r"."):
            eng.push(ev)


def test_not_an_object_is_rejected() -> None:
    eng = quiet()
    for bad in ([VALID], "x", None, 3):
        with pytest.raises(ValueError, match="object"):
            eng.push(bad)  # type: ignore[arg-type]
    assert eng.snapshot()["diagnostics"]["rejected_events"] == 4


def test_largest_ts_is_valid() -> None:
    eng = quiet()
    assert eng.push({**VALID, "ts": 253_402_300_799_999})
    assert eng.now == 253_402_300_799_999
    assert eng.snapshot()["halls"]["yuhua"]["today"]["ratings"] == 1


# -------------------------------------------------------------------------- dedup


def test_duplicates_are_ignored_entirely() -> None:
    eng = quiet()
    assert eng.push(VALID) is True
    assert eng.push(VALID) is False
    # Same id, different content (even a later ts and another hall): still a duplicate.
    assert eng.push({**VALID, "ts": at(11), "score": 1, "hall": "other"}) is False
    snap = eng.snapshot()
    assert snap["now"] == at(9)  # the duplicate did not move the clock
    assert set(snap["halls"]) == {"yuhua"}
    assert snap["halls"]["yuhua"]["today"]["ratings"] == 1
    assert snap["halls"]["yuhua"]["today"]["rating_mean"] == 3
    assert snap["diagnostics"] == {
        "events_applied": 1,
        "duplicate_events": 2,
        "late_events": 0,
        "orphan_events": 1,  # a rating for a ticket never issued
        "rejected_events": 0,
    }
    # An invalid event with a known id is rejected, not a duplicate.
    with pytest.raises(ValueError, match="range"):
        eng.push({**VALID, "score": 7})
    assert eng.snapshot()["diagnostics"]["duplicate_events"] == 2


def test_push_json_and_jsonl_counts() -> None:
    eng = quiet()
    r = eng.push_json(
        b'[{"id":"a","type":"window.paused","ts":1,"hall":"h","window":"w"},'
        b' 5, {"id":"a","type":"window.paused","ts":1,"hall":"h","window":"w"}]'
    )
    assert (r.applied, r.duplicates, r.rejected) == (1, 1, 1)
    lines = b"\n".join(
        [
            b'{"id":"b","type":"window.closed","ts":2,"hall":"h","window":"w"}',
            b"",
            b"   \r",
            b'{"id":"b","type":"window.closed","ts":2,"hall":"h","window":"w"}',
            b"{not json",
            b'{"id":"c","type":"window.closed","ts":2.0,"hall":"h","window":"w"}',
            b'{"id":"d","type":"call.answered","ts":3,"hall":"h","call":"c","queue":"q",'
            b'"agent":"a","hold_s":NaN}',
            b'{"id":"e","type":"window.closed","ts":3,"hall":"h","window":"\xff"}',
            b'[{"id":"f","type":"window.closed","ts":4,"hall":"h","window":"w"}, []]',
            b'{"id":"g","type":"window.closed","ts":5,"hall":"h","window":"w","x":"'
            + b"y" * 262_144
            + b'"}',
            b'"just a string"',
            b'{"id":"h","id":"i","type":"window.closed","ts":5,"hall":"h","window":"w"}',
            b'{"id":"i","type":"window.closed","ts":5,"hall":"h","window":"w"}\r',
        ]
    )
    r = eng.push_jsonl(lines)
    assert (r.applied, r.duplicates, r.rejected) == (3, 2, 7)
    assert eng.snapshot()["diagnostics"]["rejected_events"] == 8


# ------------------------------------------------------------------------- gauges


def test_gauges() -> None:
    eng = quiet()
    f = Feed(eng)
    # Tickets.
    f("ticket.issued", at(8), ticket="A8")
    f("window.opened", at(8), window="W1")
    f("window.opened", at(8), window="W2")
    f("window.opened", at(8), window="W3")
    f("ticket.started", at(8, 50), ticket="A8")
    f("ticket.issued", at(9), ticket="A1")  # waits all along
    f("window.paused", at(9), window="W2")
    f("window.resumed", at(9), window="W4")  # never opened, resumed means open
    f("agent.state", at(9), agent="a1", state="available")
    f("agent.state", at(9), agent="a3", state="offline")
    f("agent.state", at(9), agent="a4", state="paused")
    f("agent.state", at(9), agent="a5", state="available")
    f("opinion.submitted", at(9), opinion="O3")
    f("ticket.started", at(9), ticket="A5")  # orphan
    f("agent.state", at(9, 5), agent="a5", state="offline")
    f("ticket.completed", at(9, 10), ticket="A5")  # orphan, handle 600 s
    f("ticket.completed", at(9, 20), ticket="A8")  # handle 1800 s
    f("ticket.issued", at(9, 20), ticket="A6")
    f("ticket.no_show", at(9, 25), ticket="A6")
    f("ticket.issued", at(9, 30), ticket="A2")
    f("window.closed", at(9, 30), window="W3")
    f("agent.state", at(9, 30), agent="a2", state="busy")
    f("agent.state", at(9, 10), agent="a2", state="paused")  # older: busy stays
    f("window.resumed", at(8, 30), window="W2")  # older: W2 stays paused
    f("opinion.resolved", at(9, 30), opinion="O3")
    f("opinion.resolved", at(9, 30), opinion="O4")  # never submitted
    f("ticket.called", at(9, 40), ticket="A2")
    f("ticket.issued", at(9, 45), ticket="A7")
    f("ticket.rated", at(9, 46), ticket="A7")  # a rating does not end the wait
    f("ticket.issued", at(9, 50), ticket="A3")
    f("call.queued", at(9, 50), call="C2")
    f("ticket.cancelled", at(9, 51), ticket="A3")
    f("call.answered", at(9, 51), call="C2", hold_s=60)
    f("ticket.issued", at(9, 55), ticket="A4")
    f("call.queued", at(9, 55), call="C3")
    f("call.abandoned", at(9, 56), call="C3")
    f("call.answered", at(9, 57), call="C4")  # answered, never queued
    f("ticket.started", at(9, 58), ticket="A4")
    f("call.queued", at(9, 58, 30), call="C5")
    f("call.queued", at(9, 59), call="C1")
    f("opinion.submitted", at(9, 59), opinion="O2")
    # Late ones (older than 1 h and before midnight) still update state.
    f("window.opened", at(10, day=-1), window="W5")
    f("opinion.submitted", at(9, day=-3), opinion="O1")
    f("opinion.submitted", at(10, day=-2), opinion="O5")  # exactly the SLA: not overdue
    assert eng.advance(at(10)) == []
    snap = eng.snapshot()
    assert snap["now"] == at(10)
    assert snap["halls"]["yuhua"]["now"] == {
        "waiting": 2,  # A1, A7
        "longest_wait_s": 3600.0,
        "serving": 1,  # A4
        "open_windows": 3,  # W1, W4, W5
        "paused_windows": 1,  # W2
        "window_open_rate": 1.0,  # 3 / 3 distinct windows opened today (W1-W3)
        "window_pressure": 2 / 3,
        "est_wait_s": 1200.0,  # (2 + 1) * mean(600, 1800) / 3
        "calls_waiting": 2,  # C5, C1
        "longest_call_wait_s": 90.0,
        "agents_available": 1,
        "agents_busy": 1,
        "agents_paused": 1,
        "opinions_open": 3,  # O1, O2, O5
        "opinions_overdue": 1,  # O1
    }
    assert snap["diagnostics"] == {
        "events_applied": 44,
        "duplicate_events": 0,
        "late_events": 3,
        "orphan_events": 2,
        "rejected_events": 0,
    }


def test_gauges_of_an_empty_configured_hall() -> None:
    eng = quiet(configured_windows={"hx": 4, "zero": 0})
    snap = eng.snapshot()
    assert list(snap["halls"]) == ["hx", "zero"]
    gauges = snap["halls"]["hx"]["now"]
    assert gauges["window_open_rate"] == 0.0
    assert gauges["est_wait_s"] == 600.0  # (0 + 1) * default_handle_s / 1
    assert gauges["longest_wait_s"] == 0
    assert snap["halls"]["zero"]["now"]["window_open_rate"] is None
    assert snap["halls"]["hx"]["staff"] == {}
    assert snap["halls"]["hx"]["today"]["throughput_per_h"] == 0.0
    Feed(eng, "hx")("window.opened", at(9), window="W1")
    assert eng.snapshot()["halls"]["hx"]["now"]["window_open_rate"] == 0.25


def test_window_open_rate_counts_windows_opened_since_midnight() -> None:
    eng = quiet()
    f = Feed(eng)
    f("window.opened", at(23, day=-1), window="W1")
    f("window.opened", at(23, 30, day=-1), window="W2")
    gauges = eng.snapshot()["halls"]["yuhua"]["now"]
    assert (gauges["open_windows"], gauges["window_open_rate"]) == (2, 1.0)
    eng.advance(at(0, 10))
    gauges = eng.snapshot()["halls"]["yuhua"]["now"]
    assert (gauges["open_windows"], gauges["window_open_rate"]) == (2, None)
    f("window.opened", at(0, 20), window="W1")
    f("window.opened", at(0, 21), window="W1")
    assert eng.snapshot()["halls"]["yuhua"]["now"]["window_open_rate"] == 2.0


def test_est_wait_uses_handles_of_the_last_hour_with_the_pane_rule() -> None:
    eng = quiet(default_handle_s=300)
    f = Feed(eng)
    f("ticket.started", at(9), ticket="A1")
    f("ticket.completed", at(9, 10), ticket="A1")  # 600 s, recorded at 9:10:00
    f("ticket.issued", at(9, 30), ticket="A2")
    eng.advance(at(10, 9, 59.999))
    assert eng.snapshot()["halls"]["yuhua"]["now"]["est_wait_s"] == 1200.0  # (1 + 1) * 600
    eng.advance(at(10, 10))  # pane of 9:10:00 is now out of the last 3600 panes
    assert eng.snapshot()["halls"]["yuhua"]["now"]["est_wait_s"] == 600.0  # (1 + 1) * 300


# ---------------------------------------------------------------- windowed figures


def windowed_scenario() -> ReferenceEngine:
    eng = quiet()
    f = Feed(eng)
    for k in (1, 2, 3):  # issued at 9:00:00.000: outside 1h at 10:00, inside today
        f("ticket.issued", at(9), ticket=f"H{k}")
    f("ticket.started", at(9, 20), ticket="H3", staff="s1")
    f("ticket.completed", at(9, 45), ticket="H3", staff="s1")  # 1500 s, at 15m's edge
    f("ticket.started", at(9, 40), ticket="H2", staff="s5")
    for k in range(1, 11):  # waits of 10..100 s, recorded in 15m only
        f("ticket.issued", at(9, 50), ticket=f"T{k}")
        f("ticket.called", at(9, 50, 10 * k), ticket=f"T{k}", staff="s4")
    for k, channel in enumerate(("kiosk", "wechat", "appointment", "web"), 1):
        f("ticket.issued", at(9, 56), ticket=f"I{k}", channel=channel)
    f("ticket.started", at(9, 56), ticket="H1", staff="s1")
    f("ticket.completed", at(9, 57), ticket="H1", staff="s1")  # 60 s
    f("ticket.completed", at(9, 58), ticket="H2", staff="s2")  # 1080 s, to s2
    f("ticket.called", at(9, 57), ticket="T1", staff="s4")  # a recall
    f("ticket.cancelled", at(9, 58), ticket="I4")
    f("ticket.no_show", at(9, 59), ticket="I3", staff="s3")
    for score, staff in ((5, "s1"), (5, "s1"), (1, "s2"), (2, "s2"), (3, "s2")):
        f("ticket.rated", at(9, 56), ticket="I1", score=score, staff=staff)
    for hold in (3, 25, 20):
        f("call.answered", at(9, 56), call=f"A{hold}", hold_s=hold)
    f("call.abandoned", at(9, 56), call="B1", hold_s=4.9)
    f("call.abandoned", at(9, 56), call="B2", hold_s=5)
    f("call.timeout", at(9, 56), call="B3", hold_s=30)
    f("call.completed", at(9, 57), call="A3", talk_s=100)
    f("call.completed", at(9, 57), call="A25", talk_s=200.0)
    f("call.rated", at(9, 58), call="A3", score=4)
    f("call.rated", at(9, 58), call="A25", score=5)
    f("opinion.submitted", at(9, 56), opinion="O1")
    f("opinion.submitted", at(9, 56), opinion="O2")
    f("opinion.resolved", at(9, 57), opinion="O1")
    eng.advance(at(10))
    return eng


def test_windowed_5m() -> None:
    row = windowed_scenario().snapshot()["halls"]["yuhua"]["5m"]
    assert row == {
        "issued": 4,
        "wechat_share": 0.5,
        "called_first": 0,
        "wait_mean_s": None,
        "wait_p50_s": None,
        "wait_p90_s": None,
        "wait_max_s": None,
        "served": 2,
        "throughput_per_h": 24.0,
        "handle_mean_s": 570.0,
        "handle_p90_s": 1080.0,
        "no_show": 1,
        "cancelled": 1,
        "no_show_rate": 1 / 3,
        "ratings": 5,
        "rating_mean": 3.2,
        "very_satisfied_share": 0.4,
        "dissatisfied_share": 0.4,
        "calls_answered": 3,
        "calls_abandoned": 1,
        "calls_short_abandoned": 1,
        "calls_timeout": 1,
        "calls_offered": 5,
        "answer_rate": 0.6,
        "service_level": 0.4,
        "asa_s": 16.0,
        "aht_s": 150.0,
        "call_ratings": 2,
        "call_rating_mean": 4.5,
        "opinions_submitted": 2,
        "opinions_resolved": 1,
        "alerts_fired": 0,
    }


def test_windowed_15m_1h_today() -> None:
    doc = windowed_scenario().snapshot()["halls"]["yuhua"]
    m15, h1, today = doc["15m"], doc["1h"], doc["today"]
    assert (m15["issued"], h1["issued"], today["issued"]) == (14, 14, 17)
    assert m15["wechat_share"] == 2 / 14
    assert (m15["called_first"], h1["called_first"]) == (10, 10)
    assert m15["wait_mean_s"] == 55.0
    assert (m15["wait_p50_s"], m15["wait_p90_s"], m15["wait_max_s"]) == (50.0, 90.0, 100.0)
    assert (m15["served"], h1["served"], today["served"]) == (2, 3, 3)
    assert m15["throughput_per_h"] == 8.0
    assert h1["throughput_per_h"] == 3.0
    assert today["throughput_per_h"] == 0.3  # 3 served in 10 h
    assert (m15["handle_mean_s"], m15["handle_p90_s"]) == (570.0, 1080.0)
    assert (h1["handle_mean_s"], h1["handle_p90_s"]) == (880.0, 1500.0)
    assert today == {**h1, "issued": 17, "wechat_share": 2 / 17, "throughput_per_h": 0.3}


def test_staff_rows() -> None:
    staff = windowed_scenario().snapshot()["halls"]["yuhua"]["staff"]
    assert set(staff) == {"s1", "s2", "s3", "s4", "s5"}
    assert set(staff["s1"]) == {"5m", "15m", "1h", "today"}
    assert staff["s1"]["5m"] == {
        "served": 1,
        "handle_mean_s": 60.0,
        "ratings": 2,
        "rating_mean": 5.0,
        "dissatisfied": 0,
        "no_show": 0,
    }
    assert staff["s1"]["1h"]["served"] == 2
    assert staff["s1"]["1h"]["handle_mean_s"] == 780.0
    assert staff["s2"]["5m"] == {
        "served": 1,
        "handle_mean_s": 1080.0,  # started by s5, completed by s2: attributed to s2
        "ratings": 3,
        "rating_mean": 2.0,
        "dissatisfied": 2,
        "no_show": 0,
    }
    assert staff["s3"]["today"]["no_show"] == 1
    empty = {
        "served": 0,
        "handle_mean_s": None,
        "ratings": 0,
        "rating_mean": None,
        "dissatisfied": 0,
        "no_show": 0,
    }
    assert staff["s4"]["today"] == empty  # appears only in calls
    assert staff["s5"]["5m"] == empty


def test_staff_from_window_opened_and_not_from_extras() -> None:
    eng = quiet()
    f = Feed(eng)
    f("window.opened", at(9), window="W1", staff="s9")
    f("ticket.issued", at(9), ticket="A1", staff="s8")  # extra field, ignored
    f("ticket.cancelled", at(9), ticket="A1", staff="s7")  # extra field, ignored
    assert set(eng.snapshot()["halls"]["yuhua"]["staff"]) == {"s9"}


def test_pane_boundaries() -> None:
    eng = quiet(horizons_s=(60,), pane_ms=10_000)
    f = Feed(eng)
    f("ticket.cancelled", at(9, 58, 59.999), ticket="A")  # pane p - 7: outside 1m
    f("ticket.cancelled", at(9, 59, 0), ticket="B")  # pane p - 6
    f("ticket.cancelled", at(9, 59, 9.999), ticket="C")  # pane p - 6
    f("ticket.cancelled", at(9, 59, 10), ticket="D")  # pane p - 5: inside
    eng.advance(at(10, 0, 9.999))  # pane p
    doc = eng.snapshot()["halls"]["yuhua"]
    assert set(doc) == {"now", "1m", "today", "staff"}
    assert doc["1m"]["cancelled"] == 1
    eng.advance(at(10, 0, 0))  # the clock never goes back
    assert eng.now == at(10, 0, 9.999)


def test_today_and_throughput_after_midnight() -> None:
    eng = quiet()
    f = Feed(eng)
    f("ticket.completed", at(23, 59, 59, day=-1), ticket="A")
    f("ticket.completed", at(0, 0, 0), ticket="B")
    doc = eng.snapshot()["halls"]["yuhua"]
    assert (doc["today"]["served"], doc["5m"]["served"]) == (1, 2)
    # max(now - midnight, pane_ms) = 1000 ms = 1/3600 h
    assert doc["today"]["throughput_per_h"] == pytest.approx(3600.0, rel=1e-12)
    eng.advance(at(0, 30))
    assert eng.snapshot()["halls"]["yuhua"]["today"]["throughput_per_h"] == 2.0


# ------------------------------------------------------------- late events, orphans


def test_late_events() -> None:
    eng = quiet()
    f = Feed(eng)
    f("window.opened", at(0, 30), window="W1")
    f("ticket.issued", at(23, 50, day=-1), ticket="A1")  # within 1h: not late
    eng.advance(at(1, 0))
    f("ticket.issued", at(23, 30, day=-1), ticket="A2")  # 90 min old, yesterday: late
    f("ticket.issued", at(0, 5), ticket="A3")  # 55 min old
    eng.advance(at(2, 0))
    f("ticket.issued", at(0, 1), ticket="A4")  # older than 1h but today: not late
    f("ticket.issued", at(23, 59, 59.999, day=-1), ticket="A5")  # late
    snap = eng.snapshot()
    doc = snap["halls"]["yuhua"]
    assert snap["diagnostics"]["late_events"] == 2
    assert doc["now"]["waiting"] == 5  # late issues still update state
    assert doc["now"]["longest_wait_s"] == 9000.0  # A2 at 23:30, now 02:00
    assert (doc["1h"]["issued"], doc["today"]["issued"]) == (0, 2)  # A3, A4
    assert snap["diagnostics"]["events_applied"] == 6


def test_durations_and_late_completions() -> None:
    eng = quiet()
    f = Feed(eng)
    eng.advance(at(2))
    # Both ends late: no wait recorded.
    f("ticket.issued", at(22, 50, day=-1), ticket="A1")
    f("ticket.called", at(23, day=-1), ticket="A1")
    # Late start, completion today: recorded when the completion (not late) arrives.
    f("ticket.started", at(23, day=-1), ticket="A2", staff="s1")
    f("ticket.completed", at(1, 30), ticket="A2", staff="s2")
    # Completion first, then a late start completes the duration: not recorded.
    f("ticket.completed", at(1, 40), ticket="A3")
    f("ticket.started", at(22, day=-1), ticket="A3")
    snap = eng.snapshot()
    doc = snap["halls"]["yuhua"]
    assert doc["today"]["wait_mean_s"] is None
    assert doc["today"]["called_first"] == 0
    assert doc["today"]["served"] == 2
    assert (doc["1h"]["handle_mean_s"], doc["today"]["handle_mean_s"]) == (9000.0, 9000.0)
    assert doc["staff"]["s2"]["1h"]["handle_mean_s"] == 9000.0
    assert doc["staff"]["s1"]["1h"]["handle_mean_s"] is None
    assert snap["diagnostics"]["late_events"] == 4
    assert snap["diagnostics"]["orphan_events"] == 4  # A2 and A3 were never issued


def test_negative_durations() -> None:
    eng = quiet()
    f = Feed(eng)
    f("ticket.issued", at(9, 10), ticket="A1")
    f("ticket.called", at(9, 5), ticket="A1")  # wait -300 s
    f("ticket.completed", at(9, 20), ticket="A1")
    f("ticket.started", at(9, 30), ticket="A1")  # handle -600 s
    f("ticket.started", at(9, 0), ticket="A1")  # not the first start: ignored
    eng.advance(at(23, day=0))
    f("ticket.called", at(22, day=-1), ticket="B1")  # late; orphan, no wait yet
    f("ticket.issued", at(22, 30, day=-1), ticket="B1")  # late, completes a negative wait
    snap = eng.snapshot()
    doc = snap["halls"]["yuhua"]
    assert snap["diagnostics"]["rejected_events"] == 3  # the late one counts too
    assert snap["diagnostics"]["events_applied"] == 7
    assert doc["today"]["served"] == 1  # the event that produced it still applies
    assert doc["today"]["wait_mean_s"] is None
    assert doc["today"]["handle_mean_s"] is None
    assert doc["today"]["called_first"] == 1
    assert (doc["now"]["serving"], doc["now"]["waiting"]) == (0, 0)
    # A zero duration is a duration.
    f("ticket.started", at(23), ticket="Z")
    f("ticket.completed", at(23), ticket="Z")
    assert eng.snapshot()["halls"]["yuhua"]["today"]["handle_mean_s"] == 0.0


def test_orphans() -> None:
    eng = quiet()
    f = Feed(eng)
    f("ticket.called", at(9, 10), ticket="A1")
    f("ticket.called", at(9, 11), ticket="A1")  # recall: still an orphan event
    f("ticket.started", at(9, 12), ticket="A2")
    f("ticket.completed", at(9, 14), ticket="A2")
    f("ticket.rated", at(9, 14, 30), ticket="A2", score=1)
    f("ticket.no_show", at(9, 14, 30), ticket="A3")
    f("ticket.cancelled", at(9, 14, 30), ticket="A4")
    doc = eng.snapshot()["halls"]["yuhua"]
    assert eng.snapshot()["diagnostics"]["orphan_events"] == 7
    assert doc["5m"]["called_first"] == 1
    assert (doc["5m"]["served"], doc["5m"]["ratings"], doc["5m"]["no_show"]) == (1, 1, 1)
    assert doc["5m"]["cancelled"] == 1
    assert doc["5m"]["handle_mean_s"] == 120.0
    assert doc["5m"]["wait_mean_s"] is None
    # The issue arrives: A1's events stop being orphans and its wait is recorded
    # in the pane of its later end (the call at 9:10), not of the issue's arrival.
    f("ticket.issued", at(9, 5), ticket="A1")
    snap = eng.snapshot()
    assert snap["diagnostics"]["orphan_events"] == 5
    assert snap["halls"]["yuhua"]["5m"]["wait_mean_s"] == 300.0
    assert snap["halls"]["yuhua"]["now"]["waiting"] == 0
    eng.advance(at(9, 15, 0.5))  # 9:10:00 is now 300 panes back: out of 5m
    assert eng.snapshot()["halls"]["yuhua"]["5m"]["wait_mean_s"] is None
    assert eng.snapshot()["halls"]["yuhua"]["15m"]["wait_mean_s"] == 300.0


def test_ticket_numbers_restart_every_day() -> None:
    eng = quiet()
    f = Feed(eng)
    f("ticket.issued", at(10, day=-1), ticket="A1")  # never called
    f("ticket.issued", at(11, day=-1), ticket="A2")
    f("ticket.started", at(11, 5, day=-1), ticket="A2")  # never completed
    f("ticket.issued", at(11, 30, day=-1), ticket="A1")  # same day: counts, no state change
    doc = eng.snapshot()["halls"]["yuhua"]
    assert (doc["today"]["issued"], doc["now"]["waiting"], doc["now"]["serving"]) == (3, 1, 1)
    assert doc["now"]["longest_wait_s"] == 5400.0  # from the first issue at 10:00
    f("ticket.issued", at(8), ticket="A1")
    f("ticket.issued", at(8), ticket="A2")
    doc = eng.snapshot()["halls"]["yuhua"]
    assert (doc["now"]["waiting"], doc["now"]["serving"]) == (2, 0)
    assert doc["now"]["longest_wait_s"] == 0.0
    f("ticket.called", at(8, 1), ticket="A1")
    assert eng.snapshot()["halls"]["yuhua"]["today"]["wait_mean_s"] == 60.0
    assert eng.snapshot()["halls"]["yuhua"]["today"]["called_first"] == 1
    # A late issue from an earlier day changes nothing.
    f("ticket.issued", at(9, day=-1), ticket="A2")
    doc = eng.snapshot()["halls"]["yuhua"]
    assert (doc["now"]["waiting"], doc["now"]["longest_wait_s"]) == (1, 60.0)
    assert eng.snapshot()["diagnostics"]["orphan_events"] == 0


def test_issue_attaches_to_an_orphan_of_an_earlier_day() -> None:
    eng = quiet()
    f = Feed(eng)
    f("ticket.called", at(23, 59, day=-1), ticket="A1")
    f("ticket.issued", at(0, 1), ticket="A1")  # attaches, whatever the day; wait -120 s
    snap = eng.snapshot()
    assert snap["diagnostics"]["orphan_events"] == 0
    assert snap["diagnostics"]["rejected_events"] == 1
    assert snap["halls"]["yuhua"]["now"]["waiting"] == 0


def test_multiple_halls_are_independent() -> None:
    eng = quiet(configured_windows={"quiet": 2})
    Feed(eng, "a")("ticket.issued", at(9), ticket="A1")
    Feed(eng, "b")("ticket.called", at(9), ticket="A1")
    snap = eng.snapshot()
    assert list(snap["halls"]) == ["quiet", "a", "b"]
    assert snap["halls"]["a"]["now"]["waiting"] == 1
    assert snap["halls"]["b"]["5m"]["called_first"] == 1
    assert snap["diagnostics"]["orphan_events"] == 1


# ------------------------------------------------------------------------- alerts


def change(  # noqa: PLR0917
    hall: str, alert: str, state: str, value: Any, threshold: float, ts: int
) -> dict[str, Any]:
    return {
        "hall": hall,
        "alert": alert,
        "state": state,
        "value": value,
        "threshold": threshold,
        "ts": ts,
    }


def test_default_rules() -> None:
    names = [r.name for r in DEFAULT_RULES]
    assert names == [
        "wait_timeout",
        "dissatisfaction",
        "congestion",
        "low_answer_rate",
        "call_queue",
        "opinion_overdue",
    ]
    assert ReferenceEngine().rules == list(DEFAULT_RULES)


def test_wait_timeout_fires_and_resolves() -> None:
    eng = ReferenceEngine()
    f = Feed(eng)
    f("ticket.issued", at(9), ticket="A1")
    f("ticket.issued", at(9, 10), ticket="A2")
    assert eng.advance(at(9, 30)) == []  # 1800 is not > 1800
    assert eng.advance(at(9, 30, 0.001)) == [
        change("yuhua", "wait_timeout", "firing", 1800.001, 1800, at(9, 30, 0.001))
    ]
    assert eng.advance(at(9, 40)) == []
    f("ticket.called", at(9, 40), ticket="A1")  # now A2 waits 1800 s: hysteresis holds
    assert eng.drain_alerts() == []
    f("ticket.called", at(9, 41), ticket="A2")
    assert eng.drain_alerts() == [change("yuhua", "wait_timeout", "ok", 0.0, 1800, at(9, 41))]
    doc = eng.snapshot()["halls"]["yuhua"]
    assert (doc["5m"]["alerts_fired"], doc["15m"]["alerts_fired"]) == (0, 1)


def test_hysteresis_for_greater_rules() -> None:
    rule = AlertRule("queue", "waiting", "now", ">=", 10)
    eng = ReferenceEngine(alert_rules=[rule])
    f = Feed(eng)
    for k in range(10):
        f("ticket.issued", at(9, 0, k), ticket=f"A{k}")
    assert eng.drain_alerts() == [change("yuhua", "queue", "firing", 10, 10, at(9, 0, 9))]
    f("ticket.cancelled", at(9, 1), ticket="A0")  # 9 is not < 9.0: still firing
    f("ticket.issued", at(9, 2), ticket="A0")  # same day: no state change
    assert eng.drain_alerts() == []
    f("ticket.cancelled", at(9, 3), ticket="A1")  # 8 < 9.0: resolved
    assert eng.drain_alerts() == [change("yuhua", "queue", "ok", 8, 10, at(9, 3))]


def test_hysteresis_for_less_rules() -> None:
    rule = AlertRule("few_windows", "open_windows", "now", "<", 2)
    eng = ReferenceEngine(alert_rules=[rule], configured_windows={"yuhua": 4})
    # The configured hall is evaluated on advance: 0 open windows < 2.
    assert eng.advance(at(8)) == [change("yuhua", "few_windows", "firing", 0, 2, at(8))]
    f = Feed(eng)
    f("window.opened", at(9), window="W1")
    f("window.opened", at(9), window="W2")  # 2 is not > 2.2: still firing
    assert eng.drain_alerts() == []
    f("window.opened", at(9), window="W3")
    assert eng.drain_alerts() == [change("yuhua", "few_windows", "ok", 3, 2, at(9))]


def test_pending_then_firing_then_ok() -> None:
    eng = ReferenceEngine()  # congestion: window_pressure >= 8 for 120 s
    f = Feed(eng)
    for k in range(8):
        f("ticket.issued", at(9, 0, k), ticket=f"A{k}")
    assert eng.drain_alerts() == [change("yuhua", "congestion", "pending", 8.0, 8, at(9, 0, 7))]
    assert eng.advance(at(9, 2, 6.999)) == []
    assert eng.advance(at(9, 2, 7)) == [
        change("yuhua", "congestion", "firing", 8.0, 8, at(9, 2, 7))
    ]
    f("window.opened", at(9, 3), window="W1")  # 8 / 1 = 8: still firing
    f("window.opened", at(9, 3), window="W2")  # 8 / 2 = 4 < 7.2
    assert eng.drain_alerts() == [change("yuhua", "congestion", "ok", 4.0, 8, at(9, 3))]


def test_pending_back_to_ok() -> None:
    eng = ReferenceEngine()
    f = Feed(eng)
    for k in range(8):
        f("ticket.issued", at(9, 0, k), ticket=f"A{k}")
    f("ticket.called", at(9, 1), ticket="A0")  # 7 < 8 while pending: back to ok
    assert eng.drain_alerts() == [
        change("yuhua", "congestion", "pending", 8.0, 8, at(9, 0, 7)),
        change("yuhua", "congestion", "ok", 7.0, 8, at(9, 1)),
    ]
    eng.advance(at(9, 10))
    assert eng.snapshot()["halls"]["yuhua"]["today"]["alerts_fired"] == 0


def test_call_queue_pending_since_is_kept() -> None:
    eng = ReferenceEngine()
    f = Feed(eng)
    for k in range(10):
        f("call.queued", at(9, 0, k), call=f"C{k}")
    f("call.queued", at(9, 0, 30), call="C10")
    f("call.answered", at(9, 0, 59), call="C10")
    assert eng.drain_alerts() == [change("yuhua", "call_queue", "pending", 10, 10, at(9, 0, 9))]
    f("call.queued", at(9, 1, 9), call="C11")
    assert eng.drain_alerts() == [change("yuhua", "call_queue", "firing", 11, 10, at(9, 1, 9))]


def test_guard_and_null_values() -> None:
    eng = ReferenceEngine()  # dissatisfaction: share(15m) >= 0.2 while ratings(15m) >= 5
    f = Feed(eng)
    for k in range(4):
        f("ticket.rated", at(9, 0, k), ticket=f"A{k}", score=1)
    assert eng.drain_alerts() == []  # only 4 ratings: the guard fails
    f("ticket.rated", at(9, 1), ticket="A4", score=5)
    assert eng.drain_alerts() == [change("yuhua", "dissatisfaction", "firing", 0.8, 0.2, at(9, 1))]
    # The first ratings leave the 15 minutes: the guard fails, the alert resolves.
    assert eng.advance(at(9, 15, 0)) == [
        change("yuhua", "dissatisfaction", "ok", 0.75, 0.2, at(9, 15, 0))
    ]
    rule = AlertRule("low_rating", "rating_mean", "5m", "<", 3)
    eng = ReferenceEngine(alert_rules=[rule])
    f = Feed(eng)
    f("ticket.rated", at(9), ticket="A", score=2)
    assert eng.drain_alerts() == [change("yuhua", "low_rating", "firing", 2.0, 3, at(9))]
    assert eng.advance(at(9, 5)) == [change("yuhua", "low_rating", "ok", None, 3, at(9, 5))]


def test_null_value_never_holds() -> None:
    rule = AlertRule("no_rate", "window_open_rate", "now", "<", 0.5)
    eng = ReferenceEngine(alert_rules=[rule])
    f = Feed(eng)
    f("ticket.issued", at(9), ticket="A")  # no windows: rate is null
    assert eng.drain_alerts() == []
    f("window.opened", at(9), window="W1")
    f("window.closed", at(9, 1), window="W1")
    assert eng.drain_alerts() == [change("yuhua", "no_rate", "firing", 0.0, 0.5, at(9, 1))]


def test_low_answer_rate() -> None:
    eng = ReferenceEngine()
    f = Feed(eng)
    for k in range(7):
        f("call.answered", at(9, 0, k), call=f"C{k}")
    for k in range(3):
        f("call.timeout", at(9, 0, 10 + k), call=f"T{k}")
    # 7 / 10 = 0.7 < 0.8 with 10 offered
    assert eng.drain_alerts() == [
        change("yuhua", "low_answer_rate", "firing", 0.7, 0.8, at(9, 0, 12))
    ]
    f("call.answered", at(9, 0, 13), call="X1")  # 8/11 = 0.727: < 0.88, firing
    f("call.abandoned", at(9, 0, 14), call="X2", hold_s=4)  # short: not offered
    for k in range(10):
        f("call.answered", at(9, 0, 20 + k), call=f"Y{k}")  # 18/21 = 0.857 < 0.88
    assert eng.drain_alerts() == []
    f("call.answered", at(9, 0, 31), call="Z1")  # 19/22 = 0.8636
    f("call.answered", at(9, 0, 32), call="Z2")  # 20/23 = 0.8696
    f("call.answered", at(9, 0, 33), call="Z3")  # 21/24 = 0.875
    f("call.answered", at(9, 0, 34), call="Z4")  # 22/25 = 0.88: not > 0.88
    assert eng.drain_alerts() == []
    f("call.answered", at(9, 0, 35), call="Z5")  # 23/26 = 0.8846
    assert eng.drain_alerts() == [
        change("yuhua", "low_answer_rate", "ok", 23 / 26, 0.8, at(9, 0, 35))
    ]


def test_opinion_overdue() -> None:
    eng = ReferenceEngine(opinion_sla_s=3600)
    f = Feed(eng)
    f("opinion.submitted", at(9), opinion="O1")
    assert eng.advance(at(10)) == []
    assert eng.advance(at(10, 0, 0.001)) == [
        change("yuhua", "opinion_overdue", "firing", 1, 1, at(10, 0, 0.001))
    ]
    f("opinion.resolved", at(10, 1), opinion="O1")
    assert eng.drain_alerts() == [change("yuhua", "opinion_overdue", "ok", 0, 1, at(10, 1))]


def test_when_rules_are_evaluated() -> None:
    eng = ReferenceEngine()
    a, b = Feed(eng, "a"), Feed(eng, "b")
    a("ticket.issued", at(9, 0, 0.3), ticket="A1")
    b("ticket.issued", at(9, 30, 0), ticket="B1")  # new pane: a is evaluated (1799.7 s)
    b("ticket.issued", at(9, 30, 0.5), ticket="B2")  # same pane: a is not evaluated
    assert eng.drain_alerts() == []
    a("ticket.cancelled", at(9, day=-1), ticket="Z")  # late, clock unmoved: a evaluated
    assert eng.drain_alerts() == [
        change("a", "wait_timeout", "firing", 1800.2, 1800, at(9, 30, 0.5))
    ]
    a("ticket.called", at(9, 30, 0.5), ticket="A1")
    a("ticket.issued", at(9, 30, 0.5), ticket="A2")
    assert eng.drain_alerts() == [change("a", "wait_timeout", "ok", 0.0, 1800, at(9, 30, 0.5))]
    assert eng.advance(at(10, 0, 0.4)) == [
        change("b", "wait_timeout", "firing", 1800.4, 1800, at(10, 0, 0.4))
    ]
    b("ticket.cancelled", at(10, 0, 0.6), ticket="X")  # same pane: a (1800.1 s) unevaluated
    assert eng.drain_alerts() == []
    b("ticket.cancelled", at(10, 0, 1), ticket="Y")  # new pane: every hall is evaluated
    assert eng.drain_alerts() == [change("a", "wait_timeout", "firing", 1800.5, 1800, at(10, 0, 1))]


def test_advance_returns_and_drains_changes_from_pushes() -> None:
    eng = ReferenceEngine()
    f = Feed(eng)
    f("opinion.submitted", at(9, day=-3), opinion="O1")
    f("opinion.submitted", at(9), opinion="O2")  # O1 is now 3 days old
    assert eng.advance(at(9)) == [change("yuhua", "opinion_overdue", "firing", 1, 1, at(9))]
    assert eng.advance(at(9)) == []
    assert eng.drain_alerts() == []
    doc = eng.snapshot()["halls"]["yuhua"]
    assert (doc["5m"]["alerts_fired"], doc["today"]["alerts_fired"]) == (1, 1)


def test_rule_on_a_horizon_not_in_the_output() -> None:
    rule = AlertRule("busy_day", "issued", "2h", ">=", 2, 0, ("served", "30m", 0))
    eng = ReferenceEngine(horizons_s=(60,), alert_rules=[rule])
    f = Feed(eng)
    f("ticket.issued", at(8), ticket="A1")
    f("ticket.issued", at(9, 30), ticket="A2")
    assert eng.drain_alerts() == [change("yuhua", "busy_day", "firing", 2, 2, at(9, 30))]
    assert set(eng.snapshot()["halls"]["yuhua"]) == {"now", "1m", "today", "staff"}
    # Only the configured horizons count for lateness: an event 90 min old and before
    # midnight is late, though the rule's 2h horizon spans it; it adds to no figure.
    eng.advance(at(0, 30, day=1))
    f("ticket.issued", at(23, 1), ticket="B")
    assert eng.snapshot()["diagnostics"]["late_events"] == 1
    assert eng.row("yuhua", "2h")["issued"] == 0


# ---------------------------------------------------------------- compare helpers


def test_compare_reports_paths_and_tolerances() -> None:
    from reference.compare import assert_alerts_equal, assert_snapshots_equal, diff

    expected = {"halls": {"yuhua": {"15m": {"wait_p90_s": 500.0, "wait_mean_s": 10.0, "n": 3}}}}
    ok = {"halls": {"yuhua": {"15m": {"wait_p90_s": 504.9, "wait_mean_s": 10.0 + 1e-12, "n": 3}}}}
    assert_snapshots_equal(ok, expected)
    assert diff({"wait_p90_s": 50.0}, {"wait_p90_s": 50.9}) == []  # 1 s floor
    bad = {"halls": {"yuhua": {"15m": {"wait_p90_s": 506.0, "wait_mean_s": None, "x": 1}}}}
    assert diff(bad, expected) == [
        "halls.yuhua.15m.wait_p90_s: 506.0 != 500.0",
        "halls.yuhua.15m.wait_mean_s: None != 10.0",
        "halls.yuhua.15m.n: missing (expected 3)",
        "halls.yuhua.15m.x: unexpected (actual 1)",
    ]
    with pytest.raises(AssertionError, match=r"halls\.yuhua\.15m\.wait_p90_s"):
        assert_snapshots_equal(bad, expected)
    a = [change("a", "r", "firing", 1, 1, 5), change("b", "r", "firing", 1, 1, 5)]
    assert_alerts_equal(a, list(reversed(a)))  # the order between halls is free
    with pytest.raises(AssertionError, match="ts goes back"):
        assert_alerts_equal([a[0], {**a[1], "ts": 4}], [a[0], {**a[1], "ts": 4}])
