"""Snapshots of many loaded halls: ``snapshot()`` of 100 halls against orjson parsing the
same document from ``snapshot_json()``, and ``snapshot_columns()`` of 1,000 halls
against copying its result columns.

Halls hold a realistic morning: the simulated day's events up to 10:30 local time (the
morning peak, horizons full), the simulated halls replicated under new names to reach
100 and 1,000 halls. Snapshots are taken repeatedly at that moment (warm); the first
call's time is in ``extra_info``.
"""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest
import workloads
from hallkpi.core.engine import Engine
from harness import Goal, fmt_s, race, report
from pytest_benchmark.fixture import BenchmarkFixture

SNAPSHOT_AT = workloads.local_ms(10, 30)


@pytest.fixture(scope="module")
def morning(day_lines: bytes) -> workloads.Columns:
    return workloads.columns_of(day_lines, before_ms=SNAPSHOT_AT)


def _loaded(morning: workloads.Columns, halls: int) -> Engine:
    copies = halls // workloads.HALLS
    assert copies * workloads.HALLS == halls
    engine = Engine()
    result, _ = engine.push_columns(workloads.replicate(morning, copies))
    assert result.rejected == 0
    assert len(engine.halls()) == halls
    return engine


def _first_call_s(fn: object) -> float:
    assert callable(fn)
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@pytest.mark.benchmark(group="snapshot")
def test_snapshot_100_halls(benchmark: BenchmarkFixture, morning: workloads.Columns) -> None:
    engine = _loaded(morning, 100)
    first = _first_call_s(engine.snapshot)
    document = engine.snapshot_json().encode()
    timing = race(
        benchmark,
        engine.snapshot,
        baselines={"orjson": lambda: orjson.loads(document)},
        rounds=30,
        warmup_rounds=2,
    )
    assert len(timing.result["halls"]) == 100
    benchmark.extra_info.update({"first_call_s": first, "json_bytes": len(document)})
    report(
        benchmark,
        bench="snapshot(), 100 halls",
        measured=f"{fmt_s(timing.subject_min)} (cpu {fmt_s(timing.subject_cpu_min)})",
        baseline=f"orjson.loads(snapshot_json) {fmt_s(timing.baseline_min['orjson'])}",
        ratio=f"{timing.ratio('orjson'):.2f}x",
        goal=Goal("max", 10.0, "ms"),
        value=timing.subject_min * 1e3,
    )


@pytest.mark.benchmark(group="snapshot")
def test_snapshot_columns_1000_halls(
    benchmark: BenchmarkFixture, morning: workloads.Columns
) -> None:
    engine = _loaded(morning, 1000)
    first = _first_call_s(engine.snapshot_columns)
    columns = engine.snapshot_columns()
    timing = race(
        benchmark,
        engine.snapshot_columns,
        baselines={"copy": lambda: {k: np.copy(v) for k, v in columns.items()}},
        rounds=30,
        warmup_rounds=2,
    )
    assert len(timing.result["hall"]) == 1000 * len(engine.horizons())
    benchmark.extra_info.update({"first_call_s": first, "columns": len(columns)})
    report(
        benchmark,
        bench="snapshot_columns(), 1000 halls",
        measured=f"{fmt_s(timing.subject_min)} (cpu {fmt_s(timing.subject_cpu_min)})",
        baseline=f"copy of its {len(columns)} columns {fmt_s(timing.baseline_min['copy'])}",
        ratio=f"{timing.ratio('copy'):.2f}x",
        goal=Goal("max", 5.0, "ms"),
        value=timing.subject_min * 1e3,
    )
