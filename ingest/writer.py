"""``StoreWriter``: the asynchronous, batched, loss-free writer of the store.

``add(table, columns)`` buffers a columnar batch and returns at once (it blocks only
when ``max_pending_rows`` are buffered: backpressure). A background thread inserts a
table's rows as one Native block when it has ``max_rows`` rows or its oldest row waited
``max_delay_s`` (10,000 rows or 1 s by default). A failed insert is retried with
exponential backoff; when retries are spent the block goes to the :class:`Spool`
(fsynced), and while anything is spooled new blocks queue behind it, so the store
receives blocks in order. The spool is drained, oldest first, once inserts succeed
again (with growing pauses between attempts while the store stays down).

``flush()`` returns when every row added before it is in the store or in the spool:
that is the acknowledgement. Inserts are idempotent (see :mod:`hallkpi.ingest.schema`),
so a block re-sent after a crash changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hallkpi.ingest.batch import ArrivalClock, Batch, alert_columns
from hallkpi.ingest.connection import Store
from hallkpi.ingest.errors import StoreError, StoreUnavailable, WriterBackpressure
from hallkpi.ingest.spool import Frame, Spool

log = logging.getLogger("hallkpi.ingest")


@dataclass(frozen=True)
class WriterConfig:
    """Batching, memory and retry settings; times in seconds."""

    max_rows: int = 10_000
    max_delay_s: float = 1.0
    max_pending_rows: int = 500_000
    retries: int = 3
    backoff_s: float = 0.1
    backoff_max_s: float = 30.0
    max_frame_failures: int = 20


@dataclass
class WriterStats:
    rows_written: int = 0
    blocks_written: int = 0
    blocks_spooled: int = 0
    blocks_drained: int = 0
    blocks_quarantined: int = 0
    retries: int = 0
    last_error: str | None = None
    encode_s: float = 0.0


@dataclass
class _Buffer:
    batches: list[Batch] = field(default_factory=list)
    rows: int = 0
    since: float = 0.0


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
        self._pending_rows = 0
        self._added = 0  # batches added
        self._delivered = 0  # batches in the store or the spool
        self._flush_to = 0
        self._closing = False
        self._drain_at = 0.0
        self._drain_failures = 0
        self._frame_failures = 0
        self._stop = threading.Event()
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
            buf = self._buffers.setdefault(table, _Buffer())
            if not buf.batches:
                buf.since = self._clock()
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

    def flush(self, timeout: float | None = None) -> None:
        """Returns once every row added so far is in the store or in the spool."""
        with self._cond:
            target = self._added
            self._flush_to = max(self._flush_to, target)
            self._cond.notify_all()
            if not self._cond.wait_for(
                lambda: self._delivered >= target or self._error is not None, timeout
            ):
                raise TimeoutError(f"flush did not finish in {timeout} s")
            self._raise_if_failed()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Waits (without forcing a flush) until no row is buffered and the spool is
        empty; False if that did not happen within ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (
                    (self._pending_rows == 0 and not len(self.spool)) or self._error is not None
                ),
                timeout,
            )

    def close(self, timeout: float | None = None) -> None:
        """Flushes, stops the thread and tries one last drain of the spool."""
        if self._thread.is_alive():
            self.flush(timeout)
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._stop.set()
            self._thread.join(timeout)

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

    # -- the thread --------------------------------------------------------------
    def _due(self) -> tuple[list[tuple[str, list[Batch]]], float | None]:
        """Buffers to write now, and how long to wait otherwise (under the lock)."""
        now = self._clock()
        ready, wait = [], None
        forced = self._closing or self._flush_to > self._delivered
        for table, buf in self._buffers.items():
            if not buf.batches:
                continue
            left = buf.since + self.config.max_delay_s - now
            if forced or buf.rows >= self.config.max_rows or left <= 0:
                ready.append((table, buf.batches))
                self._buffers[table] = _Buffer()
            else:
                wait = left if wait is None else min(wait, left)
        if len(self.spool) and not ready:
            left = self._drain_at - now
            wait = left if wait is None else min(wait, left)
        return ready, wait

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    ready, wait = self._due()
                    while not ready:
                        if self._closing:
                            break
                        if len(self.spool) and wait is not None and wait <= 0:
                            break
                        self._cond.wait(wait)
                        ready, wait = self._due()
                    closing = self._closing and not ready
                for table, batches in ready:
                    self._deliver(Batch.join(batches))
                    with self._cond:
                        rows = sum(b.rows for b in batches)
                        self._pending_rows -= rows
                        self._delivered += len(batches)
                        self._cond.notify_all()
                    log.debug("delivered %d rows to %s", rows, table)
                if len(self.spool) and (closing or self._clock() >= self._drain_at):
                    self._drain()
                if closing:
                    return
        except BaseException as exc:  # a bug or a full disk: surface it to producers
            log.exception("store writer failed")
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    def _deliver(self, batch: Batch) -> None:
        t0 = time.perf_counter()
        frame = Frame(batch.table.name, batch.column_names, batch.encode())
        self.stats.encode_s += time.perf_counter() - t0
        if len(self.spool):  # keep the order: queue behind what is spooled
            self.spool.append(frame)
            self.stats.blocks_spooled += 1
            return
        delay = self.config.backoff_s
        for attempt in range(self.config.retries):
            try:
                self._insert(frame)
                self.stats.rows_written += batch.rows
                return
            except StoreError as exc:
                self.stats.last_error = str(exc)
                log.warning("insert into %s failed (try %d): %s", frame.table, attempt + 1, exc)
                if attempt + 1 < self.config.retries:
                    self.stats.retries += 1
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.config.backoff_max_s)
        self.spool.append(frame)
        self.stats.blocks_spooled += 1
        self._drain_failures = 1
        self._drain_at = self._clock() + self.config.backoff_s
        log.warning("store unavailable: spooled %d rows of %s", batch.rows, frame.table)

    def _insert(self, frame: Frame) -> None:
        self.store.insert_native(frame.table, frame.columns, frame.block)
        self.stats.blocks_written += 1

    def _drain(self) -> None:
        try:
            self.stats.blocks_drained += self.spool.drain(self._insert)
            self._drain_failures = self._frame_failures = 0
            log.info("spool drained into %s", self.store.url)
            with self._cond:
                self._cond.notify_all()
        except StoreError as exc:
            self.stats.last_error = str(exc)
            self._drain_failures += 1
            if not isinstance(exc, StoreUnavailable):
                self._frame_failures += 1
                if self._frame_failures >= self.config.max_frame_failures:
                    self._quarantine(exc)
            pause = min(
                self.config.backoff_s * 2 ** min(self._drain_failures, 30),
                self.config.backoff_max_s,
            )
            self._drain_at = self._clock() + pause

    def _quarantine(self, exc: StoreError) -> None:
        """A block the store keeps refusing (not a connection problem) moves to
        ``<spool>/quarantine`` so the blocks behind it can go; it is kept, not dropped."""
        frame = self.spool.peek()
        if frame is None:
            return
        Spool(self.spool.dir / "quarantine").append(frame)
        self.spool.pop()
        self._frame_failures = 0
        self.stats.blocks_quarantined += 1
        log.error(
            "a block for %s was refused %s times; quarantined: %s",
            frame.table,
            self.config.max_frame_failures,
            exc,
        )
