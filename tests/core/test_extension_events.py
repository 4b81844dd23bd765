"""Contract v1.2: extension events validated by the engine against its field table and
handed back as plain records (docs/SEMANTICS.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hallkpi.core import Engine, InvalidEvent
from hallkpi.core.engine import EXTENSION_TYPES, extension_family, extension_record

T0 = 1796349000000


def booked(i: int = 1, **over: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "id": f"b{i}",
        "type": "appointment.booked",
        "ts": T0 + i,
        "hall": "yuhua",
        "appointment": f"ap{i}",
        "service": "invoice",
        "slot_start": T0 + 3_600_000,
        "slot_end": T0 + 5_400_000,
        "taxpayer": "9f" * 32,
        "code": "K7Q2",
    }
    ev.update(over)
    return {k: v for k, v in ev.items() if v is not ...}


def test_the_table_names_the_appointment_types_with_their_fields() -> None:
    assert {
        "appointment.booked",
        "appointment.cancelled",
        "appointment.checked_in",
        "appointment.missed",
    } <= set(EXTENSION_TYPES)
    fields = {name: (kind, req) for name, kind, req in EXTENSION_TYPES["appointment.booked"]}
    assert fields["slot_start"] == ("int", True) and fields["code"] == ("string", True)
    assert ("reason", "string", False) in EXTENSION_TYPES["appointment.cancelled"]
    assert extension_family("appointment.booked") == "appointment"
    assert extension_family("ticket.issued") is None


def test_push_json_returns_the_records_of_applied_extension_events() -> None:
    e = Engine()
    payload = [
        booked(1, extra={"ignored": True}),
        {
            "id": "t1",
            "type": "ticket.issued",
            "ts": T0,
            "hall": "yuhua",
            "ticket": "A1",
            "service": "s",
            "channel": "kiosk",
        },
    ]
    r = e.push_json(json.dumps(payload, ensure_ascii=False).encode())
    assert (r.applied, r.rejected) == (2, 0)
    assert len(r.extensions) == 1
    index, record = r.extensions[0]
    assert index == 0
    assert record == booked(1)  # the unknown "extra" dropped
    again = e.push_json(json.dumps(booked(1)).encode())
    assert (again.applied, again.duplicates, again.extensions) == (0, 1, ())  # same id


def test_escaped_and_chinese_strings_come_back_decoded() -> None:
    e = Engine()
    text = (
        f'{{"id":"c1","type":"appointment.cancelled","ts":{T0},"hall":"h",'
        '"appointment":"a\\"1","reason":"\\u53d6\\u6d88 by 用户"}'
    )
    r = e.push_json(text.encode())
    assert r.extensions[0][1]["appointment"] == 'a"1'
    assert r.extensions[0][1]["reason"] == "取消 by 用户"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (booked(code=...), "missing field 'code'"),
        (booked(code=None), "field 'code' must be a string, not null"),
        (booked(slot_start="9"), "field 'slot_start' must be an integer, not a string"),
        (booked(slot_start=1.5), "field 'slot_start' must be an integer, not a float"),
        (booked(slot_start=True), "field 'slot_start' must be an integer, not a boolean"),
        (booked(code=""), "field 'code' must be 1..256 characters, got 0"),
        (booked(code="x" * 257), "field 'code' must be 1..256 characters, got 257"),
        (booked(type="appointment.nope"), "unknown type 'appointment.nope'"),
        (booked(hall=...), "missing field 'hall'"),
    ],
)
def test_a_bad_extension_event_is_refused_with_its_reason_and_counted(
    event: dict[str, Any], reason: str
) -> None:
    e = Engine()
    r = e.push_json(json.dumps(event).encode())
    assert (r.applied, r.rejected, r.extensions) == (0, 1, ())
    assert r.rejections[0][1] == reason
    with pytest.raises(InvalidEvent, match=reason.replace("(", r"\(").replace(")", r"\)")):
        e.push(event)
    assert e.diagnostics()["rejected_events"] == 2
    assert e.diagnostics()["events_applied"] == 0


def test_a_number_field_takes_integers_and_floats_but_not_infinity() -> None:
    e = Engine()
    quote = {
        "id": "q1",
        "type": "quote.given",
        "ts": T0,
        "hall": "h",
        "ticket": "A1",
        "service": "s",
        "channel": "wechat",
        "wait_s": 60,
        "p10_s": 12.5,
        "p90_s": 300,
    }
    assert e.push(quote)
    text = json.dumps({**quote, "id": "q2", "p90_s": 1}).replace('"p90_s": 1', '"p90_s": 1e400')
    assert e.push_json(text.encode()).rejections[0][1] == "field 'p90_s' must be a finite number"
    with pytest.raises(InvalidEvent, match="'wait_s' must be a number, not a string"):
        e.push({**quote, "id": "q3", "wait_s": "60"})


def test_push_of_a_dict_validates_the_same_and_the_record_is_the_table_fields() -> None:
    e = Engine()
    ev = booked(3, note="not in the table")
    assert e.push(ev) is True
    assert e.push(ev) is False  # a duplicate id
    record = extension_record(ev)
    assert record is not None and "note" not in record and record["code"] == "K7Q2"
    assert extension_record({"type": "ticket.issued"}) is None
    # an extension event moves the clock and shares the ids, nothing else of KPIS.md
    assert e.now == T0 + 3
    assert e.gauges("yuhua")["waiting"] == 0


def test_sequenced_extension_events_take_part_in_loss_detection() -> None:
    e = Engine(seq_grace_ms=0)
    for seq in (1, 3):
        assert e.push(booked(seq, producer="web-1", seq=seq))
    e.advance(T0 + 10)
    assert e.diagnostics()["upstream_lost_events"] == 1
    r = e.push_json(json.dumps(booked(5, producer="web-1", seq=5)).encode())
    assert r.extensions[0][1]["producer"] == "web-1" and r.extensions[0][1]["seq"] == 5
