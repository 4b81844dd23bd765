"""ClickHouse's Native format, columnar both ways, with numpy and no per-row Python.

:func:`encode_block` turns columns into one Native block for an insert (strings as
:class:`PackedStrings`, numbers as numpy arrays); :func:`read_blocks` decodes a Native
result of fixed-width columns (``FixedString(N)``, numbers, ``Nullable`` numbers) into
numpy arrays, e.g. for recovery.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

NUMERIC_DTYPES: dict[str, str] = {
    "UInt8": "<u1",
    "UInt16": "<u2",
    "UInt32": "<u4",
    "UInt64": "<u8",
    "Int8": "<i1",
    "Int16": "<i2",
    "Int32": "<i4",
    "Int64": "<i8",
    "Float32": "<f4",
    "Float64": "<f8",
}
_DT64 = re.compile(r"DateTime64\(3(, *'[^']*')?\)")
_FIXED = re.compile(r"FixedString\((\d+)\)")


@dataclass(frozen=True, slots=True)
class PackedStrings:
    """A column of strings as one UTF-8 byte buffer and a length per row (like an Arrow
    string array without offsets); the empty string stands for an absent field."""

    data: U8
    lengths: I64

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def from_strs(cls, values: Iterable[object]) -> PackedStrings:
        """From str values; anything else (None, numbers) is the empty string."""
        return cls.from_str_list([v if v.__class__ is str else "" for v in values])

    @classmethod
    def from_str_list(cls, vals: list[str]) -> PackedStrings:
        """From a list of which every item is a str."""
        joined = "".join(vals).encode("utf-8")
        lengths = np.fromiter(map(len, vals), np.int64, len(vals))
        if len(joined) != int(lengths.sum()):  # some non-ASCII text: count bytes
            lengths = np.fromiter((len(v.encode("utf-8")) for v in vals), np.int64, len(vals))
        return cls(np.frombuffer(joined, np.uint8), lengths)

    @classmethod
    def from_bytes(cls, values: Sequence[bytes]) -> PackedStrings:
        joined = b"".join(values)
        lengths = np.fromiter(map(len, values), np.int64, len(values))
        return cls(np.frombuffer(joined, np.uint8), lengths)

    @classmethod
    def from_fixed(cls, a: npt.NDArray[Any]) -> PackedStrings:
        """From a numpy ``S`` array (trailing NUL bytes are padding, as numpy reads them)."""
        n, width = len(a), a.dtype.itemsize
        if n == 0 or width == 0:
            return cls(np.zeros(0, np.uint8), np.zeros(n, np.int64))
        lengths = np.char.str_len(a).astype(np.int64)
        matrix = np.ascontiguousarray(a).view(np.uint8).reshape(n, width)
        keep = np.arange(width, dtype=np.int64)[None, :] < lengths[:, None]
        return cls(matrix[keep], lengths)

    @classmethod
    def of(cls, column: object) -> PackedStrings:
        """Any string column: PackedStrings, numpy ``S``/``U``/object array, or a sequence."""
        if isinstance(column, PackedStrings):
            return column
        if isinstance(column, np.ndarray):
            if column.dtype.kind == "S":
                return cls.from_fixed(column)
            return cls.from_strs(column.tolist())
        if isinstance(column, (list, tuple)):
            if column and all(isinstance(v, bytes) for v in column):
                return cls.from_bytes(column)
            return cls.from_strs(column)
        raise TypeError(f"not a string column: {type(column).__name__}")

    def offsets(self) -> I64:
        """Start of each row in ``data``, plus the total at the end."""
        out = np.zeros(len(self.lengths) + 1, np.int64)
        np.cumsum(self.lengths, out=out[1:])
        return out

    def take(self, rows: npt.NDArray[Any]) -> PackedStrings:
        """The rows selected by a boolean mask (order kept)."""
        mask = np.asarray(rows, dtype=bool)
        return PackedStrings(self.data[np.repeat(mask, self.lengths)], self.lengths[mask])

    def to_fixed(self) -> npt.NDArray[np.bytes_]:
        """As a numpy ``S`` array (what Engine.push_columns takes)."""
        n = len(self.lengths)
        width = max(int(self.lengths.max()) if n else 0, 1)
        matrix = np.zeros((n, width), np.uint8)
        keep = np.arange(width, dtype=np.int64)[None, :] < self.lengths[:, None]
        matrix[keep] = self.data
        return matrix.view(f"S{width}").reshape(n)

    def to_list(self) -> list[str]:
        raw = self.data.tobytes()
        off = self.offsets().tolist()
        return [raw[off[i] : off[i + 1]].decode("utf-8") for i in range(len(self.lengths))]

    @staticmethod
    def concat(parts: Sequence[PackedStrings]) -> PackedStrings:
        if not parts:
            return PackedStrings(np.zeros(0, np.uint8), np.zeros(0, np.int64))
        if len(parts) == 1:
            return parts[0]
        return PackedStrings(
            np.concatenate([p.data for p in parts]), np.concatenate([p.lengths for p in parts])
        )


def varint(n: int) -> bytes:
    """LEB128, as Native lengths and counts are written."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _name(text: str) -> bytes:
    raw = text.encode()
    return varint(len(raw)) + raw


def encode_strings(p: PackedStrings) -> bytes:
    """A Native ``String`` column: each row's length as a varint, then its bytes."""
    lengths = p.lengths
    n = len(lengths)
    if n == 0:
        return b""
    if int(lengths.max()) < 128:  # one length byte a row: the common case, made fast
        ends = np.cumsum(lengths + 1)
        starts = ends - (lengths + 1)
        out = np.empty(int(ends[-1]), np.uint8)
        is_data = np.ones(len(out), bool)
        is_data[starts] = False
        out[starts] = lengths
        out[is_data] = p.data
        return out.tobytes()
    widths = np.ones(n, np.int64)
    for shift in (7, 14, 21, 28):
        widths += lengths >= (1 << shift)
    row = widths + lengths
    starts = np.cumsum(row) - row
    total = int(row.sum())
    out = np.empty(total, np.uint8)
    is_data = np.ones(total, bool)
    for k in range(int(widths.max())):
        sel = widths > k if k else slice(None)
        pos = starts[sel] + k
        more = (widths[sel] > k + 1).astype(np.int64) << 7
        out[pos] = ((lengths[sel] >> (7 * k)) & 0x7F) | more
        is_data[pos] = False
    out[is_data] = p.data
    return out.tobytes()


def wire_type(table_type: str) -> str:
    """The type a column is sent as: LowCardinality(String) goes as String (the server
    converts), everything else as declared."""
    return "String" if table_type == "LowCardinality(String)" else table_type


def encode_column(table_type: str, column: Any) -> bytes:
    """One column's Native data for ``table_type``."""
    t = wire_type(table_type)
    if t == "String":
        return encode_strings(PackedStrings.of(column))
    if t in NUMERIC_DTYPES:
        return np.ascontiguousarray(column, dtype=NUMERIC_DTYPES[t]).tobytes()
    if _DT64.fullmatch(t):  # int64 milliseconds since the epoch
        return np.ascontiguousarray(column, dtype="<i8").tobytes()
    if t.startswith("Nullable(") and t[9:-1] in NUMERIC_DTYPES:
        values = np.ascontiguousarray(column, dtype=NUMERIC_DTYPES[t[9:-1]])
        nulls = np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), bool)
        return nulls.astype(np.uint8).tobytes() + values.tobytes()
    raise TypeError(f"no Native encoder for {table_type}")


def encode_block(columns: Sequence[tuple[str, str, Any]], rows: int) -> bytes:
    """One Native block of ``rows`` rows from ``(name, table_type, column)`` triples."""
    parts = [varint(len(columns)), varint(rows)]
    for name, table_type, column in columns:
        if len(column) != rows:
            raise ValueError(f"column {name!r} has {len(column)} rows, expected {rows}")
        parts += [_name(name), _name(wire_type(table_type)), encode_column(table_type, column)]
    return b"".join(parts)


class _Reader:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0

    def _fill(self, n: int) -> bool:
        while len(self.buf) - self.pos < n:
            chunk = self.stream.read(max(n - (len(self.buf) - self.pos), 1 << 20))
            if not chunk:
                return False
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        return True

    def exact(self, n: int) -> memoryview:
        if not self._fill(n):
            raise ValueError("truncated Native data")
        view = memoryview(self.buf)[self.pos : self.pos + n]
        self.pos += n
        return view

    def at_end(self) -> bool:
        return not self._fill(1)

    def varint(self) -> int:
        shift = out = 0
        while True:
            byte = self.exact(1)[0]
            out |= (byte & 0x7F) << shift
            if byte < 0x80:
                return out
            shift += 7

    def text(self) -> str:
        return bytes(self.exact(self.varint())).decode()


_LC_INDEX = ("<u1", "<u2", "<u4", "<u8")


def _u64(r: _Reader) -> int:
    return int.from_bytes(r.exact(8), "little")


def _decode_low_cardinality(
    r: _Reader, inner: str, rows: int, out: npt.NDArray[Any] | None
) -> npt.NDArray[Any]:
    if _u64(r) != 1:  # the key serialization version prefix
        raise ValueError("unsupported LowCardinality serialization")
    flags = _u64(r)
    if not flags & (1 << 9):
        raise ValueError("LowCardinality without its own dictionary is not supported")
    keys = _decode(r, inner, _u64(r))
    count = _u64(r)
    index = np.frombuffer(r.exact(count * (1 << (flags & 0xFF))), _LC_INDEX[flags & 0xFF])
    if out is None:
        looked_up: npt.NDArray[Any] = keys[index]
        return looked_up
    return np.take(keys, index, out=out)


def _decode(r: _Reader, t: str, rows: int, out: npt.NDArray[Any] | None = None) -> npt.NDArray[Any]:
    """One column of ``rows`` rows of type ``t``: a new array, or written into ``out``."""
    if t.startswith("LowCardinality("):
        return _decode_low_cardinality(r, t[15:-1], rows, out)
    if t.startswith("Nullable(") and t[9:-1] in NUMERIC_DTYPES:
        nulls = np.frombuffer(r.exact(rows), np.uint8).astype(bool)
        values = _decode(r, t[9:-1], rows).astype(np.float64, copy=False)
        if out is None:
            out = values
        else:
            out[...] = values
        out[nulls] = np.nan
        return out
    view = np.frombuffer(r.exact(rows * _dtype(t).itemsize), _dtype(t))  # (read-only)
    if out is None:
        return view.copy()
    out[...] = view
    return out


def _dtype(t: str) -> np.dtype[Any]:
    """The numpy type a column of Native type ``t`` decodes to."""
    if t.startswith("LowCardinality("):
        return _dtype(t[15:-1])
    if m := _FIXED.fullmatch(t):
        return np.dtype(f"S{m.group(1)}")
    if t in NUMERIC_DTYPES:
        return np.dtype(NUMERIC_DTYPES[t])
    if _DT64.fullmatch(t):
        return np.dtype("<i8")
    if t.startswith("Nullable(") and t[9:-1] in NUMERIC_DTYPES:
        return np.dtype(np.float64)
    raise TypeError(f"no Native decoder for {t}; select it as a fixed-width type")


def read_blocks(stream: IO[bytes]) -> Iterator[dict[str, npt.NDArray[Any]]]:
    """The blocks of a Native result stream of fixed-width columns, as numpy columns."""
    r = _Reader(stream)
    while not r.at_end():
        ncols, rows = r.varint(), r.varint()
        block: dict[str, npt.NDArray[Any]] = {}
        for _ in range(ncols):
            name, t = r.text(), r.text()
            if rows:  # an empty block carries no column data at all
                block[name] = _decode(r, t, rows)
        if rows:
            yield block


def read_columns(streams: Iterable[IO[bytes]], capacity: int) -> dict[str, npt.NDArray[Any]]:
    """Every row of the Native result streams of fixed-width columns (one query each,
    the same columns), decoded straight into one array per column: no per-block arrays
    to join. ``capacity`` is the expected number of rows (the arrays grow if it is
    short); the result holds exactly the rows read."""
    columns: dict[str, npt.NDArray[Any]] = {}
    n = 0
    for stream in streams:
        r = _Reader(stream)
        while not r.at_end():
            ncols, rows = r.varint(), r.varint()
            for _ in range(ncols):
                name, t = r.text(), r.text()
                if not rows:  # an empty block carries no column data at all
                    continue
                col = columns.get(name)
                if col is None:
                    col = columns[name] = np.empty(max(capacity, rows), _dtype(t))
                elif len(col) < n + rows:
                    grown = np.empty(max(2 * len(col), n + rows), col.dtype)
                    grown[:n] = col[:n]
                    col = columns[name] = grown
                if col.dtype != _dtype(t):
                    raise ValueError(f"column {name!r} changed type to {t}")
                _decode(r, t, rows, col[n : n + rows])
            n += rows
    return {name: col[:n] for name, col in columns.items()}
