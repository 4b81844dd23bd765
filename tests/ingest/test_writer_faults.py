"""The writer under store faults, on real chDB: a block the store refuses for its
content (more months than one insert takes, a row a constraint rejects) is split so
that every row the store can take goes in; a store that refuses every write (a
read-only session, a missing table) is retried and never acknowledged, and nothing
is dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hallkpi.ingest.errors import StoreRefusesWrites
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.split import frame_batch
from hallkpi.ingest.store.spool import Frame, Spool, frames_of
from hallkpi.ingest.store.writer import StoreWriter, WriterConfig
from store_rows import T0, events, eventually, stored_ids

QUICK = WriterConfig(max_rows=100_000, retries=2, backoff_s=0.001, backoff_max_s=0.05)


def months_since_1971(n: int) -> np.ndarray:
    """One timestamp (ms) in each of ``n`` months from January 1971 (UTC)."""
    months = np.arange(np.datetime64("1971-01"), np.datetime64("1971-01") + n)
    return months.astype("datetime64[ms]").astype(np.int64) + 86_400_000


def count(store: Store, table: str = "events") -> int:
    return int(store.rows(f"SELECT count() FROM {store.table(table)} FINAL")[0][0])


def flush_until_ok(w: StoreWriter, deadline_s: float = 30.0) -> None:
    """What the acknowledgement path does: flush again until it succeeds."""
    import time

    end = time.monotonic() + deadline_s
    while True:
        try:
            w.flush(5)
            return
        except StoreRefusesWrites:
            if time.monotonic() > end:
                raise
            time.sleep(0.005)  # a poll: the writer retries by itself


def test_a_block_across_150_months_is_stored_row_for_row(store: Store, tmp_path: Path) -> None:
    ensure_schema(store)
    with StoreWriter(store, Spool(tmp_path), QUICK) as w:
        w.add_events(events(0, 150, ts=months_since_1971(150)))  # one array, 150 months
        for k in range(5):  # current events of five other messages, in the same block
            w.add_events(events(1000 + 10 * k, 10))
        w.flush(60)
    assert count(store) == 200
    assert set(stored_ids(store)) >= {f"e{1000 + i}" for i in range(50)}
    assert w.stats.rows_written == 200 and len(Spool(tmp_path)) == 0
    assert w.stats.blocks_split == 1 and w.stats.rows_set_aside == 0
    assert w.health() is None


def test_a_spooled_block_across_150_months_is_split_when_drained(
    store: Store, tmp_path: Path
) -> None:
    """A block spooled while the store was down (or by an older writer) is split too."""
    ensure_schema(store)
    from hallkpi.ingest.store.batch import Batch

    batch = Batch.join(
        [
            Batch.of("events", events(0, 150, ts=months_since_1971(150))),
            Batch.of("events", events(500, 50)),
        ]
    )
    frame = Frame("events", batch.column_names, batch.encode())
    Spool(tmp_path).append(frame)
    with StoreWriter(store, Spool(tmp_path), QUICK) as w:
        w.wait_idle(60)
    assert count(store) == 200 and w.stats.blocks_drained == 1 and w.stats.blocks_split == 1
    assert frame.rows == 200
    assert frame_batch(frame).encode() == frame.block  # decodes back to the same columns


def test_only_the_row_the_store_refuses_is_set_aside(store: Store, tmp_path: Path) -> None:
    ensure_schema(store)
    store.command(
        f"ALTER TABLE {store.table('events')} ADD CONSTRAINT no_poison CHECK ticket != 'A57'"
    )
    with StoreWriter(store, Spool(tmp_path), QUICK) as w:
        w.add_events(events(0, 100))
        w.flush(60)
    assert count(store) == 99 and "e57" not in stored_ids(store)
    assert w.stats.rows_set_aside == 1 and w.stats.blocks_split == 1
    health = w.health() or ""
    assert health.startswith("store refused 1 rows, set aside in ") and "no_poison" in health
    kept = frames_of(Spool(tmp_path / "quarantine"))  # kept, not dropped
    assert [f.rows for f in kept] == [1]
    assert frame_batch(kept[0]).columns["id"].to_list() == ["e57"]
    letters = store.rows(
        f"SELECT source, kind, id, reason, payload FROM {store.table('dead_letters')} FINAL"
    )
    assert len(letters) == 1
    source, kind, ident, reason, payload = letters[0]
    assert (source, kind, ident) == ("store:events", "refused", "e57")
    assert "no_poison" in reason and '"ticket": "A57"' in payload


def test_a_read_only_store_is_retried_never_acknowledged_and_nothing_dropped(
    store: Store, tmp_path: Path
) -> None:
    ensure_schema(store)
    store.client().command("SET readonly = 2")  # this session: as a read-only user gets
    try:
        w = StoreWriter(store, Spool(tmp_path), QUICK)
        w.add_events(events(0, 30))
        with pytest.raises(StoreRefusesWrites, match="READONLY"):
            w.flush(30)
        w.add_events(events(30, 30))
        with pytest.raises(StoreRefusesWrites):
            w.flush(30)
        health = w.health() or ""
        assert health.startswith("store refuses writes: ") and "readonly" in health.lower()
        assert w.stats.refusal_episodes == 1 and w.stats.rows_set_aside == 0
        assert not (tmp_path / "quarantine").exists()
        assert eventually(lambda: len(w.spool) == 2)  # on disk meanwhile, not acknowledged
    finally:
        store.reset()  # a fresh session: the store takes writes again
    flush_until_ok(w)
    assert w.wait_idle(30)
    w.close(30)
    assert sorted(stored_ids(store)) == sorted(f"e{i}" for i in range(60))
    assert w.health() is None and w.stats.rows_written == 60


def test_a_missing_table_stops_acknowledging_until_it_is_back(store: Store, tmp_path: Path) -> None:
    ensure_schema(store)
    with StoreWriter(store, Spool(tmp_path), QUICK) as w:
        w.add_events(events(0, 10))
        w.flush(30)
        store.command(f"DROP TABLE {store.table('events')} SYNC")
        w.add_events(events(10, 10))
        with pytest.raises(StoreRefusesWrites, match="UNKNOWN_TABLE"):
            w.flush(30)
        store.command(f"DELETE FROM {store.table('schema_migrations')} WHERE 1")
        ensure_schema(store)  # the operator repairs the schema
        flush_until_ok(w)
    assert sorted(stored_ids(store)) == sorted(f"e{i}" for i in range(10, 20))
    assert w.stats.rows_set_aside == 0


def test_a_refusal_before_the_first_row_leaves_earlier_rows_acknowledged(
    store: Store, tmp_path: Path
) -> None:
    """Rows stored before the store started refusing stay acknowledged; flush only
    refuses for what it cannot vouch for."""
    ensure_schema(store)
    with StoreWriter(store, Spool(tmp_path), QUICK) as w:
        w.add_events(events(0, 10))
        w.flush(30)
        assert T0 and w.stats.rows_written == 10
        store.client().command("SET readonly = 2")
        try:
            w.add_events(events(10, 10))
            with pytest.raises(StoreRefusesWrites):
                w.flush(30)
        finally:
            store.reset()
        flush_until_ok(w)
    assert count(store) == 20
