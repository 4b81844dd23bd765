"""The writer's conveyor: encoded blocks on their way from memory to the store or the
spool, the spool's drain, and what the store and the disk said last (with backoff).

A block leaves memory once it is in the store or in the spool. It is acknowledged then,
except when it was spooled while the store refuses every write: then it is acknowledged
when the drain gets past it (see :mod:`hallkpi.ingest.store.writer`).
"""

from __future__ import annotations

import errno
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hallkpi.ingest.errors import SpoolDiskFull, StoreBlocked, StoreRefusesWrites
from hallkpi.ingest.store.batch import Batch
from hallkpi.ingest.store.delivery import Delivery, Outcome, Result
from hallkpi.ingest.store.spool import Frame, Spool, SpoolFull

if TYPE_CHECKING:
    from hallkpi.ingest.store.writer import WriterConfig, WriterStats

log = logging.getLogger("hallkpi.ingest.store")


@dataclass(eq=False)
class Item:
    """One block on its way: in memory (held) until it is in the store or the spool."""

    table: str
    first: int  # add() number of its first batch
    rows: int
    batches: list[Batch]
    frame: Frame | None = None
    batch: Batch | None = None
    acked: bool = False


def spool_reason(exc: BaseException | None) -> str:
    if not isinstance(exc, OSError):
        return f"spool not writable: {exc}"
    full = isinstance(exc, SpoolFull) or exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return f"{'spool disk full' if full else 'spool not writable'}: {exc}"


class Conveyor:
    """Held blocks, the spool and the store's state, for the writer's thread. Every
    change of state happens under ``cond`` and wakes its waiters; ``leave(item, acked)``
    is called (under ``cond``) when a block leaves memory."""

    def __init__(
        self,
        spool: Spool,
        delivery: Delivery,
        *,
        config: WriterConfig,
        stats: WriterStats,
        cond: threading.Condition,
        clock: Callable[[], float],
        stop: threading.Event,
        leave: Callable[[Item, bool], None],
        ack: Callable[[Item], None],
    ) -> None:
        self.spool, self.delivery, self.config, self.stats = spool, delivery, config, stats
        self._cond, self._clock, self._stop = cond, clock, stop
        self._on_leave, self._on_ack = leave, ack
        self.held: deque[Item] = deque()
        self._after_drain: deque[tuple[int, Item]] = deque()  # (spool position, item)
        self._spool_next = len(spool)  # position of the next frame appended
        self._popped = 0  # frames consumed since open
        self._store_at = self._spool_at = 0.0  # no attempt before (backoff)
        self._store_failures = self._spool_failures = 0
        self.refusing: str | None = None  # the store refuses every write
        self.unreachable: str | None = None
        self.spool_trouble: str | None = None
        self.set_aside_at: float | None = None

    # -- state for the writer (under the lock) -------------------------------------------
    def wait_s(self, now: float) -> float | None:
        waits = []
        if len(self.spool) or self.held:
            waits.append(self._store_at - now)
        if self.held or self.spool.cursor_error is not None:
            waits.append(self._spool_at - now)
        return min(waits) if waits else None

    def stalled(self) -> bool:
        return self.refusing is not None or (self.spool_trouble is not None and bool(self.held))

    def stall_error(self) -> StoreBlocked:
        if self.refusing is not None:
            return StoreRefusesWrites(f"store refuses writes: {self.refusing}")
        return SpoolDiskFull(self.spool_trouble or "the spool cannot be written")

    # -- moving on (the writer's thread) ---------------------------------------------------
    def advance(self, closing: bool) -> None:
        """Moves the spool and the held blocks on as far as the store and disk allow."""
        if len(self.spool) and (closing or self._clock() >= self._store_at):
            self._drain()
        while self.held:
            item = self.held[0]
            direct = not len(self.spool) and (closing or self._clock() >= self._store_at)
            if direct and self._send(item).outcome is Outcome.STORED:
                self._leave(item, acked=True)
                continue
            if not closing and self._clock() < self._spool_at:
                break
            if not self._to_spool(item):
                break
        due = closing or self._clock() >= self._spool_at
        if self.spool.cursor_error is not None and due:
            if self.spool.sync():
                self._spool_ok()
            else:
                self._spool_failed(self.spool.cursor_error)

    def _send(self, item: Item) -> Result:
        assert item.frame is not None
        delay = self.config.backoff_s
        for attempt in range(max(self.config.retries, 1)):
            result = self.delivery.send(item.frame, item.batch)
            if result.outcome is Outcome.STORED:
                self._stored(result)
                return result
            if result.outcome is not Outcome.UNREACHABLE or attempt + 1 >= self.config.retries:
                break
            log.warning("insert into %s failed (try %d): %s", item.table, attempt + 1, result.error)
            self.stats.retries += 1
            self._stop.wait(delay)
            delay = min(delay * 2, self.config.backoff_max_s)
        self._store_failed(result)
        return result

    def _leave(self, item: Item, *, acked: bool, position: int | None = None) -> None:
        """``item`` is in the store or (at ``position``) in the spool: out of memory."""
        with self._cond:
            self.held.popleft()
            item.frame = item.batch = None
            self._on_leave(item, acked)
            if acked:
                self._on_ack(item)
            else:  # acknowledged once the drain gets past it
                assert position is not None
                self._after_drain.append((position, item))
            if not self.held:  # nothing waits for the spool any more
                self.spool_trouble = None
            self._cond.notify_all()

    def _to_spool(self, item: Item) -> bool:
        assert item.frame is not None
        try:
            self.spool.append(item.frame)
        except OSError as exc:
            self._spool_failed(exc)
            return False
        position, self._spool_next = self._spool_next, self._spool_next + 1
        self.stats.blocks_spooled += 1
        self._spool_ok()
        refusing = self.refusing is not None
        self._leave(item, acked=not refusing, position=position)
        return True

    def _drain(self) -> None:
        while len(self.spool):
            try:
                frame = self.spool.peek()
            except OSError as exc:
                self._spool_failed(exc)
                self._store_at = self._spool_at
                return
            if frame is None:
                return
            result = self.delivery.send(frame)
            if result.outcome is not Outcome.STORED:
                self._store_failed(result)
                return
            self.spool.pop()  # a cursor it cannot write is kept in memory (cursor_error)
            self._popped += 1
            self.stats.blocks_drained += 1
            self._stored(result)
            with self._cond:
                while self._after_drain and self._after_drain[0][0] < self._popped:
                    self._on_ack(self._after_drain.popleft()[1])
                self._cond.notify_all()
        log.info("spool drained into %s", self.delivery.store.url)

    # -- state ---------------------------------------------------------------------
    def _pause(self, failures: int) -> float:
        return min(self.config.backoff_s * float(1 << min(failures, 30)), self.config.backoff_max_s)

    def _stored(self, result: Result) -> None:
        s = self.stats
        s.rows_written += result.rows_stored
        s.blocks_written = self.delivery.blocks_written
        s.blocks_split += result.split
        if result.rows_set_aside:
            s.rows_set_aside += result.rows_set_aside
            self.set_aside_at = self._clock()
            self._spool_ok()  # the quarantine took them: the disk takes writes
        with self._cond:
            if self.refusing is not None:
                log.warning("the store takes writes again")
            self._store_failures, self._store_at = 0, 0.0
            self.refusing = self.unreachable = None
            self._cond.notify_all()

    def _store_failed(self, result: Result) -> None:
        text = str(result.error)
        self.stats.last_error = text
        self.stats.blocks_written = self.delivery.blocks_written
        with self._cond:
            self._store_failures += 1
            self._store_at = self._clock() + self._pause(self._store_failures)
            if result.outcome is Outcome.REFUSED:
                if self.refusing is None:
                    self.stats.refusal_episodes += 1
                    log.error(
                        "the store refuses writes (%s): blocks wait in the spool, "
                        "nothing new is acknowledged",
                        text,
                    )
                self.refusing = text
            elif result.outcome is Outcome.DISK:
                self._spool_failed_locked(result.error)
            else:
                if self.unreachable is None:
                    log.warning("store unavailable, spooling: %s", text)
                self.unreachable = text
            self._cond.notify_all()

    def _spool_ok(self) -> None:
        with self._cond:
            if self.spool_trouble is not None:
                log.warning("the spool takes writes again")
            self.spool_trouble = None
            self._spool_failures, self._spool_at = 0, 0.0
            self._cond.notify_all()

    def _spool_failed(self, exc: BaseException | None) -> None:
        with self._cond:
            self._spool_failed_locked(exc)
            self._cond.notify_all()

    def _spool_failed_locked(self, exc: BaseException | None) -> None:
        reason = spool_reason(exc)
        if self.spool_trouble is None:
            self.stats.disk_full_episodes += 1
            rows = sum(i.rows for i in self.held)
            log.error("%s; %d rows wait in memory, not acknowledged", reason, rows)
        self.spool_trouble = reason
        self._spool_failures += 1
        self._spool_at = self._clock() + self._pause(self._spool_failures)
