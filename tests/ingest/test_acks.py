"""The acknowledgement pump on a real writer and chDB: a round the store refuses keeps
its events and callbacks and is retried until stored, then acknowledged in submission
order; a message with nothing to store waits for every round before it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from hallkpi.ingest.service.acks import AckPump, Pending
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter, WriterConfig
from store_rows import dicts_to_columns, event_dicts, stored_ids

QUICK = WriterConfig(retries=1, backoff_s=0.001, backoff_max_s=0.05)


async def until(check: Callable[[], bool], deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, "condition not reached in time"
        await asyncio.sleep(0.005)


def pump_for(writer: StoreWriter) -> AckPump:
    return AckPump(writer, dicts_to_columns, interval_s=0.01, retry_s=0.01, retry_max_s=0.05)


def test_a_refused_round_is_retried_and_acknowledged_in_order_once_stored(
    store: Store, tmp_path: Path
) -> None:
    ensure_schema(store)
    writer = StoreWriter(store, Spool(tmp_path), QUICK)
    answers: list[tuple[str, bool]] = []

    def done(name: str) -> Callable[[bool], None]:
        return lambda ok: answers.append((name, ok))

    async def main() -> None:
        pump = pump_for(writer)
        pump.start()
        store.client().command("SET readonly = 2")  # the store refuses every write
        try:
            pump.submit_callback(event_dicts(0, 20), done("m1"))
            await until(lambda: pump.failures > 0)
            pump.submit_callback(event_dicts(20, 5), done("m2"))
            pump.submit_callback([], done("dup of m1"))  # all duplicates: nothing to store
            await until(lambda: pump.failures > 3)
            assert answers == []  # nothing acknowledged, nothing answered False
            assert pump.pending == Pending(events=25, messages=3)
            assert "READONLY" in (pump.last_error or "")
            assert (writer.health() or "").startswith("store refuses writes: ")
        finally:
            store.reset()  # the store takes writes again
        await until(lambda: len(answers) == 3)
        assert answers == [("m1", True), ("m2", True), ("dup of m1", True)]
        assert pump.pending == Pending(0, 0) and pump.last_error is None
        await pump.stop()

    asyncio.run(main())
    writer.close(30)
    assert sorted(stored_ids(store)) == sorted(f"e{i}" for i in range(25))


def test_a_message_with_nothing_to_store_waits_for_the_rounds_before_it(
    store: Store, tmp_path: Path
) -> None:
    ensure_schema(store)
    writer = StoreWriter(store, Spool(tmp_path), QUICK)
    answers: list[str] = []

    async def main() -> None:
        pump = pump_for(writer)
        pump.start()
        pump.submit_callback([], lambda ok: answers.append("alone"))
        await until(lambda: answers == ["alone"])  # nothing before it: one round
        store.client().command("SET readonly = 2")
        try:
            pump.submit_callback(event_dicts(0, 3), lambda ok: answers.append("stored"))
            await until(lambda: pump.failures > 0)
            pump.submit_callback([], lambda ok: answers.append("duplicate"))
            await until(lambda: pump.failures > 3)
            assert answers == ["alone"]
        finally:
            store.reset()
        await until(lambda: len(answers) == 3)
        assert answers == ["alone", "stored", "duplicate"]
        await pump.stop()

    asyncio.run(main())
    writer.close(30)


def test_stop_answers_false_only_what_could_not_be_stored(store: Store, tmp_path: Path) -> None:
    ensure_schema(store)
    writer = StoreWriter(store, Spool(tmp_path), QUICK)
    answers: list[bool] = []

    async def main() -> None:
        pump = pump_for(writer)
        pump.start()
        store.client().command("SET readonly = 2")
        try:
            pump.submit_callback(event_dicts(0, 3), answers.append)
            await until(lambda: pump.failures > 0)
            pump.submit_callback(event_dicts(3, 3), answers.append)
            await pump.stop()  # the service stops while the store refuses
        finally:
            store.reset()

    asyncio.run(main())
    assert answers == [False, False]  # no PUBACK: the broker redelivers both
    writer.close(30)  # the first round's rows were spooled meanwhile, and now go in
    assert sorted(stored_ids(store)) == ["e0", "e1", "e2"]
