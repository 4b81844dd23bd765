"""Contract v1.1 from Python: producer, seq and epoch on every push path, the gap
detector's diagnostics, holes and changes, the events_lost_upstream alert, the clock
bounds and hostile JSON."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hallkpi.core import ConfigError, Engine, InvalidEvent
from hallkpi.core.config import config_from_mapping
from hallkpi.core.engine import EVENT_SEQUENCE_FIELDS, UPSTREAM_RULE

T0 = 1_795_741_200_000  # 2026-11-27 09:00 Asia/Shanghai
UPSTREAM_KEYS = {
    "upstream_lost_events",
    "upstream_gaps",
    "upstream_recovered_events",
    "seq_repeats",
    "producers",
    "producers_overflow",
    "upstream_gaps_forgotten",
}


def ev(n: int, ts: int = T0, hall: str = "yuhua", **fields: Any) -> dict[str, Any]:
    base = {"id": f"e{n}", "type": "ticket.cancelled", "ts": ts, "hall": hall, "ticket": "A1"}
    return base | fields


def sequenced(
    producer: str, seqs: list[int], *, epoch: int | None = None, start: int = 0
) -> list[dict[str, Any]]:
    out = []
    for i, s in enumerate(seqs):
        extra: dict[str, Any] = {"producer": producer, "seq": s}
        if epoch is not None:
            extra["epoch"] = epoch
        out.append(ev(start + i, T0 + i, **extra))
    return out


def test_without_the_fields_nothing_changes() -> None:
    e = Engine()
    e.push(ev(1))
    e.advance(T0 + 3_600_000)
    assert set(e.snapshot()["diagnostics"]) == {
        "events_applied",
        "duplicate_events",
        "late_events",
        "orphan_events",
        "rejected_events",
    }
    assert "upstream" not in e.snapshot_json()
    d = e.diagnostics()
    assert set(d) >= UPSTREAM_KEYS and all(d[k] == 0 for k in UPSTREAM_KEYS)
    assert e.producer_gaps() == [] and e.drain_gap_changes() == []
    assert all(rule != UPSTREAM_RULE for _, rule, _ in e.alert_states())


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"seq": 1}, "field 'seq' needs the field 'producer'"),
        ({"producer": "p"}, "field 'producer' needs the field 'seq'"),
        ({"epoch": 1}, "field 'epoch' needs the fields 'producer' and 'seq'"),
        ({"producer": "p", "seq": -1}, "out of range"),
        ({"producer": "p", "seq": 2**63}, "out of range"),
        ({"producer": "p", "seq": 1.0}, "must be an integer, not a float"),
        ({"producer": "p", "seq": True}, "must be an integer, not a boolean"),
        ({"producer": "p", "seq": None}, "must be an integer, not null"),
        ({"producer": "p", "seq": 1, "epoch": -1}, "field 'epoch' out of range"),
        ({"producer": "", "seq": 1}, "field 'producer' must be 1..64 characters"),
        ({"producer": "p" * 65, "seq": 1}, "1..64"),
        ({"producer": "\ud800", "seq": 1}, "not valid Unicode"),
    ],
)
def test_bad_sequence_fields_are_rejected_with_a_reason(
    fields: dict[str, Any], reason: str
) -> None:
    e = Engine()
    with pytest.raises(InvalidEvent, match=reason.replace("(", r"\(").replace(")", r"\)")):
        e.push(ev(1, **fields))
    if fields.get("producer") == "\ud800":  # JSON text cannot hold it: Python only
        assert e.diagnostics()["rejected_events"] == 1
        return
    r = e.push_json(json.dumps(ev(2, **fields)).encode())
    assert r.rejected == 1 and reason in r.rejections[0][1]
    assert e.diagnostics()["rejected_events"] == 2


def test_gap_reported_after_the_grace_then_filled() -> None:
    e = Engine()
    for event in sequenced("kiosk-3", [1, 2, 6]):
        assert e.push(event)
    assert e.diagnostics()["upstream_lost_events"] == 0  # within the 5 s grace
    assert e.advance(T0 + 2 + 4999) == []
    alerts = e.advance(T0 + 2 + 5000)
    assert alerts == [
        {
            "hall": "yuhua",
            "alert": UPSTREAM_RULE,
            "state": "firing",
            "value": 3.0,
            "threshold": 0.0,
            "ts": T0 + 5002,
            "detail": "3 events lost upstream: kiosk-3 seq 3-5 (3)",
        }
    ]
    gap = {
        "producer": "kiosk-3",
        "epoch": 0,
        "hall": "yuhua",
        "first_seq": 3,
        "last_seq": 5,
        "missing": 3,
        "since_ts": T0 + 2,
    }
    assert e.producer_gaps() == [gap]
    assert e.drain_gap_changes() == [gap | {"state": "missing", "ts": T0 + 5002}]
    d = e.diagnostics()
    assert (d["upstream_lost_events"], d["upstream_gaps"], d["producers"]) == (3, 1, 1)
    assert e.snapshot()["diagnostics"]["upstream_lost_events"] == 3
    assert e.snapshot()["halls"]["yuhua"]["today"]["alerts_fired"] == 1
    assert ("yuhua", UPSTREAM_RULE, "firing") in e.alert_states()
    # The late ones arrive: recovered, one change for the run.
    e.push_json(
        json.dumps(
            [ev(10, T0 + 3, producer="kiosk-3", seq=4), ev(11, T0 + 3, producer="kiosk-3", seq=5)]
        ).encode()
    )
    assert e.drain_gap_changes() == [
        gap | {"first_seq": 4, "last_seq": 5, "missing": 2, "state": "filled", "ts": T0 + 5002}
    ]
    assert e.producer_gaps() == [gap | {"last_seq": 3, "missing": 1}]
    d = e.diagnostics()
    assert (d["upstream_lost_events"], d["upstream_recovered_events"]) == (1, 2)
    # The alert clears 15 minutes after the last new loss.
    assert e.advance(T0 + 5002 + 899_999) == []
    (ok,) = e.advance(T0 + 5002 + 900_000)
    assert (
        ok["state"] == "ok"
        and ok["detail"] == "no new loss upstream for 900 s; 1 event still missing"
    )


def test_every_push_path_takes_the_fields() -> None:
    seqs = [1, 2, 4, 5, 9]
    events = sequenced("p", seqs, epoch=7)
    results = []
    for path in ("dict", "json", "jsonl", "columns"):
        e = Engine(seq_grace_ms=0)
        if path == "dict":
            for event in events:
                e.push(event)
        elif path == "json":
            e.push_json(json.dumps(events).encode())
        elif path == "jsonl":
            e.push_jsonl(b"\n".join(json.dumps(x).encode() for x in events))
        else:
            cols = {
                k: np.array([x[k] for x in events], dtype="S")
                for k in ("id", "type", "hall", "ticket")
            }
            cols["ts"] = np.array([x["ts"] for x in events], np.int64)
            cols["producer"] = np.array(["p"] * len(events), dtype=object)
            cols["seq"] = np.array(seqs, np.int64)
            cols["epoch"] = np.full(len(events), 7, np.int64)
            r, _ = e.push_columns(cols)
            assert r.applied == len(events)
        results.append((e.diagnostics(), e.producer_gaps()))
    assert all(r == results[0] for r in results)
    assert [(g["first_seq"], g["last_seq"], g["epoch"]) for g in results[0][1]] == [
        (3, 3, 7),
        (6, 8, 7),
    ]


def test_push_columns_absent_and_bad_sequence_values() -> None:
    e = Engine()
    cols: dict[str, Any] = {
        "id": np.array([b"a", b"b", b"c", b"d"]),
        "type": np.array([b"ticket.cancelled"] * 4),
        "hall": np.array([b"yuhua"] * 4),
        "ticket": np.array([b"A1"] * 4),
        "ts": np.array([T0] * 4, np.int64),
        "producer": np.array([b"", b"p", b"", b"p"]),
        "seq": np.array([-1, 3, 5, -7], np.int64),
        "epoch": np.array([0, 0, 0, 0], np.int64),
    }
    r, _ = e.push_columns(cols)
    assert (r.applied, r.rejected) == (2, 2)
    assert [i for i, _ in r.rejections] == [2, 3]
    assert "needs the field 'producer'" in r.rejections[0][1]
    assert "out of range" in r.rejections[1][1]
    assert e.diagnostics()["producers"] == 1
    with pytest.raises(ValueError, match="one value per event"):
        e.push_columns(cols | {"seq": np.array([1], np.int64)})
    assert EVENT_SEQUENCE_FIELDS == ("producer", "seq", "epoch")


def test_epochs_repeats_duplicates_and_several_halls() -> None:
    e = Engine(seq_grace_ms=0)
    e.push(ev(1, producer="p", seq=10, hall="a"))
    assert not e.push(ev(1, producer="p", seq=10, hall="a"))  # a duplicate id: ignored
    e.push(ev(2, producer="p", seq=10, hall="b"))  # same seq, new id: a producer bug
    e.push(ev(3, producer="p", seq=12, hall="b"))
    e.push(ev(4, producer="p", seq=1, epoch=5, hall="a"))  # restarted: a new sequence
    e.push(ev(5, producer="p", seq=2, epoch=5, hall="a"))
    d = e.diagnostics()
    assert (d["seq_repeats"], d["duplicate_events"], d["producers"]) == (1, 1, 2)
    assert e.producer_gaps() == [
        {
            "producer": "p",
            "epoch": 0,
            "hall": "b",
            "first_seq": 11,
            "last_seq": 11,
            "missing": 1,
            "since_ts": T0,
        }
    ]
    alerts = e.drain_alerts()
    assert [(a["hall"], a["state"]) for a in alerts] == [("b", "firing")]
    assert {(h, s) for h, r, s in e.alert_states() if r == UPSTREAM_RULE} == {
        ("a", "ok"),
        ("b", "firing"),
    }


def test_alert_off_and_options_checked() -> None:
    e = Engine(seq_grace_ms=0, upstream_alert_s=0)
    for event in sequenced("p", [1, 5]):
        e.push(event)
    assert e.diagnostics()["upstream_lost_events"] == 3 and e.drain_alerts() == []
    for bad in (
        {"max_lead_ms": -1},
        {"max_age_ms": 1.5},
        {"seq_grace_ms": -5},
        {"upstream_alert_s": True},
        {"max_producers": 0},
    ):
        with pytest.raises(ConfigError):
            Engine(**bad)
    config = config_from_mapping(
        {"engine": {"max_lead_ms": 300000, "seq_grace_ms": 1000, "upstream_alert_s": 60}}
    )
    e = Engine.from_config(config)
    e.advance(T0)
    with pytest.raises(InvalidEvent, match="ahead of the clock"):
        e.push(ev(1, T0 + 300_001))
    with pytest.raises(ConfigError, match="wrong type"):
        config_from_mapping({"engine": {"max_age_ms": "1d"}})


def test_clock_bounds() -> None:
    e = Engine(max_lead_ms=300_000, max_age_ms=86_400_000)
    assert e.push(ev(1, 7_258_118_400_000))  # before any advance(): no reference, no check
    e = Engine(max_lead_ms=300_000, max_age_ms=86_400_000)
    e.advance(T0)
    with pytest.raises(InvalidEvent) as info:
        e.push(ev(2, 7_258_118_400_000, hall="other"))
    assert str(info.value) == (
        "ts 2200-01-01T00:00:00Z is 5.46e9 s ahead of the clock 2026-11-27T01:00:00Z (limit 300 s)"
    )
    assert e.now == T0 and e.halls() == []  # no hall's clock moved
    with pytest.raises(InvalidEvent, match=r"is 86400\.001 s older than the clock"):
        e.push(ev(3, T0 - 86_400_001))
    r = e.push_json(json.dumps([ev(4, T0 + 300_001), ev(5, T0 + 300_000)]).encode())
    assert (r.applied, r.rejected) == (1, 1) and "300.001 s ahead" in r.rejections[0][1]
    assert e.diagnostics()["rejected_events"] == 3
    # Off by default: a replay of old files is unchanged.
    plain = Engine()
    plain.advance(T0)
    assert plain.push(ev(6, T0 - 100 * 86_400_000)) and plain.push(ev(7, T0 + 10**9))


@pytest.mark.parametrize("depth", [1000, 100_000])
@pytest.mark.parametrize("bracket", ["[", '{"a":'])
def test_deeply_nested_json_is_one_clear_rejection(depth: int, bracket: str) -> None:
    e = Engine()
    for payload in (bracket * depth, '{"id":"x","extra":' + bracket * depth, "[" + bracket * depth):
        r = e.push_json(payload.encode())
        assert (r.applied, r.rejected) == (0, 1)
    deep = json.dumps(ev(1) | {"extra": [[[[]]]]}).replace("[[[[]]]]", "[" * 70 + "]" * 70)
    r = e.push_json(deep.encode())
    assert r.rejected == 1 and "nesting deeper than 64 levels" in r.rejections[0][1]


def test_null_in_an_array_rejects_only_that_element() -> None:
    e = Engine()
    r = e.push_json(json.dumps([ev(1), None, ev(2)]).encode())
    assert (r.applied, r.rejected) == (2, 1)
    assert r.rejections[0][0] == 1 and "JSON object" in r.rejections[0][1]
