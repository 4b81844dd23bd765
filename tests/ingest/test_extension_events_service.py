"""Contract v1.2 in the service: extension events routed to the room that registered
their family, stored in ``extension_events`` in the same store round as the other
events (chDB), and replayed to the handlers and the engine's ids after a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hallkpi.core import Engine
from hallkpi.ingest.service.acks import AckPump
from hallkpi.ingest.service.extension_io import SplitWriter, recover_extensions, split_columns
from hallkpi.ingest.service.extensions import Extensions
from hallkpi.ingest.service.logic import HallService
from hallkpi.ingest.store.batch import ArrivalClock
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.extension_store import read_extension_events
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter, WriterConfig
from store_rows import stored_ids

T0 = 1796349000000
TOPIC = "hallkpi/v1/halls/yuhua/events"


def booked(i: int) -> dict[str, Any]:
    return {
        "id": f"b{i}",
        "type": "appointment.booked",
        "ts": T0 + i,
        "hall": "yuhua",
        "appointment": f"ap{i}",
        "service": "invoice",
        "slot_start": T0 + 3_600_000,
        "slot_end": T0 + 5_400_000,
        "taxpayer": "ab" * 32,
        "code": f"C{i}",
        "x": 1,
    }


def issued(i: int) -> dict[str, Any]:
    return {
        "id": f"t{i}",
        "type": "ticket.issued",
        "ts": T0 + i,
        "hall": "yuhua",
        "ticket": f"A{i}",
        "service": "invoice",
        "channel": "kiosk",
    }


class Recorder:
    def __init__(self) -> None:
        self.got: list[tuple[dict[str, Any], bool]] = []

    def __call__(self, record: dict[str, Any], recovered: bool) -> None:
        self.got.append((record, recovered))


def test_an_applied_extension_event_goes_to_its_family_handler_as_a_record() -> None:
    reg, rec = Extensions(), Recorder()
    reg.register("appointment", rec)
    s = HallService(Engine(), extensions=reg)
    out = s.handle(TOPIC, json.dumps([booked(1), issued(2), booked(1)]).encode())
    assert [e["id"] for e in out.applied] == ["b1", "t2"]
    assert "x" not in out.applied[0]  # the record: the table's fields only
    assert [(r["id"], r["code"], again) for r, again in rec.got] == [("b1", "C1", False)]
    assert s.counters.extension_events == 1 and s.counters.events_duplicate == 1


def test_unrouted_and_failing_handlers_are_counted_and_the_event_still_applied() -> None:
    reg = Extensions()
    s = HallService(Engine(), extensions=reg)
    q = {
        "id": "q1",
        "type": "quote.given",
        "ts": T0,
        "hall": "yuhua",
        "ticket": "A1",
        "service": "s",
        "channel": "kiosk",
        "wait_s": 1,
        "p10_s": 0,
        "p90_s": 2,
    }
    assert len(s.handle(TOPIC, json.dumps(q).encode()).applied) == 1
    assert reg.unrouted == 1

    def boom(record: dict[str, Any], recovered: bool) -> None:
        raise RuntimeError("a bug in the room")

    reg.register("appointment", boom)
    assert len(s.handle(TOPIC, json.dumps(booked(2)).encode()).applied) == 1
    assert reg.errors == 1 and s.counters.internal_errors == 0


def test_a_bad_extension_event_is_a_dead_letter_with_its_reason() -> None:
    s = HallService(Engine(), extensions=Extensions())
    bad = {**booked(3), "slot_start": "soon"}
    out = s.handle(TOPIC, json.dumps(bad).encode())
    assert out.applied == []
    assert "field 'slot_start' must be an integer" in json.loads(out.deadletters[0])["reason"]
    assert s.counters.events_rejected == 1


def test_stored_in_one_round_then_replayed_to_handlers_and_engine_ids(
    store: Store, tmp_path: Path
) -> None:
    ensure_schema(store)
    writer = StoreWriter(store, Spool(tmp_path), WriterConfig(retries=1, backoff_s=0.001))
    arrivals = ArrivalClock()
    s = HallService(Engine(), extensions=Extensions())

    async def run() -> None:
        pump = AckPump(
            SplitWriter(writer, arrivals), lambda evs: split_columns(evs, arrivals), interval_s=0.01
        )
        pump.start()
        for payload in ([booked(1), issued(2)], [booked(4)], [booked(1)]):
            applied = s.handle(TOPIC, json.dumps(payload).encode()).applied
            await asyncio.wait_for(pump.submit(applied), 30)
        await pump.stop()

    asyncio.run(run())
    writer.close(30)
    assert stored_ids(store) == ["t2"]  # events: only the EVENTS.md event
    records = read_extension_events(store, since_ms=T0)
    assert [r["id"] for r in records] == ["b1", "b4"]
    assert records[0] == {k: v for k, v in booked(1).items() if k != "x"}
    # a second copy of a row (a re-sent block) is still read once
    again = StoreWriter(store, Spool(tmp_path / "again"))
    SplitWriter(again, ArrivalClock()).add_events(split_columns([records[0]], ArrivalClock()))
    again.close(30)
    assert [r["id"] for r in read_extension_events(store, since_ms=T0)] == ["b1", "b4"]

    reg, rec = Extensions(), Recorder()
    reg.register("appointment", rec, lookback_days=30)
    fresh = Engine()
    n = recover_extensions(fresh, store, reg, since_ms=T0 + 10, now_ms=T0 + 10)
    assert n == 2 and [(r["id"], again) for r, again in rec.got] == [("b1", True), ("b4", True)]
    assert fresh.push(booked(4)) is False  # a redelivered copy is a duplicate
    assert read_extension_events(store, since_ms=T0 + 4, families=["quote"]) == []
