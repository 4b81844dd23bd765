"""The store writer's encoding: a 10,000-row batch of events into one Native block,
against clickhouse-connect encoding the same rows given as a list of tuples (its
row-oriented insert path). Only the encoding is timed; nothing is sent."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform
from hallkpi.ingest.store.batch import Batch
from hallkpi.ingest.store.jsonl import decode_events, event_columns
from hallkpi.ingest.store.native import PackedStrings
from harness import Goal, fmt_s, fmt_speedup, race, report
from pytest_benchmark.fixture import BenchmarkFixture

ROWS = 10_000


@pytest.fixture(scope="module")
def batch(day_lines: bytes) -> Batch:
    lines = day_lines.split(b"\n", ROWS)[:ROWS]
    cols, order = event_columns(decode_events(lines))
    cols["ingest_seq"] = np.arange(1, ROWS + 1, dtype=np.uint64)[order]
    return Batch.of("events", cols)


def row_list(batch: Batch) -> list[tuple[Any, ...]]:
    """The batch as clickhouse-connect users pass it: a list of row tuples."""
    cols = []
    for name, typ in batch.table.columns:
        c = batch.columns[name]
        if isinstance(c, PackedStrings):
            cols.append(c.to_list())
        elif typ.startswith("Nullable"):
            cols.append([None if math.isnan(v) else v for v in c.tolist()])
        else:
            cols.append(c.tolist())
    return list(zip(*cols, strict=True))


@pytest.mark.benchmark(group="store")
def test_writer_encode(benchmark: BenchmarkFixture, batch: Batch) -> None:
    rows = row_list(batch)
    names = list(batch.column_names)
    types = [get_from_name(t) for _, t in batch.table.columns]

    def clickhouse_connect_rows() -> bytes:
        ctx = InsertContext("events", names, types, data=rows)
        return b"".join(NativeTransform.build_insert(ctx))

    fixed = {
        k: v.to_fixed() if isinstance(v, PackedStrings) else v for k, v in batch.columns.items()
    }
    timing = race(
        benchmark,
        batch.encode,
        baselines={
            "clickhouse-connect rows": clickhouse_connect_rows,
            "from numpy S columns": lambda: Batch.of("events", fixed).encode(),
        },
        rounds=15,
    )
    assert len(timing.result) > ROWS * 40
    per_row = timing.subject_min / ROWS
    s_per_row = timing.baseline_min["from numpy S columns"] / ROWS
    rows_per_row = timing.baseline_min["clickhouse-connect rows"] / ROWS
    report(
        benchmark,
        bench="store writer encode (10k events rows)",
        measured=f"{fmt_s(per_row)}/row",
        baseline=f"clickhouse-connect rows {fmt_s(rows_per_row)}/row",
        ratio=fmt_speedup(timing.speedup("clickhouse-connect rows")),
        goal=Goal("max", 200, "ns/row"),
        value=per_row * 1e9,
    )
    benchmark.extra_info["from_numpy_S_ns_per_row"] = s_per_row * 1e9
