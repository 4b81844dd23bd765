"""Tests of hallkpi.core.sim.simulate: contract validity, determinism, realism, faults, CLI."""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import gzip
import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hallkpi.core.errors import CommandError
from hallkpi.core.sim import cli as sim_cli
from hallkpi.core.sim import simulate as sim
from hypothesis import given, settings
from hypothesis import strategies as st

Event = dict[str, Any]
ZONE = ZoneInfo("Asia/Shanghai")
DAY = "2026-11-27"

# ---------------------------------------------------------------- an independent validator
# Written from EVENTS.md and docs/SEMANTICS.md "Validation" only.
HALL_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
TS_MAX = 253_402_300_799_999
STR, SCORE, SECONDS = "str", "score", "seconds"
TICKET_CHANNELS = {"kiosk", "wechat", "appointment", "web", "other"}
AGENT_STATES = {"available", "busy", "paused", "offline"}
_AT = {"ticket": STR, "window": STR, "staff": STR}
SCHEMA: dict[str, dict[str, Any]] = {
    "ticket.issued": {"ticket": STR, "service": STR, "channel": TICKET_CHANNELS},
    "ticket.called": _AT,
    "ticket.started": _AT,
    "ticket.completed": _AT,
    "ticket.no_show": _AT,
    "ticket.cancelled": {"ticket": STR},
    "ticket.rated": {**_AT, "score": SCORE},
    "window.opened": {"window": STR, "staff": STR},
    "window.paused": {"window": STR},
    "window.resumed": {"window": STR},
    "window.closed": {"window": STR},
    "opinion.submitted": {"opinion": STR, "channel": STR},
    "opinion.resolved": {"opinion": STR},
    "call.queued": {"call": STR, "queue": STR},
    "call.answered": {"call": STR, "queue": STR, "agent": STR, "hold_s": SECONDS},
    "call.abandoned": {"call": STR, "queue": STR, "hold_s": SECONDS},
    "call.timeout": {"call": STR, "queue": STR, "hold_s": SECONDS},
    "call.completed": {"call": STR, "queue": STR, "agent": STR, "talk_s": SECONDS},
    "call.rated": {"call": STR, "queue": STR, "agent": STR, "score": SCORE},
    "agent.state": {"agent": STR, "queue": STR, "state": AGENT_STATES},
}


def _bad_string(value: object) -> bool:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def problem(event: object) -> str | None:
    """Why ``event`` is invalid per EVENTS.md, or None when it is valid."""
    if not isinstance(event, dict):
        return "not an object"
    for name in ("id", "type", "ts", "hall"):
        if name not in event:
            return f"missing {name}"
    if _bad_string(event["id"]):
        return "bad id"
    if event["type"] not in SCHEMA:
        return "unknown type"
    ts = event["ts"]
    if type(ts) is not int or not 0 <= ts <= TS_MAX:
        return "bad ts"
    hall = event["hall"]
    if not isinstance(hall, str) or not HALL_RE.fullmatch(hall):
        return "bad hall"
    for name, kind in SCHEMA[event["type"]].items():
        if name not in event:
            return f"missing {name}"
        value = event[name]
        if kind == STR:
            bad = _bad_string(value)
        elif kind == SCORE:
            bad = type(value) is not int or not 1 <= value <= 5
        elif kind == SECONDS:
            bad = type(value) not in (int, float) or not math.isfinite(value) or value < 0
        else:
            bad = value not in kind
        if bad:
            return f"bad {name}"
    return None


def local_hour(ts: int) -> float:
    t = dt.datetime.fromtimestamp(ts / 1000, ZONE)
    return t.hour + t.minute / 60 + t.second / 3600


# Window event type -> (states it may come from, state it leads to).
WINDOW_MOVES = {
    "window.opened": ({"closed"}, "open"),
    "window.paused": ({"open"}, "paused"),
    "window.resumed": ({"paused"}, "open"),
    "window.closed": ({"open", "paused"}, "closed"),
}


def check_consistency(events: Sequence[Event]) -> None:
    """The stories the events tell hold together, per hall (clean mode only)."""
    tickets: dict[tuple[str, str, str], list[Event]] = collections.defaultdict(list)
    calls: dict[str, list[Event]] = collections.defaultdict(list)
    windows: dict[tuple[str, str], tuple[str, str]] = {}  # -> (state, staff)
    serving: dict[tuple[str, str], str] = {}  # window -> ticket at it
    agents: dict[tuple[str, str], str] = {}  # -> last state
    on_call: dict[tuple[str, str], str] = {}
    opinions: dict[str, int] = {}
    for e in events:
        etype, hall = e["type"], e["hall"]
        if etype.startswith("ticket."):
            tickets[hall, e["id"].split("-")[1], e["ticket"]].append(e)  # numbers restart daily
        if etype.startswith("call."):
            calls[e["call"]].append(e)
        if etype.startswith("window."):
            key = (hall, e["window"])
            state, staff = windows.get(key, ("closed", ""))
            before, after = WINDOW_MOVES[etype]
            assert state in before, e
            assert key not in serving, f"window changed while serving: {e}"
            windows[key] = (after, e.get("staff", staff))
        elif etype in ("ticket.called", "ticket.started", "ticket.completed", "ticket.no_show"):
            key = (hall, e["window"])
            assert windows.get(key) == ("open", e["staff"]), f"window not open for {e}"
            current = serving.setdefault(key, e["ticket"])
            assert current == e["ticket"], f"window {key} busy with {current}: {e}"
            if etype in ("ticket.completed", "ticket.no_show"):
                del serving[key]
        elif etype == "agent.state":
            agents[hall, e["agent"]] = e["state"]
        elif etype == "call.answered":
            key = (hall, e["agent"])
            assert agents.get(key) in ("available", "busy"), e
            assert key not in on_call, e
            on_call[key] = e["call"]
        elif etype == "call.completed":
            assert on_call.pop((hall, e["agent"])) == e["call"]
        elif etype == "opinion.submitted":
            assert e["opinion"] not in opinions
            opinions[e["opinion"]] = e["ts"]
        elif etype == "opinion.resolved":
            assert opinions.pop(e["opinion"]) < e["ts"]

    for ticket, story in tickets.items():
        types = [e["type"] for e in story]
        assert types[0] == "ticket.issued", (ticket, types)
        assert types.count("ticket.issued") == 1, (ticket, types)
        rest = [t for t in types[1:] if t != "ticket.called"]
        assert rest in (
            [],
            ["ticket.cancelled"],
            ["ticket.no_show"],
            ["ticket.started", "ticket.completed"],
            ["ticket.started", "ticket.completed", "ticket.rated"],
        ), (ticket, types)
        assert ("ticket.called" in types) != (rest == ["ticket.cancelled"]), (ticket, types)
        stamps = [e["ts"] for e in story]
        assert stamps == sorted(stamps), ticket
        at = {(e["window"], e["staff"]) for e in story if "window" in e}
        assert len(at) <= 1, (ticket, at)  # one window, one clerk per ticket

    for number, story in calls.items():
        types = [e["type"] for e in story]
        assert types[0] == "call.queued", (number, types)
        assert types[1:] in (
            ["call.abandoned"],
            ["call.timeout"],
            ["call.answered", "call.completed"],
            ["call.answered", "call.completed", "call.rated"],
        ), (number, types)
        queued, end = story[0]["ts"], story[1]
        assert end["hold_s"] == pytest.approx((end["ts"] - queued) / 1000, abs=1e-6)
        if end["type"] == "call.answered":
            done = story[2]
            assert done["talk_s"] == pytest.approx((done["ts"] - end["ts"]) / 1000, abs=1e-6)
            assert {e["agent"] for e in story[1:]} == {end["agent"]}
        assert len({e["queue"] for e in story}) == 1


def check_basics(events: Sequence[Event]) -> None:
    problems = [(problem(e), e) for e in events if problem(e) is not None]
    assert not problems, problems[:5]
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def day() -> list[Event]:
    return sim.simulate(halls=6, date=DAY, seed=7)


@pytest.fixture(scope="module")
def adversarial_day() -> list[Event]:
    return sim.simulate(halls=6, date=DAY, seed=7, adversarial=True)


def by_type(events: Iterable[Event]) -> collections.Counter[str]:
    return collections.Counter(e["type"] for e in events)


# ---------------------------------------------------------------- determinism and contract


def test_same_seed_same_output() -> None:
    a = sim.simulate(halls=2, tickets_per_hall=300, seed=3)
    b = sim.simulate(halls=2, tickets_per_hall=300, seed=3)
    assert a == b
    assert sim.simulate_lines(halls=2, tickets_per_hall=300, seed=3) == b"".join(
        json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in a
    )


def test_different_seeds_differ() -> None:
    a = sim.simulate(halls=2, tickets_per_hall=300, seed=1)
    b = sim.simulate(halls=2, tickets_per_hall=300, seed=2)
    assert a != b
    assert [e["ts"] for e in a[:50]] != [e["ts"] for e in b[:50]]


def test_iter_simulate_matches_simulate() -> None:
    kwargs: dict[str, Any] = {"halls": 3, "tickets_per_hall": 200, "seed": 5, "days": 2}
    assert list(sim.iter_simulate(**kwargs)) == sim.simulate(**kwargs)
    kwargs["adversarial"] = True
    assert list(sim.iter_simulate(**kwargs)) == sim.simulate(**kwargs)


def test_default_day_is_valid_sorted_unique(day: list[Event]) -> None:
    check_basics(day)
    counts = by_type(day)
    assert set(counts) == set(SCHEMA), set(SCHEMA) - set(counts)
    assert all(re.fullmatch(r"[a-z]+-20261127-\d{6}", e["id"]) for e in day)


def test_default_day_is_consistent(day: list[Event]) -> None:
    check_consistency(day)


def test_hall_names() -> None:
    names = [sim.hall_name(i) for i in range(100)]
    assert names[:6] == ["yuhua", "gulou", "jianye", "qinhuai", "xuanwu", "qixia"]
    assert len(set(names)) == 100
    assert all(HALL_RE.fullmatch(n) for n in names)
    assert {e["hall"] for e in sim.simulate(halls=3, tickets_per_hall=50)} == set(names[:3])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"halls": 0},
        {"days": 0},
        {"tickets_per_hall": -1},
        {"date": "2026-13-01"},
        {"date": "yesterday"},
        {"date": "1969-12-31"},
        {"date": "9998-12-31", "days": 2},
        {"timezone": "Mars/Olympus_Mons"},
    ],
)
def test_bad_arguments_raise_at_once(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        sim.iter_simulate(**kwargs)


def test_date_object_and_zero_tickets() -> None:
    events = sim.simulate(halls=1, date=dt.date(2026, 11, 27), tickets_per_hall=0)
    check_basics(events)
    assert by_type(events)["ticket.issued"] == 0
    assert sim.simulate(halls=1, date=dt.date(2026, 11, 27), tickets_per_hall=0) == events


# ---------------------------------------------------------------- realism


def test_two_peaks(day: list[Event]) -> None:
    hours = collections.Counter(
        int(local_hour(e["ts"])) for e in day if e["type"] == "ticket.issued"
    )
    lunch = hours[12]
    assert hours[9] + hours[10] > 3 * lunch
    assert hours[14] + hours[15] > 3 * lunch
    assert hours[8] + hours[17] < hours[10]


def test_opening_hours(day: list[Event]) -> None:
    hall_events = [e for e in day if e["type"].split(".")[0] in ("ticket", "window")]
    hours = [local_hour(e["ts"]) for e in hall_events]
    assert min(hours) >= 8.0
    assert max(hours) <= 18.25
    issued = [local_hour(e["ts"]) for e in day if e["type"] == "ticket.issued"]
    assert min(issued) >= 8.5
    assert max(issued) <= 17.0
    assert sum(h >= 17.5 for h in hours) / len(hours) < 0.02
    assert min(local_hour(e["ts"]) for e in day) >= 8.0  # calls too
    assert max(local_hour(e["ts"]) for e in day) <= 18.25


def test_tickets_per_hall(day: list[Event]) -> None:
    per_hall = collections.Counter(e["hall"] for e in day if e["type"] == "ticket.issued")
    assert len(per_hall) == 6
    assert all(0.7 * 2000 <= n <= 1.3 * 2000 for n in per_hall.values()), per_hall


def test_service_flow(day: list[Event]) -> None:
    first: dict[tuple[str, str], dict[str, int]] = collections.defaultdict(dict)
    for e in day:
        if e["type"].startswith("ticket."):
            first[e["hall"], e["ticket"]].setdefault(e["type"], e["ts"])
    waits = []
    handles = []
    for story in first.values():
        if "ticket.completed" in story:
            assert story["ticket.issued"] <= story["ticket.called"] <= story["ticket.started"]
            assert story["ticket.started"] < story["ticket.completed"]
            handles.append((story["ticket.completed"] - story["ticket.started"]) / 1000)
        if "ticket.called" in story:
            waits.append((story["ticket.called"] - story["ticket.issued"]) / 1000)
    assert min(waits) >= 0
    assert 180 <= sum(waits) / len(waits) <= 1800  # a realistic mean wait: 3-30 min
    assert 180 <= sum(handles) / len(handles) <= 900  # mean handle: 3-15 min


def test_rates(day: list[Event]) -> None:
    counts = by_type(day)
    called = len({(e["hall"], e["ticket"]) for e in day if e["type"] == "ticket.called"})
    assert 0.02 <= counts["ticket.no_show"] / called <= 0.06
    assert 0.005 <= counts["ticket.cancelled"] / counts["ticket.issued"] <= 0.05
    assert 0.45 <= counts["ticket.rated"] / counts["ticket.completed"] <= 0.65
    recalls = counts["ticket.called"] - called
    assert 0.02 <= recalls / called <= 0.15
    channels = collections.Counter(e["channel"] for e in day if e["type"] == "ticket.issued")
    assert set(channels) == TICKET_CHANNELS
    share = (channels["wechat"] + channels["appointment"]) / counts["ticket.issued"]
    assert 0.30 <= share <= 0.50


def test_ratings_mostly_good_worse_after_long_waits(day: list[Event]) -> None:
    issued: dict[tuple[str, str], int] = {}
    called: dict[tuple[str, str], int] = {}
    short: list[int] = []
    long_: list[int] = []
    for e in day:
        key = (e["hall"], e.get("ticket", ""))
        if e["type"] == "ticket.issued":
            issued[key] = e["ts"]
        elif e["type"] == "ticket.called":
            called.setdefault(key, e["ts"])
        elif e["type"] == "ticket.rated":
            wait = (called[key] - issued[key]) / 1000
            (long_ if wait > 1800 else short).append(e["score"])
    scores = collections.Counter(short + long_)
    n = sum(scores.values())
    assert (scores[4] + scores[5]) / n >= 0.75
    assert 0.01 <= (scores[1] + scores[2]) / n <= 0.15
    assert len(long_) >= 20
    dissatisfied = [sum(s <= 2 for s in group) / len(group) for group in (short, long_)]
    assert dissatisfied[1] > dissatisfied[0]


def test_windows_open_pause_close(day: list[Event]) -> None:
    counts = by_type(day)
    assert counts["window.opened"] == counts["window.closed"]
    assert 0 < counts["window.resumed"] <= counts["window.paused"]
    for hall in {e["hall"] for e in day}:
        opened = [
            local_hour(e["ts"]) for e in day if e["hall"] == hall and e["type"] == "window.opened"
        ]
        assert min(opened) < 8.5  # staff log in before the doors open
        paused = [
            local_hour(e["ts"]) for e in day if e["hall"] == hall and e["type"] == "window.paused"
        ]
        assert any(11.4 <= h <= 13.0 for h in paused)  # lunch


def test_phone_lines(day: list[Event]) -> None:
    counts = by_type(day)
    offered = counts["call.answered"] + counts["call.abandoned"] + counts["call.timeout"]
    assert offered == counts["call.queued"]
    assert 0.65 <= counts["call.answered"] / offered <= 0.98
    assert counts["call.completed"] == counts["call.answered"]
    assert 0.1 <= counts["call.rated"] / counts["call.answered"] <= 0.5
    short = [e for e in day if e["type"] == "call.abandoned" and e["hold_s"] < 5]
    assert 0 < len(short) < counts["call.abandoned"]
    states = collections.Counter(e["state"] for e in day if e["type"] == "agent.state")
    assert set(states) == AGENT_STATES
    queues = {(e["hall"], e["queue"]) for e in day if e["type"] == "call.queued"}
    assert len(queues) == len({h for h, _ in queues}) == 6
    talk = [e["talk_s"] for e in day if e["type"] == "call.completed"]
    assert 120 <= sum(talk) / len(talk) <= 600


def test_understaffed_hall_is_worse(day: list[Event]) -> None:
    cancelled = collections.Counter(e["hall"] for e in day if e["type"] == "ticket.cancelled")
    issued = collections.Counter(e["hall"] for e in day if e["type"] == "ticket.issued")
    rate = {h: cancelled[h] / issued[h] for h in issued}
    assert max(rate, key=rate.__getitem__) == "jianye"


def test_opinions(day: list[Event]) -> None:
    counts = by_type(day)
    assert 6 <= counts["opinion.submitted"] <= 60
    assert 0 < counts["opinion.resolved"] < counts["opinion.submitted"]  # some stay open


def test_several_days() -> None:
    events: list[Event] = sim.simulate(
        halls=6, date="2026-11-29", days=3, tickets_per_hall=150, seed=2
    )
    check_basics(events)
    check_consistency(events)
    dates = collections.Counter(
        dt.datetime.fromtimestamp(e["ts"] / 1000, ZONE).date().isoformat() for e in events
    )
    assert set(dates) == {"2026-11-29", "2026-11-30", "2026-12-01"}
    assert dates["2026-11-30"] > dates["2026-11-29"]  # Monday is busier than Sunday
    for e in events:  # the id names the local day of ts
        day_of_ts = dt.datetime.fromtimestamp(e["ts"] / 1000, ZONE).strftime("%Y%m%d")
        assert e["id"].split("-")[1] == day_of_ts
    a001 = [e for e in events if e["type"] == "ticket.issued" and e["ticket"] == "A001"]
    assert len(a001) == 18  # numbers restart every day in every hall
    # some opinions are answered on a later day than they came in
    assert any(
        e["opinion"].split("-")[1] < e["id"].split("-")[1]
        for e in events
        if e["type"] == "opinion.resolved"
    )


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    halls=st.integers(1, 3),
    tickets=st.integers(0, 150),
    date=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
    zone=st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York", "Europe/Berlin"]),
)
def test_any_arguments_give_valid_consistent_events(
    seed: int, halls: int, tickets: int, date: dt.date, zone: str
) -> None:
    events = sim.simulate(
        halls=halls, date=date, seed=seed, tickets_per_hall=tickets, timezone=zone, days=2
    )
    check_basics(events)
    check_consistency(events)


# ---------------------------------------------------------------- adversarial mode


def test_adversarial_has_duplicates(adversarial_day: list[Event]) -> None:
    seen: dict[str, Event] = {}
    duplicates = 0
    for e in adversarial_day:
        if problem(e) is not None:
            continue
        if e["id"] in seen:
            assert seen[e["id"]] == e  # a re-send: same id, same content
            duplicates += 1
        seen[e["id"]] = e
    assert 0.01 <= duplicates / len(seen) <= 0.03


def test_adversarial_reorders_and_delays(adversarial_day: list[Event]) -> None:
    stamps = [e["ts"] for e in adversarial_day if type(e.get("ts")) is int]
    backwards = [prev - ts for prev, ts in itertools.pairwise(stamps) if ts < prev]
    assert len(backwards) > 100
    newest, lateness = 0, []
    for ts in stamps:
        newest = max(newest, ts)
        lateness.append(newest - ts)
    assert sum(1 for x in lateness if 1_000 <= x <= 300_000) > 100  # a few minutes
    assert any(x >= 3_600_000 for x in lateness)  # hours late


def test_adversarial_malformed_events(adversarial_day: list[Event]) -> None:
    reasons = collections.Counter(
        (problem(e) or "").split(" ")[0] for e in adversarial_day if problem(e)
    )
    assert sum(reasons.values()) >= 20
    for kind in ("missing", "unknown", "bad"):
        assert reasons[kind] > 0, reasons
    assert any(problem(e) == "bad hall" for e in adversarial_day)
    assert all(isinstance(e, dict) for e in adversarial_day)


def test_adversarial_orphans(adversarial_day: list[Event]) -> None:
    valid = [e for e in adversarial_day if problem(e) is None]
    issued = {(e["hall"], e["ticket"]) for e in valid if e["type"] == "ticket.issued"}
    orphans = {(e["hall"], e["ticket"]) for e in valid if e["type"].startswith("ticket.")} - issued
    assert 5 <= len(orphans) <= 200


def test_adversarial_valid_events_are_the_clean_ones(
    day: list[Event], adversarial_day: list[Event]
) -> None:
    clean = {e["id"]: e for e in day}
    valid = [e for e in adversarial_day if problem(e) is None]
    assert all(clean[e["id"]] == e for e in valid)
    missing = set(clean) - {e["id"] for e in valid}
    assert missing
    assert {clean[i]["type"] for i in missing} == {"ticket.issued"}


def test_adversarial_lines_have_garbage() -> None:
    kwargs: dict[str, Any] = {"halls": 2, "tickets_per_hall": 500, "seed": 4}
    clean = sim.simulate_lines(**kwargs).splitlines()
    assert all(isinstance(json.loads(line), dict) for line in clean)
    broken = 0
    for line in sim.simulate_lines(adversarial=True, **kwargs).splitlines():
        try:
            json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            broken += 1
    assert broken >= 1
    assert sim.simulate_lines(adversarial=True, **kwargs) == sim.simulate_lines(
        adversarial=True, **kwargs
    )


# ---------------------------------------------------------------- command line


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hallkpi")
    sub = parser.add_subparsers(dest="command")
    sim_cli.register(sub)
    return parser.parse_args(["simulate", *argv])


def test_cli_writes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "day.jsonl"
    args = parse(["--out", str(out), "--halls", "2", "--tickets-per-hall", "100", "--seed", "9"])
    assert args.func is sim_cli.run
    assert sim_cli.run(args) == 0
    assert out.read_bytes() == sim.simulate_lines(halls=2, tickets_per_hall=100, seed=9)
    err = capsys.readouterr().err
    assert "events" in err
    assert "2 halls" in err
    assert DAY in err
    assert not list(tmp_path.glob("sub/*.part"))


def test_cli_gzip_is_reproducible(tmp_path: Path) -> None:
    outs = [tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"]
    for out in outs:
        argv = ["--out", str(out), "--halls", "1", "--tickets-per-hall", "80", "--adversarial"]
        assert sim_cli.run(parse(argv)) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    expected = sim.simulate_lines(halls=1, tickets_per_hall=80, adversarial=True)
    assert gzip.decompress(outs[0].read_bytes()) == expected


def test_cli_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    argv = ["--out", "-", "--halls", "1", "--tickets-per-hall", "30", "--date", "2026-12-01"]
    assert sim_cli.run(parse(argv)) == 0
    out = capsysbinary.readouterr().out
    assert out == sim.simulate_lines(halls=1, tickets_per_hall=30, date="2026-12-01")


def test_cli_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="date"):
        sim_cli.run(parse(["--out", str(tmp_path / "x.jsonl"), "--date", "2026-02-30"]))
    with pytest.raises(CommandError, match="halls"):
        sim_cli.run(parse(["--out", str(tmp_path / "x.jsonl"), "--halls", "0"]))
    assert not list(tmp_path.iterdir())


def test_cli_entry_point(tmp_path: Path) -> None:
    names = {ep.name for ep in entry_points(group="hallkpi.commands")}
    if "simulate" not in names:
        pytest.skip("hallkpi is not installed (no hallkpi.commands entry points)")
    from hallkpi.core.cli import main

    out = tmp_path / "day.jsonl"
    assert main(["simulate", "--out", str(out), "--halls", "1", "--tickets-per-hall", "50"]) == 0
    assert out.read_bytes() == sim.simulate_lines(halls=1, tickets_per_hall=50)


# ---------------------------------------------------------------- contract v1.1


def test_each_device_numbers_its_events(day: list[Event]) -> None:
    by_producer: dict[str, list[int]] = collections.defaultdict(list)
    for e in day:
        calls = e["type"].startswith(("call.", "agent."))
        assert e["producer"] == f"sim-{e['hall']}" + ("-calls" if calls else "")
        assert e["epoch"] == sim._epoch_ms(dt.date(2026, 11, 27), 0, ZONE)  # noqa: SLF001 (the simulator's epoch, as it computes it)
        by_producer[e["producer"]].append(e["seq"])
    assert len(by_producer) == 2 * 6
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_producer.values())
    several = sim.simulate(halls=1, days=2, tickets_per_hall=50, seed=3)
    assert [e["seq"] for e in several if e["producer"] == "sim-yuhua"][-1] > 50  # across days


def test_gap_detector_finds_what_the_faults_lost(
    day: list[Event], adversarial_day: list[Event]
) -> None:
    from hallkpi.core import Engine

    clean, faulty = Engine(), Engine()
    for e in day:
        clean.push(e)
    clean.advance(day[-1]["ts"] + 60_000)
    assert clean.diagnostics()["upstream_lost_events"] == 0 and clean.producer_gaps() == []
    faulty.push_jsonl(b"\n".join(json.dumps(e).encode() for e in adversarial_day))
    faulty.advance(max(e["ts"] for e in day) + 60_000)
    received = {e["id"] for e in adversarial_day if problem(e) is None}
    lost = {(e["producer"], e["seq"]) for e in day if e["id"] not in received}
    reported = {
        (g["producer"], s)
        for g in faulty.producer_gaps()
        for s in range(g["first_seq"], g["last_seq"] + 1)
    }
    d = faulty.diagnostics()
    # Exactly the dropped ones (none is the last of its producer, which nothing would
    # reveal), each once; the events hours late were missing for a while, then recovered.
    assert reported == lost
    assert d["upstream_lost_events"] == len(reported) > 0
    assert d["upstream_recovered_events"] > 0  # the events hours late
    assert d["seq_repeats"] == 0  # re-sends keep their id: duplicates, never repeats
