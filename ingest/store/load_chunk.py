"""One chunk of JSON lines into stored-event columns: the part of ``hallkpi load`` that
runs in worker processes. Pure: bytes in, a :class:`ChunkResult` out.

The engine decides what is valid (a throwaway Engine per process validates each
chunk); valid events are decoded (:mod:`jsonl`) and de-duplicated by id within the
chunk (the first valid arrival wins, as in the engine). Positions are local to the
chunk (lines from 1, arrivals from 0); the caller shifts them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from hallkpi.core.engine import Engine
from hallkpi.ingest.store.jsonl import decode_events, event_columns_and_ids, lenient

POSITION_BITS = 16
"""A position is ``line << 16 | element`` (the element of an array line, else 0)."""


class Validator:
    """Engine validation only: a throwaway engine whose state nobody reads."""

    def __init__(self, max_payload_bytes: int = 262144) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.engine = Engine(
            horizons_s=(900,),  # the coarsest allowed: one pane, the least state
            pane_ms=900_000,
            alert_rules=(),
            max_payload_bytes=max_payload_bytes,
        )

    def lines(self, chunk: bytes) -> dict[int, str]:
        """Rejected lines of ``chunk``: line (1-based) -> reason (the first, if several
        elements of an array line were rejected)."""
        out: dict[int, str] = {}
        for line, reason in self.engine.push_jsonl(chunk).rejections:
            out.setdefault(line, reason)
        return out

    def elements(self, line: bytes) -> list[tuple[int, str]]:
        """Rejected elements of an array line: (element, 0-based; reason)."""
        return list(self.engine.push_json(line).rejections)


@dataclass
class DeadArrival:
    """A rejected or duplicate arrival; ``ts`` is -1 for a rejection (stamped later with
    the largest valid ts seen before it), ``clock`` the largest valid ts of the chunk
    before it."""

    position: int
    arrival: int
    kind: str
    reason: str
    payload: bytes = b""
    ts: int = -1
    clock: int = -1
    hall: str = ""
    id: str = ""


@dataclass
class ChunkResult:
    """Columns of the kept events (rows grouped by type; ``ingest_seq`` holds local
    arrival numbers), their ids and positions, and the dead arrivals."""

    lines: int
    arrivals: int
    digest: bytes
    columns: dict[str, Any] | None = None
    ids: list[str] = field(default_factory=list)
    positions: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    dead: list[DeadArrival] = field(default_factory=list)
    max_ts: int = -1


_VALIDATORS: dict[int, Validator] = {}


def _validator(max_payload_bytes: int) -> Validator:
    v = _VALIDATORS.get(max_payload_bytes)
    if v is None:
        v = _VALIDATORS[max_payload_bytes] = Validator(max_payload_bytes)
    return v


class _Chunk:
    def __init__(self, validator: Validator) -> None:
        self.validator = validator
        self.arrivals = 0
        self.clock = -1
        self.events: list[Any] = []
        self.positions: list[int] = []
        self.arrival_of: list[int] = []
        self.dead: list[DeadArrival] = []
        self.pending: list[bytes] = []
        self.pending_at: list[int] = []

    def flush(self) -> None:
        if self.pending:
            events = decode_events(self.pending)
            for e, line_no in zip(events, self.pending_at, strict=True):
                self.event(e, line_no << POSITION_BITS)
            self.pending, self.pending_at = [], []

    def event(self, e: Any, position: int) -> None:
        self.events.append(e)
        self.positions.append(position)
        self.arrival_of.append(self.arrivals)
        self.arrivals += 1
        self.clock = max(self.clock, e.ts)

    def reject(self, line_no: int, element: int, reason: str, payload: bytes) -> None:
        position = (line_no << POSITION_BITS) | element
        self.dead.append(
            DeadArrival(position, self.arrivals, "rejected", reason, payload, clock=self.clock)
        )
        self.arrivals += 1

    def array(self, line_no: int, line: bytes) -> None:
        bad = dict(self.validator.elements(line))
        try:
            items = msgspec.json.decode(line)
            whole = len(line) > self.validator.max_payload_bytes or not isinstance(items, list)
        except msgspec.DecodeError:
            whole = True
        if whole:  # the engine rejected the payload as a whole
            for _, reason in sorted(bad.items()):
                self.reject(line_no, 0, reason, line)
            return
        for k, item in enumerate(items):
            if k in bad:
                self.reject(line_no, k, bad[k], line)
            else:
                self.event(lenient(item), (line_no << POSITION_BITS) | k)


def parse_chunk(data: bytes, max_payload_bytes: int = 262144) -> ChunkResult:
    """Validates and decodes one chunk of whole JSON lines."""
    validator = _validator(max_payload_bytes)
    rejected = validator.lines(data)
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    c = _Chunk(validator)
    if not rejected and data[:1] == b"{" and data.count(b"\n{") >= len(lines) - 1:
        c.pending, c.pending_at = lines, list(range(1, len(lines) + 1))  # the common case
    else:
        for i, line in enumerate(lines, 1):
            head = line.lstrip()[:1]
            if head == b"[":
                c.flush()
                c.array(i, line)
            elif i in rejected:
                c.flush()
                c.reject(i, 0, rejected[i], line)
            elif head:
                c.pending.append(line)
                c.pending_at.append(i)
    c.flush()
    result = ChunkResult(len(lines), c.arrivals, hashlib.sha256(data).digest(), dead=c.dead)
    if c.events:
        _columns(c, result)
    return result


def _columns(c: _Chunk, out: ChunkResult) -> None:
    cols, order, ids = event_columns_and_ids(c.events)
    keep = np.ones(len(c.events), bool)
    if len(set(ids)) != len(ids):  # the same id twice in the chunk: later arrivals go
        seen: set[str] = set()
        for k, e in enumerate(c.events):
            if e.id in seen:
                keep[k] = False
                c.dead.append(
                    DeadArrival(
                        c.positions[k],
                        c.arrival_of[k],
                        "duplicate",
                        "",
                        ts=e.ts,
                        hall=e.hall,
                        id=e.id,
                    )
                )
            seen.add(e.id)
        c.dead.sort(key=attrgetter("arrival"))
        events = [e for e, k in zip(c.events, keep.tolist(), strict=True) if k]
        cols, order, ids = event_columns_and_ids(events)
    cols["ingest_seq"] = np.asarray(c.arrival_of, np.uint64)[keep][order]
    out.columns = cols
    out.ids = ids
    out.positions = np.asarray(c.positions, np.int64)[keep][order]
    out.max_ts = int(cols["ts"].max())
