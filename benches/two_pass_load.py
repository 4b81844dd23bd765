"""The baseline of the `hallkpi load` bench: the two-pass chunk parse that `load` used
before it parsed once (git history: ingest/store/load_chunk.py before the C++
StoreChunker). A throwaway Engine validates the chunk (``push_jsonl``), then msgspec
decodes the same lines again and Python builds the columns (``jsonl.py``). Only its
common case, every line a valid object, which is what the bench's day is."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from hallkpi.core import Engine
from hallkpi.ingest.store import load
from hallkpi.ingest.store.jsonl import decode_events, event_columns_and_ids
from hallkpi.ingest.store.load_chunk import ChunkResult

_VALIDATOR: list[Engine] = []


def two_pass_chunk(data: bytes, max_payload_bytes: int = 262144) -> ChunkResult:
    if not _VALIDATOR:
        _VALIDATOR.append(
            Engine(
                horizons_s=(900,),
                pane_ms=900_000,
                alert_rules=(),
                max_payload_bytes=max_payload_bytes,
            )
        )
    if _VALIDATOR[0].push_jsonl(data).rejections:
        raise ValueError("the two-pass baseline only takes valid lines")
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    events = decode_events(lines)
    cols, order, ids = event_columns_and_ids(events)
    cols["ingest_seq"] = np.arange(len(events), dtype=np.uint64)[order]
    out = ChunkResult(len(lines), len(events), hashlib.sha256(data).digest(), columns=cols)
    # today's Loader de-duplicates by a 64-bit id hash; Python's hash() stands in for it
    out.id_hash = np.fromiter((hash(i) & (1 << 64) - 1 for i in ids), np.uint64, len(ids))
    out.positions = (np.arange(1, len(events) + 1, dtype=np.int64) << 16)[order]
    out.max_ts = int(cols["ts"].max())
    return out


@contextmanager
def two_pass() -> Iterator[None]:
    """`load_stream` with the two-pass chunk parse, in this process."""
    saved = load.parse_chunk
    load.parse_chunk = two_pass_chunk
    try:
        yield
    finally:
        load.parse_chunk = saved
