"""Rows for one table as columns: checked, completed with defaults, joined and encoded
as one Native block (the writer's unit of insert and of spooling)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from hallkpi.ingest.native import PackedStrings, encode_block, wire_type
from hallkpi.ingest.schema import TABLES, Table

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
}


class ArrivalClock:
    """Strictly increasing ``ingest_seq`` values: nanoseconds since the epoch at arrival."""

    def __init__(self) -> None:
        self._last = 0

    def take(self, n: int) -> npt.NDArray[np.uint64]:
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
