"""The batched writer: triggers, spooling while the store is down, draining in order,
backpressure, idempotent re-writes. No sleeps: a fake clock and explicit waits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import closed_port
from hallkpi.core import Engine
from hallkpi.ingest.errors import StoreUnavailable, WriterBackpressure
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool, frames_of
from hallkpi.ingest.store.writer import StoreWriter, WriterConfig
from store_rows import T0, Clock, FlakyStore, events, stored_ids

FAST = WriterConfig(max_rows=100, max_delay_s=1.0, retries=2, backoff_s=0.001)


def test_a_full_batch_is_written_without_waiting_for_the_clock(
    store: Store, tmp_path: Path
) -> None:
    ensure_schema(store)
    clock = Clock()  # frozen: only the row count can trigger
    with StoreWriter(store, Spool(tmp_path), FAST, clock=clock) as w:
        w.add_events(events(0, 100))
        assert w.wait_idle(30)
        assert w.stats.rows_written == 100
    assert len(stored_ids(store)) == 100


def test_size_and_time_triggers(store: Store, tmp_path: Path) -> None:
    clock = Clock()
    w = StoreWriter(store, Spool(tmp_path), FAST, clock=clock, start=False)
    w.add_events(events(0, 99))
    assert w._take_due() == []  # 99 rows, no time passed  # noqa: SLF001 (the batching decision itself, no thread)
    clock.t += 0.999
    assert w._take_due() == []  # noqa: SLF001 (the batching decision itself, no thread)
    clock.t += 0.001  # the oldest row waited 1 s
    assert [i.table for i in w._take_due()] == ["events"]  # noqa: SLF001 (the batching decision itself, no thread)
    w.add_events(events(99, 60))
    w.add_events(events(159, 60))  # 120 rows: due by size at once
    assert [i.table for i in w._take_due()] == ["events"]  # noqa: SLF001 (the batching decision itself, no thread)


def test_unreachable_store_spools_then_a_working_store_gets_everything(
    store: Store, tmp_path: Path
) -> None:
    down = Store(f"http://127.0.0.1:{closed_port()}/hallkpi", connect_timeout_s=1)
    spool_dir = tmp_path / "spool"
    w = StoreWriter(down, Spool(spool_dir), FAST)
    for k in range(3):
        w.add_events(events(k * 50, 50))
        w.flush(30)  # acknowledged: in the spool, fsynced
    w.close(30)
    assert w.stats.rows_written == 0 and w.stats.blocks_spooled == 3
    assert "127.0.0.1" in (w.stats.last_error or "")
    health = w.health() or ""
    assert health.startswith("store unreachable, spooling 3 blocks: ") and "127.0.0.1" in health
    assert [f.table for f in frames_of(Spool(spool_dir))] == ["events"] * 3

    ensure_schema(store)  # the store is back: a restarted writer drains first, in order
    with StoreWriter(store, Spool(spool_dir), FAST) as w2:
        assert w2.wait_idle(60)
        w2.add_events(events(150, 10))
    assert w2.stats.rows_written == 160 and w2.stats.blocks_drained == 3
    assert stored_ids(store) == [f"e{i}" for i in range(160)]
    assert len(Spool(spool_dir)) == 0


def test_blocks_queue_behind_the_spool_and_drain_in_order(store: Store, tmp_path: Path) -> None:
    ensure_schema(store)
    flaky = FlakyStore(store, failures=2)  # both tries of the first block fail
    clock = Clock()  # frozen: no drain before the test moves it
    w = StoreWriter(flaky, Spool(tmp_path), FAST, clock=clock)  # type: ignore[arg-type]
    w.add_events(events(0, 10))
    w.flush(30)  # acknowledged: spooled while the store was out of reach
    assert w.stats.blocks_spooled == 1 and len(w.spool) == 1
    w.add_events(events(10, 10))  # the store is up, but order comes first
    w.flush(30)
    assert w.stats.blocks_spooled == 2 and flaky.tables == []
    assert (w.health() or "").startswith("store unreachable, spooling 2 blocks: ")
    clock.t += 60
    w.wake()
    assert w.wait_idle(30)
    w.close(30)
    assert len(w.spool) == 0 and w.stats.blocks_drained == 2
    assert w.stats.rows_written == 20  # drained rows count
    assert stored_ids(store) == [f"e{i}" for i in range(20)]
    assert w.health() is None


def test_backpressure(store: Store, tmp_path: Path) -> None:
    w = StoreWriter(store, Spool(tmp_path), WriterConfig(max_pending_rows=10), start=False)
    w.add_events(events(0, 10))
    with pytest.raises(WriterBackpressure):
        w.add_events(events(10, 1), timeout=0.01)


def test_rewriting_a_batch_changes_nothing(store: Store, tmp_path: Path) -> None:
    ensure_schema(store)
    e = Engine()
    e.push(
        {
            "id": "a",
            "type": "ticket.issued",
            "ts": T0,
            "hall": "yuhua",
            "ticket": "A1",
            "service": "invoice",
            "channel": "kiosk",
        }
    )
    e.push(
        {
            "id": "b",
            "type": "ticket.completed",
            "ts": T0 + 9,
            "hall": "yuhua",
            "ticket": "A1",
            "window": "w1",
            "staff": "s1",
        }
    )
    batch = events(0, 30)
    batch["ingest_seq"] = np.arange(1, 31, dtype=np.uint64)
    snap, staff = e.snapshot_columns(), e.staff_columns()
    for _ in range(2):
        with StoreWriter(store, Spool(tmp_path), FAST) as w:
            w.add_events(batch)
            w.add_snapshot(snap, staff)
            w.add_alerts(
                [
                    {
                        "hall": "yuhua",
                        "alert": "congestion",
                        "state": "firing",
                        "value": 9.0,
                        "threshold": 8.0,
                        "ts": T0,
                    }
                ]
            )
    for table, rows in (("events", 30), ("hall_kpis", 4), ("staff_kpis", 4), ("alerts", 1)):
        final = store.rows(f"SELECT count() FROM {store.table(table)} FINAL")[0][0]
        assert final == rows, table
    assert store.rows(f"SELECT uniqExact(id), count() FROM {store.table('events')} FINAL") == [
        (30, 30)
    ]


def test_bad_columns_are_refused_at_add(store: Store, tmp_path: Path) -> None:
    w = StoreWriter(store, Spool(tmp_path), start=False)
    with pytest.raises(ValueError, match="unknown columns"):
        w.add("events", {**events(0, 2), "nope": np.zeros(2)})
    with pytest.raises(ValueError, match="missing"):
        w.add("events", {"id": ["a"]})
    with pytest.raises(ValueError, match="unknown table"):
        w.add("nope", {})
    with pytest.raises(ValueError, match="lengths"):
        w.add("events", {**events(0, 2), "ts": np.zeros(3, np.int64)})


def test_the_password_never_shows(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    secret = "pw-Secret-4711"
    down = Store(f"http://reader@127.0.0.1:{closed_port()}/hallkpi", password=secret)
    with pytest.raises(StoreUnavailable) as err:
        down.rows("SELECT 1")
    w = StoreWriter(down, Spool(tmp_path), FAST)
    w.add_events(events(0, 3))
    w.close(30)
    shown = [str(err.value), repr(down), str(down.url), w.stats.last_error or "", caplog.text]
    shown.append(w.health() or "")
    assert all(secret not in text for text in shown)
    assert "reader@127.0.0.1" in str(err.value)


def test_dead_letters_of_the_service(store: Store, tmp_path: Path) -> None:
    ensure_schema(store)
    topic = "hallkpi/halls/yuhua/events"
    big = b"[" * 5000
    with StoreWriter(store, Spool(tmp_path), FAST) as w:
        w.add_deadletters(
            [
                {"ts": T0, "topic": topic, "reason": "nested too deep", "payload": big},
                {"ts": T0, "topic": topic, "reason": "nested too deep", "payload": big},
                {"ts": T0 + 1, "topic": "t", "reason": "r", "payload": "\u00e9" * 3000},
            ]
        )
        with pytest.raises(ValueError, match="needs"):
            w.add_deadletters([{"ts": T0, "topic": topic, "reason": "no payload"}])
        w.flush(30)
    rows = store.rows(
        "SELECT source, kind, reason, length(payload), isValidUTF8(payload), "
        f"toUnixTimestamp64Milli(ts) FROM {store.table('dead_letters')} FINAL ORDER BY ingest_seq"
    )
    again = (f"mqtt:{topic}", "rejected", "nested too deep", 4096, 1, T0)
    assert rows == [again, again, ("mqtt:t", "rejected", "r", 4096, 1, T0 + 1)]
