"""Hostile payloads through the service logic (no I/O): every payload gets an answer
(applied or dead-lettered with a reason), nothing raises, nothing moves another hall."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hallkpi.core import Engine
from hallkpi.ingest.service.logic import Admission, HallService

NOW = 1796400000000  # 2026-12-04, the wall clock of these tests
TOPIC = "hallkpi/v1/halls/yuhua/events"


def issued(i: int, hall: str = "yuhua", ts: int = NOW) -> dict[str, Any]:
    return {
        "id": f"{hall}-{i}",
        "type": "ticket.issued",
        "ts": ts,
        "hall": hall,
        "ticket": f"A{i}",
        "service": "invoice",
        "channel": "kiosk",
    }


def enc(doc: object) -> bytes:
    return json.dumps(doc).encode()


def service(**admission: Any) -> HallService:
    return HallService(Engine(), admission=Admission(**admission), wall_ms=lambda: NOW)


@pytest.mark.parametrize(
    "payload",
    [b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000, b"[" * 100_000],
)
def test_deep_nesting_is_a_dead_letter_not_an_exception(payload: bytes) -> None:
    s = service()
    out = s.handle(TOPIC, payload)
    assert out.applied == []
    assert len(out.deadletters) == 1
    assert json.loads(out.deadletters[0])["reason"].startswith("invalid JSON")
    assert len(out.rows) == 1 and out.rows[0]["topic"] == TOPIC
    assert s.counters.events_rejected == 1 and s.counters.internal_errors == 0
    assert s.handle(TOPIC, enc(issued(1))).applied  # the next message is applied


def test_a_null_in_an_array_rejects_only_that_element_and_counts_right() -> None:
    s = service()
    out = s.handle(TOPIC, enc([issued(1), None, issued(2)]))
    assert [e["id"] for e in out.applied] == ["yuhua-1", "yuhua-2"]
    assert len(out.deadletters) == 1
    letter = json.loads(out.deadletters[0])
    assert letter["reason"] == "event must be a JSON object" and letter["payload"] == "null"
    assert s.counters.events_received == 3 and s.counters.events_rejected == 1


@pytest.mark.parametrize(
    "payload", [b"7", b'"text"', b"null", b"true", b"1e999", b"\xff\xfe", b"", b"[]"]
)
def test_payloads_that_are_no_events(payload: bytes) -> None:
    s = service()
    out = s.handle(TOPIC, payload)
    assert out.applied == []
    assert len(out.deadletters) == (0 if payload == b"[]" else 1)
    assert s.counters.events_received == 0


class FaultyEngine(Engine):
    """A real engine with one injected bug: an event id that makes push raise."""

    def push(self, event: dict[str, Any]) -> bool:  # type: ignore[override]
        if event.get("id") == "boom":
            raise RuntimeError("a bug")
        return super().push(event)


def test_an_exception_while_handling_is_an_internal_error_dead_letter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = HallService(FaultyEngine(), wall_ms=lambda: NOW)
    for _ in range(3):
        out = s.handle(TOPIC, enc({**issued(1), "id": "boom"}))
        assert out.applied == []
        assert json.loads(out.deadletters[0])["reason"] == "internal error: RuntimeError"
    assert s.counters.internal_errors == 3
    assert sum("internal error" in r.message for r in caplog.records) == 1  # logged once
    assert s.handle(TOPIC, enc(issued(2))).applied


def test_future_and_ancient_events_are_refused_and_move_no_clock() -> None:
    s = service()
    s.handle(TOPIC, enc(issued(1)))
    s.engine.advance(NOW)
    future = issued(2, ts=7258118400000)  # 2200-01-01
    out = s.handle(TOPIC, enc([future, issued(3, ts=NOW - 40 * 86_400_000)]))
    assert out.applied == []
    reasons = [json.loads(d)["reason"] for d in out.deadletters]
    assert "ahead of the service's clock" in reasons[0]
    assert "days old" in reasons[1]
    assert s.engine.now == NOW and s.counters.events_out_of_clock == 2
    assert s.handle(TOPIC, enc(issued(4, ts=NOW + 299_000))).applied  # within the lead
    assert s.handle(TOPIC, enc(issued(5, ts=NOW - 34 * 86_400_000))).applied


def test_an_event_clock_checks_no_times() -> None:
    s = HallService(Engine())
    assert s.handle(TOPIC, enc(issued(1, ts=NOW + 86_400_000))).applied


def test_configured_halls_refuse_the_others() -> None:
    s = service(known=frozenset({"yuhua"}))
    assert s.handle(TOPIC, enc(issued(1))).applied
    out = s.handle("hallkpi/v1/halls/typo/events", enc(issued(1, hall="typo")))
    assert out.applied == [] and "unknown hall 'typo'" in json.loads(out.deadletters[0])["reason"]
    assert s.counters.halls_refused == 1
    assert s.engine.halls() == ["yuhua"]
    assert [t for t, _, _ in s.tick(NOW + 1000).messages] == ["hallkpi/v1/halls/yuhua/status"]


def test_without_a_list_the_number_of_halls_is_bounded() -> None:
    s = service(max_halls=3)
    for i in range(5):
        hall = f"h{i}"
        out = s.handle(f"hallkpi/v1/halls/{hall}/events", enc(issued(i, hall=hall)))
        assert bool(out.applied) == (i < 3)
    assert sorted(s.engine.halls()) == ["h0", "h1", "h2"]
    assert s.counters.halls_refused == 2
    assert s.handle("hallkpi/v1/halls/h1/events", enc(issued(9, hall="h1"))).applied
    statuses = [t for t, _, _ in s.tick(NOW + 1000).messages]
    assert len(statuses) == 3 and not any("h3" in t or "h4" in t for t in statuses)
