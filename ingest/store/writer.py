"""``StoreWriter``: the asynchronous, batched writer of the store; it drops no row.

``add(table, columns)`` buffers a columnar batch and returns at once (it blocks only
when ``max_pending_rows`` wait in memory: backpressure). A background thread inserts a
table's rows as one Native block when it has ``max_rows`` rows or its oldest row waited
``max_delay_s`` (10,000 rows or 1 s by default). Then, by what the store answers
(:mod:`hallkpi.ingest.store.refusals`):

* **out of reach or busy**: a few quick retries, then the block goes to the
  :class:`Spool` (fsynced); blocks queue behind it there, in order, and the spool is
  drained oldest first once the store answers (pauses doubling up to ``backoff_max_s``).
* **refuses every write** (read-only, rights, a missing table, the store's disk):
  blocks still go to the spool, but they are **not acknowledged** until they are in the
  store; the writer retries with backoff and resumes by itself.
* **refuses this block** (too many months for one insert, a row a constraint rejects):
  the block is split and the parts retried (:mod:`hallkpi.ingest.store.delivery`); only a
  single row the store refuses while it takes other writes is set aside (kept in
  ``<spool>/quarantine``, counted, logged, in :meth:`StoreWriter.health`).
* **the spool cannot be written** (a full disk): blocks wait in memory, not
  acknowledged, and both the store and the spool are retried with backoff.

``flush()`` is the acknowledgement: it returns once every row added before it is in the
store or was spooled while the store was merely out of reach, and raises
:class:`StoreBlocked` (``StoreRefusesWrites`` or ``SpoolDiskFull``) while that cannot
happen; nothing is lost, flush again later. Inserts are idempotent
(:mod:`hallkpi.ingest.store.schema`), so a block re-sent after a crash changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hallkpi.ingest.errors import SpoolDiskFull, StoreBlocked, StoreError, WriterBackpressure
from hallkpi.ingest.store.batch import ArrivalClock, Batch, alert_columns, deadletter_columns
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.conveyor import Conveyor, Item, spool_reason
from hallkpi.ingest.store.delivery import Delivery
from hallkpi.ingest.store.spool import Frame, Spool

log = logging.getLogger("hallkpi.ingest.store")


@dataclass(frozen=True)
class WriterConfig:
    """Batching, memory and retry settings; times in seconds."""

    max_rows: int = 10_000
    max_delay_s: float = 1.0
    max_pending_rows: int = 500_000
    retries: int = 3  # quick tries of a block before spooling it (store out of reach)
    backoff_s: float = 0.1
    backoff_max_s: float = 30.0
    refused_alert_s: float = 600.0  # health reports rows set aside for this long


@dataclass
class WriterStats:
    rows_written: int = 0  # rows in the store: inserted, drained from the spool, or in parts
    blocks_written: int = 0  # successful inserts (parts and dead-letter probes included)
    blocks_spooled: int = 0
    blocks_drained: int = 0
    blocks_split: int = 0  # blocks refused whole and inserted in parts
    rows_set_aside: int = 0  # single rows the store refused, kept in <spool>/quarantine
    retries: int = 0
    refusal_episodes: int = 0  # times the store started refusing every write
    disk_full_episodes: int = 0  # times the spool started failing (full disk, OS errors)
    last_error: str | None = None
    encode_s: float = 0.0


@dataclass
class _Buffer:
    first: int  # add() number of its first batch
    since: float
    batches: list[Batch] = field(default_factory=list)
    rows: int = 0


class StoreWriter:
    """Writes columnar batches to ``store`` through ``spool``; see the module doc."""

    def __init__(
        self,
        store: Store,
        spool: Spool,
        config: WriterConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        start: bool = True,
    ) -> None:
        self.store = store
        self.spool = spool
        self.config = config or WriterConfig()
        self.stats = WriterStats()
        self._clock = clock
        self._arrivals = ArrivalClock()
        self._cond = threading.Condition()
        self._buffers: dict[str, _Buffer] = {}
        self._pending_rows = 0  # rows neither in the store nor in the spool
        self._added = 0  # batches added
        self._flush_to = 0
        self._closing = False
        self._unacked: dict[str, deque[Item]] = {}  # per table, oldest first
        self._stop = threading.Event()
        self._delivery = Delivery(store, spool.dir / "quarantine")
        self._c = Conveyor(
            spool,
            self._delivery,
            config=self.config,
            stats=self.stats,
            cond=self._cond,
            clock=clock,
            stop=self._stop,
            leave=self._release,
            ack=self._ack,
        )
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hallkpi-store-writer", daemon=True)
        if start:
            self._thread.start()

    # -- producer side -----------------------------------------------------------
    def add(self, table: str, columns: Mapping[str, Any], *, timeout: float | None = 60.0) -> None:
        """Buffers rows for ``table`` (numpy columns or PackedStrings; see Batch.of).
        The writer keeps references: do not modify the arrays afterwards."""
        batch = Batch.of(table, columns, self._arrivals)
        if batch.rows == 0:
            return
        with self._cond:
            self._raise_if_failed()
            limit = self.config.max_pending_rows
            ok = self._cond.wait_for(
                lambda: self._pending_rows == 0 or self._pending_rows + batch.rows <= limit,
                timeout,
            )
            if not ok:
                raise WriterBackpressure(
                    f"{self._pending_rows} rows wait for the store; none freed in {timeout} s"
                )
            buf = self._buffers.get(table)
            if buf is None or not buf.batches:
                buf = self._buffers[table] = _Buffer(self._added, self._clock())
            buf.batches.append(batch)
            buf.rows += batch.rows
            self._pending_rows += batch.rows
            self._added += 1
            if buf.rows >= self.config.max_rows:
                self._cond.notify_all()

    def add_events(self, columns: Mapping[str, Any], *, timeout: float | None = 60.0) -> None:
        """Buffers events (push_columns-style columns; ``ingest_seq`` assigned if absent)."""
        self.add("events", columns, timeout=timeout)

    def add_snapshot(self, snapshot: Mapping[str, Any], staff: Mapping[str, Any]) -> None:
        """Buffers ``engine.snapshot_columns()`` and ``engine.staff_columns()``."""
        self.add("hall_kpis", snapshot)
        self.add("staff_kpis", staff)

    def add_alerts(self, changes: Sequence[Mapping[str, Any]]) -> None:
        """Buffers alert changes (``engine.drain_alerts()``)."""
        if changes:
            self.add("alerts", alert_columns(changes))

    def add_deadletters(
        self, rows: Sequence[Mapping[str, Any]], *, timeout: float | None = 60.0
    ) -> None:
        """Buffers dead letters for ``dead_letters``, one dict each::

            {"ts": 1764205200000,          # ms since the epoch (when it arrived)
             "topic": "hallkpi/halls/yuhua/events",
             "reason": "invalid JSON: ...",
             "payload": b"..." or "..."}   # cut to its first 4 KiB here too

        stored as ``source = "mqtt:" + topic``, ``kind = "rejected"``, ``position`` =
        ``ingest_seq`` = the arrival (unique per writer). Optional keys ``source``,
        ``kind``, ``hall`` and ``id`` override those; any other key is a ValueError.
        Like every row, they are acknowledged by the next ``flush()``."""
        if rows:
            self.add("dead_letters", deadletter_columns(rows, self._arrivals), timeout=timeout)

    def flush(self, timeout: float | None = None) -> None:
        """Returns once every row added so far is in the store or in the spool (spooled
        while the store was out of reach). Raises StoreRefusesWrites or SpoolDiskFull
        (both StoreBlocked) while that cannot be, TimeoutError after ``timeout``."""
        with self._cond:
            target = self._added
            self._flush_to = max(self._flush_to, target)
            self._cond.notify_all()
            if not self._cond.wait_for(
                lambda: self._low_water() >= target or self._error is not None or self._c.stalled(),
                timeout,
            ):
                raise TimeoutError(f"flush did not finish in {timeout} s")
            self._raise_if_failed()
            if self._low_water() < target:
                raise self._c.stall_error()

    def health(self) -> str | None:
        """None while all is well, else why not, in one line without secrets:
        "store refuses writes: ...", "spool disk full: ..." (or "spool not writable:
        ..."), "store unreachable, spooling N blocks: ...", "store refused N rows, set
        aside in DIR: ..." (for ``refused_alert_s`` after the last), "store writer
        stopped: ..." (a bug)."""
        if self._error is not None:
            return f"store writer stopped: {self._error}"
        c = self._c
        if c.refusing is not None:
            return f"store refuses writes: {c.refusing}"
        if c.spool_trouble is not None and (c.held or len(self.spool)):
            return c.spool_trouble
        if c.unreachable is not None and len(self.spool):
            return f"store unreachable, spooling {len(self.spool)} blocks: {c.unreachable}"
        cursor = self.spool.cursor_error
        if cursor is not None:
            return f"{spool_reason(cursor)} (the drain position is not written)"
        at = c.set_aside_at
        if at is not None and self._clock() - at < self.config.refused_alert_s:
            return (
                f"store refused {self.stats.rows_set_aside} rows, set aside in "
                f"{self._delivery.quarantine_dir}: {self._delivery.last_refusal}"
            )
        return None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Waits (without forcing a flush) until no row is buffered or held and the spool
        is empty; False if that did not happen within ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (
                    (self._pending_rows == 0 and not len(self.spool)) or self._error is not None
                ),
                timeout,
            )

    def close(self, timeout: float | None = None) -> None:
        """Flushes, stops the thread and tries one last drain of the spool. Blocks the
        store refuses stay in the spool (for the next start); rows that could go to
        neither raise SpoolDiskFull (they were never acknowledged)."""
        if self._thread.is_alive():
            try:
                self.flush(timeout)
            except StoreBlocked as exc:
                log.warning("closing the store writer while %s", exc)
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._stop.set()
            self._thread.join(timeout)
        c = self._c
        if c.refusing is not None and len(self.spool):
            log.warning(
                "the store refuses writes: %d blocks stay in %s", len(self.spool), self.spool.dir
            )
        started = self._thread.ident is not None
        if self._pending_rows and started and not self._thread.is_alive() and not self._error:
            text = f"{self._pending_rows} rows were neither stored nor spooled"
            if c.spool_trouble is not None:
                raise SpoolDiskFull(f"{text}: {c.spool_trouble}")
            raise StoreBlocked(f"{text}: {c.refusing or 'the writer was stopped'}")

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wake(self) -> None:
        """Makes the thread re-check its deadlines now (e.g. after a test moved the clock)."""
        with self._cond:
            self._cond.notify_all()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise StoreError(f"the store writer stopped: {self._error}") from self._error

    # -- acknowledgement (under the lock) ----------------------------------------------
    def _low_water(self) -> int:
        """The add() number of the oldest batch not yet acknowledged."""
        low = self._added
        for buf in self._buffers.values():
            if buf.batches:
                low = min(low, buf.first)
        for items in self._unacked.values():
            if items:
                low = min(low, items[0].first)
        return low

    def _release(self, item: Item, acked: bool) -> None:
        self._pending_rows -= item.rows

    def _ack(self, item: Item) -> None:
        item.acked = True
        items = self._unacked[item.table]
        while items and items[0].acked:
            items.popleft()

    # -- the thread --------------------------------------------------------------
    def _take_due(self) -> list[Item]:
        """Buffers to write now, as items (under the lock)."""
        now, c = self._clock(), self.config
        out = []
        for table, buf in list(self._buffers.items()):
            if not buf.batches:
                continue
            forced = self._closing or buf.first < self._flush_to
            if forced or buf.rows >= c.max_rows or buf.since + c.max_delay_s <= now:
                item = Item(table, buf.first, buf.rows, buf.batches)
                self._unacked.setdefault(table, deque()).append(item)
                out.append(item)
                del self._buffers[table]
        return out

    def _wait_s(self) -> float | None:
        now = self._clock()
        waits = [
            b.since + self.config.max_delay_s - now for b in self._buffers.values() if b.batches
        ]
        more = self._c.wait_s(now)
        if more is not None:
            waits.append(more)
        return min(waits) if waits else None

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while True:
                        items, closing = self._take_due(), self._closing
                        if items or closing:
                            break
                        wait = self._wait_s()
                        if wait is not None and wait <= 0:
                            break
                        self._cond.wait(wait)
                for item in items:
                    self._encode(item)
                    self._c.held.append(item)
                self._c.advance(closing)
                if closing:
                    return
        except BaseException as exc:  # a bug: surface it to producers
            log.exception("store writer failed")
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    def _encode(self, item: Item) -> None:
        t0 = time.perf_counter()
        batch = Batch.join(item.batches)
        item.batch, item.batches = batch, []
        item.frame = Frame(batch.table.name, batch.column_names, batch.encode())
        self.stats.encode_s += time.perf_counter() - t0
