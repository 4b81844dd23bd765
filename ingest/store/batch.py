"""Rows for one table as columns: checked, completed with defaults, joined and encoded
as one Native block (the writer's unit of insert and of spooling)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from hallkpi.ingest.store.native import PackedStrings, encode_block, wire_type
from hallkpi.ingest.store.schema import TABLES, Table

Columns = Mapping[str, Any]


def _is_string(table_type: str) -> bool:
    return wire_type(table_type) == "String"


def _rows(columns: Columns) -> int:
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


_REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("id", "type", "ts", "hall"),
    "dead_letters": ("source", "position", "kind"),
    "hall_kpis": ("ts", "hall", "horizon"),
    "staff_kpis": ("ts", "hall", "staff", "horizon"),
    "alerts": ("ts", "hall", "alert", "state"),
    "upstream_gaps": ("ts", "hall", "producer", "first_seq", "last_seq", "state"),
    "extension_events": ("hall", "ts", "id", "type"),
}


class ArrivalClock:
    """Strictly increasing ``ingest_seq`` values: nanoseconds since the epoch at arrival
    (thread-safe: the service adds from its event loop and from worker threads)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> npt.NDArray[np.uint64]:
        with self._lock:
            start = max(time.time_ns(), self._last + 1)
            self._last = start + n - 1
        return np.arange(start, start + n, dtype=np.uint64)


@dataclass(frozen=True)
class Batch:
    """Checked columns of ``rows`` rows for ``table`` (every non-materialized column)."""

    table: Table
    columns: dict[str, Any]
    rows: int

    @classmethod
    def of(cls, table: str, columns: Columns, arrivals: ArrivalClock | None = None) -> Batch:
        """Checks ``columns`` against ``table``: unknown names are an error, missing
        optional columns default to empty/0/NULL, ``ingest_seq`` is assigned if absent."""
        t = TABLES.get(table)
        if t is None:
            raise ValueError(f"unknown table {table!r} (known: {', '.join(TABLES)})")
        unknown = set(columns) - set(t.column_names)
        if unknown:
            raise ValueError(f"{table}: unknown columns {sorted(unknown)}")
        missing = [c for c in _REQUIRED[table] if c not in columns]
        if missing:
            raise ValueError(f"{table}: missing columns {missing}")
        n = _rows(columns)
        out: dict[str, Any] = {}
        for name, typ in t.columns:
            col = columns.get(name)
            if col is None:
                if name == "ingest_seq":
                    col = (arrivals or ArrivalClock()).take(n)
                elif _is_string(typ):
                    col = PackedStrings(np.zeros(0, np.uint8), np.zeros(n, np.int64))
                elif typ.startswith("Nullable"):
                    col = np.full(n, np.nan)
                else:
                    col = np.zeros(n, np.int64)
            out[name] = col
        return cls(t, out, n)

    @staticmethod
    def join(batches: Sequence[Batch]) -> Batch:
        """One batch of the rows of several batches of one table, in order."""
        if len(batches) == 1:
            return batches[0]
        t = batches[0].table
        cols: dict[str, Any] = {}
        for name, typ in t.columns:
            parts = [b.columns[name] for b in batches]
            if _is_string(typ):
                cols[name] = PackedStrings.concat([PackedStrings.of(p) for p in parts])
            else:
                cols[name] = np.concatenate([np.asarray(p) for p in parts])
        return Batch(t, cols, sum(b.rows for b in batches))

    def encode(self) -> bytes:
        """The Native block of this batch."""
        return encode_block(
            [(name, typ, self.columns[name]) for name, typ in self.table.columns], self.rows
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        return self.table.column_names


def alert_columns(changes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``alerts`` columns from the engine's alert changes (``drain_alerts()``)."""
    return {
        "ts": np.array([c["ts"] for c in changes], np.int64),
        "hall": PackedStrings.from_strs([c["hall"] for c in changes]),
        "alert": PackedStrings.from_strs([c["alert"] for c in changes]),
        "state": PackedStrings.from_strs([c["state"] for c in changes]),
        "value": np.array(
            [np.nan if c["value"] is None else c["value"] for c in changes], np.float64
        ),
        "threshold": np.array([c["threshold"] for c in changes], np.float64),
    }


DEADLETTER_PAYLOAD_BYTES = 4096
_DEADLETTER_KEYS = {"ts", "topic", "reason", "payload"}
_DEADLETTER_OPTIONAL = {"source", "kind", "hall", "id"}


def _payload(value: object) -> bytes:
    if isinstance(value, str):
        raw = value.encode("utf-8", "replace")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raw = b"" if value is None else str(value).encode("utf-8")
    if len(raw) <= DEADLETTER_PAYLOAD_BYTES:
        return raw
    # cut at a character boundary, so the stored text stays valid UTF-8
    return raw[:DEADLETTER_PAYLOAD_BYTES].decode("utf-8", "ignore").encode("utf-8")


def deadletter_columns(rows: Sequence[Mapping[str, Any]], arrivals: ArrivalClock) -> dict[str, Any]:
    """``dead_letters`` columns of dead-letter dicts ``{ts, topic, reason, payload}``
    (``ts`` ms since the epoch, ``payload`` str or bytes, cut to 4 KiB), optionally with
    ``source`` (default ``"mqtt:" + topic``), ``kind`` (default ``"rejected"``), ``hall``
    and ``id``. ``position`` and ``ingest_seq`` are the arrival (unique per writer)."""
    for row in rows:
        missing = _DEADLETTER_KEYS - set(row)
        unknown = set(row) - _DEADLETTER_KEYS - _DEADLETTER_OPTIONAL
        if missing or unknown:
            raise ValueError(
                f"a dead letter has keys {sorted(row)}; it needs {sorted(_DEADLETTER_KEYS)} "
                f"(optional: {sorted(_DEADLETTER_OPTIONAL)})"
            )
    seq = arrivals.take(len(rows))
    return {
        "source": PackedStrings.from_strs(
            [str(r.get("source") or f"mqtt:{r['topic']}") for r in rows]
        ),
        "position": seq,
        "ingest_seq": seq,
        "ts": np.array([int(r["ts"]) for r in rows], np.int64),
        "kind": PackedStrings.from_strs([str(r.get("kind") or "rejected") for r in rows]),
        "hall": PackedStrings.from_strs([str(r.get("hall") or "") for r in rows]),
        "id": PackedStrings.from_strs([str(r.get("id") or "") for r in rows]),
        "reason": PackedStrings.from_strs([str(r["reason"]) for r in rows]),
        "payload": PackedStrings.from_bytes([_payload(r["payload"]) for r in rows]),
    }
