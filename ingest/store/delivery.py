"""One block into the store, whatever it takes short of dropping a row the store can take.

A block the store refuses because of its content (``Refusal.BLOCK``: more months than
one insert may touch, a row a constraint rejects, an unknown error) is split, by
partition first and then in halves, and the parts are inserted; a part refused again is
split again. A single row still refused is tried once more; then its dead letter is
written to ``dead_letters``, which doubles as a probe: if the store takes it, the store
takes writes and refuses only this row, which is set aside: appended to the quarantine
spool (kept, fsynced), counted, logged. If the probe fails too, the store refuses
everything and nothing is set aside.

Parts already inserted before a delivery fails are inserted again by the next attempt,
which the store's idempotent tables make harmless.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.store.batch import ArrivalClock, Batch, deadletter_columns
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.native import PackedStrings
from hallkpi.ingest.store.refusals import Refusal, classify
from hallkpi.ingest.store.split import frame_batch, parts, row_json
from hallkpi.ingest.store.spool import Frame, Spool

log = logging.getLogger("hallkpi.ingest.store")

REFUSED_KIND = "refused"  # dead_letters.kind of a row the store refused
REFUSED_SOURCE = "store"


class Outcome(enum.Enum):
    STORED = "stored"  # every row is in the store (or set aside, kept and counted)
    UNREACHABLE = "unreachable"  # the store is out of reach or busy
    REFUSED = "refused"  # the store refuses every write
    DISK = "disk"  # a refused row could not be kept: the quarantine cannot be written


@dataclass
class Result:
    outcome: Outcome
    error: BaseException | None = None
    rows_stored: int = 0
    rows_set_aside: int = 0
    split: bool = False


def _frame(batch: Batch) -> Frame:
    return Frame(batch.table.name, batch.column_names, batch.encode())


class _Failed(Exception):
    def __init__(self, outcome: Outcome, error: BaseException) -> None:
        self.outcome, self.error = outcome, error


_OUTCOME = {Refusal.UNREACHABLE: Outcome.UNREACHABLE, Refusal.STORE: Outcome.REFUSED}


class Delivery:
    """Sends frames to ``store``; refused rows go to ``quarantine_dir``."""

    def __init__(
        self, store: Store, quarantine_dir: Path, *, wall_ms: Callable[[], int] | None = None
    ) -> None:
        self.store = store
        self.quarantine_dir = quarantine_dir
        self._quarantine: Spool | None = None
        self._arrivals = ArrivalClock()
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self.blocks_written = 0
        self.last_refusal: str | None = None  # the store's reason for the last row set aside

    def send(self, frame: Frame, batch: Batch | None = None) -> Result:
        """Inserts ``frame`` (the encoded ``batch``, when the caller still has it)."""
        try:
            self._insert(frame)
            return Result(Outcome.STORED, rows_stored=batch.rows if batch else frame.rows)
        except StoreError as exc:
            kind = classify(exc)
            if kind is not Refusal.BLOCK:
                return Result(_OUTCOME[kind], exc)
            first = exc
        try:
            whole = batch if batch is not None else frame_batch(frame)
        except (ValueError, IndexError) as exc:  # not our encoding: keep the block as it is
            log.error("a refused %s block cannot be split (%s); setting it aside", frame.table, exc)
            letter = self._letter(frame.table, None, frame.block, first)
            return self._keep_aside([], [frame], first, [letter])
        if whole.rows <= 1:
            return self._rows([whole], first)
        return self._split(whole, first)

    def _insert(self, frame: Frame) -> None:
        self.store.insert_native(frame.table, frame.columns, frame.block)
        self.blocks_written += 1

    def _split(self, whole: Batch, first: StoreError) -> Result:
        log.warning(
            "the store refused a block of %d %s rows (%s); splitting it",
            whole.rows,
            whole.table.name,
            first,
        )
        stored, refused = 0, []
        stack = list(reversed(list(parts(whole))))
        try:
            while stack:
                part = stack.pop()
                try:
                    self._insert(_frame(part))
                    stored += part.rows
                    continue
                except StoreError as exc:
                    kind = classify(exc)
                    if kind is not Refusal.BLOCK:
                        raise _Failed(_OUTCOME[kind], exc) from None
                    if part.rows > 1:
                        stack.extend(reversed(list(parts(part))))
                    else:
                        refused.append((part, exc))
        except _Failed as f:
            return Result(f.outcome, f.error, split=True)
        result = self._rows([p for p, _ in refused], refused[-1][1] if refused else first)
        result.rows_stored += stored
        result.split = True
        return result

    def _rows(self, rows: list[Batch], error: StoreError) -> Result:
        """Single rows refused for their content: tried once more, then, if the store
        takes their dead letters (the probe), set aside."""
        kept, stored = [], 0
        for row in rows:
            try:
                self._insert(_frame(row))
                stored += 1
            except StoreError as exc:
                kind = classify(exc)
                if kind is not Refusal.BLOCK:
                    return Result(_OUTCOME[kind], exc)
                kept.append((row, exc))
        if not kept:
            return Result(Outcome.STORED, rows_stored=stored)
        letters = [self._letter(r.table.name, r, r.encode(), e) for r, e in kept]
        result = self._keep_aside([r for r, _ in kept], [], kept[-1][1], letters)
        result.rows_stored += stored
        return result

    def _keep_aside(
        self, rows: list[Batch], frames: list[Frame], error: BaseException, letters: list[Batch]
    ) -> Result:
        try:  # the probe: a store that refuses even these refuses everything
            self._insert(_frame(Batch.join(letters)))
        except StoreError as exc:
            return Result(_OUTCOME.get(classify(exc), Outcome.REFUSED), exc)
        count = sum(r.rows for r in rows) + sum(f.rows for f in frames)
        frames = [*frames, _frame(Batch.join(rows))] if rows else frames
        try:
            if self._quarantine is None:
                self._quarantine = Spool(self.quarantine_dir)
            for f in frames:
                self._quarantine.append(f)
        except OSError as exc:
            return Result(Outcome.DISK, exc)
        self.last_refusal = str(error)
        log.error(
            "the store refused %d %s row(s); set aside in %s: %s",
            count,
            frames[0].table,
            self.quarantine_dir,
            error,
        )
        return Result(Outcome.STORED, error, rows_set_aside=count)

    def _letter(self, table: str, row: Batch | None, block: bytes, error: BaseException) -> Batch:
        """The ``dead_letters`` row of a refused row (or block); its position is a hash
        of the block, so a second attempt collapses onto the first."""
        digest = hashlib.blake2b(table.encode() + block, digest_size=8).digest()
        what = "row" if row is not None else "block (it could not be split)"
        cols = deadletter_columns(
            [
                {
                    "ts": self._wall_ms(),
                    "topic": table,
                    "source": f"{REFUSED_SOURCE}:{table}",
                    "kind": REFUSED_KIND,
                    "hall": _first(row.columns.get("hall")) if row is not None else "",
                    "id": _first(row.columns.get("id")) if row is not None else "",
                    "reason": f"the store refused this {table} {what}: {error}"[:1000],
                    "payload": row_json(row) if row is not None else "",
                }
            ],
            self._arrivals,
        )
        cols["position"] = np.array([int.from_bytes(digest, "little")], np.uint64)
        return Batch.of("dead_letters", cols)


def _first(col: object) -> str:
    if isinstance(col, PackedStrings) and len(col):
        return bytes(col.data[: int(col.lengths[0])]).decode("utf-8", "replace")
    return ""
