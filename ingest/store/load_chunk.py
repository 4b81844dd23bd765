"""One chunk of JSON lines into stored-event columns: the part of ``hallkpi load`` that
runs in worker processes. Pure: bytes in, a :class:`ChunkResult` out.

The chunk is parsed once, in C++ (``_engine.StoreChunker``, ``ext/src/store_columns.hpp``):
the engine's JSON reader and its validation decide what is valid (so the store holds
exactly what ``hallkpi replay FILE`` applies), and the valid events come out as the
columns of the ``events`` table, each with the fields EVENTS.md gives its type. Within
the chunk the first valid arrival of an id wins (as in the engine). Positions are local
to the chunk (lines from 1, arrivals from 0); the caller shifts them. Rows are in
arrival order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from hallkpi.core import _engine
from hallkpi.ingest.store.native import PackedStrings

POSITION_BITS = 16
"""A position is ``line << 16 | element`` (the element of an array line, else 0)."""


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
    """Columns of the kept events (``ingest_seq`` holds local arrival numbers), the
    engine's hash of their ids (what it de-duplicates by) and positions, and the dead
    arrivals."""

    lines: int
    arrivals: int
    digest: bytes
    columns: dict[str, Any] | None = None
    id_hash: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, np.uint64))
    positions: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    dead: list[DeadArrival] = field(default_factory=list)
    max_ts: int = -1


_CHUNKERS: dict[int, _engine.StoreChunker] = {}


def _chunker(max_payload_bytes: int) -> _engine.StoreChunker:
    c = _CHUNKERS.get(max_payload_bytes)
    if c is None:
        c = _CHUNKERS[max_payload_bytes] = _engine.StoreChunker(max_payload_bytes)
    return c


def parse_chunk(data: bytes, max_payload_bytes: int = 262144) -> ChunkResult:
    """Validates one chunk of whole JSON lines and lays out its valid events."""
    r = _chunker(max_payload_bytes).parse(data)
    result = ChunkResult(
        r["lines"],
        r["arrivals"],
        hashlib.sha256(data).digest(),
        dead=[DeadArrival(*d) for d in r["dead"]],
        max_ts=r["max_ts"],
    )
    if len(r["positions"]):
        result.columns = {
            k: PackedStrings(*v) if isinstance(v, tuple) else v for k, v in r["columns"].items()
        }
        result.id_hash = r["id_hash"]
        result.positions = r["positions"]
    return result
