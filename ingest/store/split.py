"""Splitting a block the store refused: back from the writer's Native block to columns,
parts by partition first (a block spanning more months than the store takes in one
insert), then halves, down to single rows; and a refused row as readable JSON.

Only the error path comes here, so the String decoder walks rows in Python."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from hallkpi.ingest.store.batch import Batch
from hallkpi.ingest.store.native import NUMERIC_DTYPES, PackedStrings, wire_type
from hallkpi.ingest.store.schema import TABLES
from hallkpi.ingest.store.spool import Frame

MONTHLY = "toYYYYMM(ts)"


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = memoryview(data), 0

    def varint(self) -> int:
        shift = out = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            out |= (byte & 0x7F) << shift
            if byte < 0x80:
                return out
            shift += 7

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError("truncated Native block")
        view = self.data[self.pos : self.pos + n]
        self.pos += n
        return view

    def text(self) -> str:
        return bytes(self.take(self.varint())).decode()


def _strings(c: _Cursor, rows: int) -> PackedStrings:
    lengths = np.zeros(rows, np.int64)
    chunks = []
    for i in range(rows):
        n = c.varint()
        lengths[i] = n
        chunks.append(c.take(n))
    return PackedStrings(np.frombuffer(b"".join(chunks), np.uint8), lengths)


def _column(c: _Cursor, wire: str, rows: int) -> Any:
    if wire == "String":
        return _strings(c, rows)
    if wire.startswith("DateTime64"):
        return np.frombuffer(c.take(rows * 8), "<i8").astype(np.int64)
    if wire.startswith("Nullable(") and wire[9:-1] in NUMERIC_DTYPES:
        nulls = np.frombuffer(c.take(rows), np.uint8).astype(bool)
        values = np.frombuffer(
            c.take(rows * np.dtype(NUMERIC_DTYPES[wire[9:-1]]).itemsize), NUMERIC_DTYPES[wire[9:-1]]
        )
        out = values.astype(np.float64)
        out[nulls] = np.nan
        return out
    if wire in NUMERIC_DTYPES:
        dt = np.dtype(NUMERIC_DTYPES[wire])
        return np.frombuffer(c.take(rows * dt.itemsize), dt).copy()
    raise ValueError(f"no decoder for {wire}")


def frame_batch(frame: Frame) -> Batch:
    """The columns of a block the writer encoded (the inverse of ``Batch.encode``)."""
    table = TABLES.get(frame.table)
    if table is None:
        raise ValueError(f"a spooled block for an unknown table {frame.table!r}")
    c = _Cursor(frame.block)
    ncols, rows = c.varint(), c.varint()
    columns: dict[str, Any] = {}
    types = []
    for _ in range(ncols):
        name, wire = c.text(), c.text()
        columns[name] = _column(c, wire, rows)
        types.append((name, wire))
    if tuple(columns) != table.column_names:
        # spooled by another version of the writer: its parts keep its own columns
        table = dataclasses.replace(table, columns=tuple(types))
    return Batch(table, columns, rows)


def take(batch: Batch, mask: npt.NDArray[np.bool_]) -> Batch:
    """The rows of ``batch`` where ``mask`` is set, in order."""
    cols = {
        name: col.take(mask) if isinstance(col, PackedStrings) else np.asarray(col)[mask]
        for name, col in batch.columns.items()
    }
    return Batch(batch.table, cols, int(mask.sum()))


def _months(batch: Batch) -> npt.NDArray[np.int64] | None:
    if batch.table.partition_by != MONTHLY:
        return None
    ts = np.asarray(batch.columns["ts"], np.int64)
    months: npt.NDArray[np.int64] = (
        ts.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    )
    return months


def parts(batch: Batch) -> Iterator[Batch]:
    """A refused block in smaller blocks: one per partition when it spans several,
    else its two halves (in row order)."""
    months = _months(batch)
    if months is not None:
        keys, first = np.unique(months, return_index=True)
        if len(keys) > 1:
            for key in keys[np.argsort(first)]:
                yield take(batch, months == key)
            return
    mask = np.zeros(batch.rows, bool)
    mask[: batch.rows // 2] = True
    yield take(batch, mask)
    yield take(batch, ~mask)


def row_json(batch: Batch) -> str:
    """The (first) row of ``batch`` as a JSON object of its non-empty columns."""
    row: dict[str, Any] = {}
    for name, typ in batch.table.columns:
        col = batch.columns[name]
        if isinstance(col, PackedStrings):
            value: Any = bytes(col.data[: int(col.lengths[0])]).decode("utf-8", "replace")
        elif wire_type(typ) == "String":
            value = str(col[0])
        else:
            value = np.asarray(col)[0].item()
            if isinstance(value, float) and math.isnan(value):
                value = None
        if value not in ("", None):
            row[name] = value
    return json.dumps(row, ensure_ascii=False)
