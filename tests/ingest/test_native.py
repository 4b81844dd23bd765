"""The Native encoder and decoder: numpy in, ClickHouse (chDB) in the middle, numpy out."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pytest
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.native import (
    PackedStrings,
    encode_block,
    encode_strings,
    read_blocks,
    read_columns,
    varint,
)
from hypothesis import given, settings
from hypothesis import strategies as st

TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300
)


@pytest.fixture(scope="module")
def table(chdb_root: Path) -> Iterator[tuple[Store, str]]:
    name = "n_" + uuid.uuid4().hex[:10]
    s = Store(f"chdb://{chdb_root}?database={name}")
    s.command(f"CREATE DATABASE `{name}`")
    s.command(
        f"CREATE TABLE `{name}`.`t` (k UInt32, s String, lc LowCardinality(String), "
        "ts DateTime64(3, 'UTC'), x Nullable(Float64), n UInt8) ENGINE = MergeTree ORDER BY k"
    )
    yield s, f"`{name}`.`t`"
    s.command(f"DROP DATABASE `{name}`")
    s.close()


def test_varint() -> None:
    assert [varint(n) for n in (0, 1, 127, 128, 300, 16384)] == [
        b"\x00",
        b"\x01",
        b"\x7f",
        b"\x80\x01",
        b"\xac\x02",
        b"\x80\x80\x01",
    ]


@given(st.lists(TEXT, max_size=40))
def test_string_column_matches_a_reference_encoder(values: list[str]) -> None:
    ref = b"".join(varint(len(v.encode())) + v.encode() for v in values)
    assert encode_strings(PackedStrings.from_strs(values)) == ref
    fixed = np.array([v.encode() for v in values], dtype="S") if values else np.zeros(0, "S1")
    assert encode_strings(PackedStrings.from_fixed(fixed)) == ref
    assert PackedStrings.from_strs(values).to_list() == values


def test_packed_strings_take_concat_and_fixed() -> None:
    p = PackedStrings.from_strs(["ab", None, "柜台", "", "x"])
    assert p.to_list() == ["ab", "", "柜台", "", "x"]
    kept = p.take(np.array([True, False, True, False, True]))
    assert kept.to_list() == ["ab", "柜台", "x"]
    assert PackedStrings.concat([kept, p]).to_list() == ["ab", "柜台", "x", *p.to_list()]
    assert kept.to_fixed().tolist() == [b"ab", "柜台".encode(), b"x"]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            TEXT,
            TEXT,
            st.integers(0, 253402300799999),
            st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
            st.integers(0, 255),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_round_trip_through_clickhouse(table: tuple[Store, str], rows: list[tuple]) -> None:  # type: ignore[type-arg]
    store, name = table
    store.command(f"TRUNCATE TABLE {name}")
    n = len(rows)
    block = encode_block(
        [
            ("k", "UInt32", np.arange(n)),
            ("s", "String", PackedStrings.from_strs([r[0] for r in rows])),
            ("lc", "LowCardinality(String)", [r[1] for r in rows]),
            ("ts", "DateTime64(3, 'UTC')", np.array([r[2] for r in rows], np.int64)),
            ("x", "Nullable(Float64)", np.array([np.nan if r[3] is None else r[3] for r in rows])),
            ("n", "UInt8", np.array([r[4] for r in rows], np.uint8)),
        ],
        n,
    )
    store.client().raw_insert(name, ["k", "s", "lc", "ts", "x", "n"], block, fmt="Native")
    back = store.rows(f"SELECT s, lc, toUnixTimestamp64Milli(ts), x, n FROM {name} ORDER BY k")
    assert back == [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    width = max(1, *(len(r[0].encode()) for r in rows))
    sql = (
        f"SELECT toFixedString(s, {{w:UInt32}}) AS s, toFixedString(lc, {{w2:UInt32}}) AS lc, "
        f"toUnixTimestamp64Milli(ts) AS ts, x, n FROM {name} ORDER BY k"
    )
    ws = {"w": width, "w2": max(1, *(len(r[1].encode()) for r in rows))}
    raw = store.raw(sql, ws)
    blocks = list(read_blocks(io.BytesIO(raw)))
    cols = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    assert [v.decode() for v in cols["s"]] == [r[0] for r in rows]
    assert [v.decode() for v in cols["lc"]] == [r[1] for r in rows]
    assert cols["ts"].tolist() == [r[2] for r in rows]
    assert [None if np.isnan(v) else v for v in cols["x"]] == [r[3] for r in rows]
    assert cols["n"].tolist() == [r[4] for r in rows]

    # Straight into one array per column, from two results, with too small a capacity:
    # the same values (the LowCardinality column included), twice.
    def results() -> Iterator[IO[bytes]]:  # one open at a time, as chDB wants
        for _ in range(2):
            with store.stream(sql, ws, settings={"max_block_size": 2}) as stream:
                yield stream

    joined = read_columns(results(), 3)
    for k, col in cols.items():
        assert joined[k].dtype == col.dtype, k
        assert np.array_equal(joined[k], np.concatenate([col, col]), equal_nan=k == "x"), k


def test_block_checks_lengths() -> None:
    with pytest.raises(ValueError, match="rows"):
        encode_block([("k", "UInt32", np.arange(3))], 2)
    with pytest.raises(TypeError):
        encode_block([("k", "Array(UInt8)", np.arange(2))], 2)
