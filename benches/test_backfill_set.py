"""A fair backfill benchmark: the set of figures the engine gives for a hall, after
every event, over 5m, 15m and 1h (waiting, wait mean/p50/p90, served, handle mean,
no-shows, window pressure), by ``Engine.push_columns(trace=[...20 figures])`` in one pass
against polars computing the same set from a ready DataFrame of the same events.

polars: waits and handle times by joining calls to issues and completions to starts on
(hall, ticket), each figure rolled over its own events (``rolling_*_by`` per hall) and
carried to every event with ``join_asof`` (backward, by hall); waiting and open windows
as running sums. That is a little less than the engine does (the engine also lets
windows slide between a hall's events of that kind), so the comparison favours polars.
Only the computation is timed; the single-quantile row stays in ``test_batch.py``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import workloads
from hallkpi.core.engine import Engine
from harness import Goal, fmt_s, fmt_speedup, race, report
from pytest_benchmark.fixture import BenchmarkFixture

HORIZONS = {"5m": "5m", "15m": "15m", "1h": "1h"}
FIGURES = [("waiting", "now"), ("window_pressure", "now")] + [
    (k, h)
    for h in HORIZONS
    for k in ("wait_mean_s", "wait_p50_s", "wait_p90_s", "served", "handle_mean_s", "no_show")
]


def frame_of(cols: workloads.Columns) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row": np.arange(len(cols["ts"])),
            "hall": cols["hall"].astype(str),
            "type": cols["type"].astype(str),
            "ticket": cols["ticket"].astype(str),
            "ts": cols["ts"],
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("ms")))


def _rolled(events: pl.DataFrame, value: str, stats: dict[str, str]) -> pl.DataFrame:
    out = []
    for h in HORIZONS.values():
        for name, stat in stats.items():
            col = pl.col(value)
            e = {
                "mean": col.rolling_mean_by("ts", window_size=h),
                "p50": col.rolling_quantile_by("ts", window_size=h, quantile=0.5),
                "p90": col.rolling_quantile_by("ts", window_size=h, quantile=0.9),
                "count": col.rolling_sum_by("ts", window_size=h),
            }[stat]
            out.append(e.over("hall").alias(f"{name}_{h}"))
    return events.select("hall", "ts", *out)


def polars_set(df: pl.DataFrame) -> pl.DataFrame:
    is_ = pl.col("type")
    issued = df.filter(is_ == "ticket.issued").select("hall", "ticket", pl.col("ts").alias("t0"))
    called = df.filter(is_ == "ticket.called").unique(["hall", "ticket"], keep="first")
    calls = called.join(issued, on=["hall", "ticket"]).sort("ts")
    calls = calls.with_columns(wait=(pl.col("ts") - pl.col("t0")).dt.total_milliseconds() / 1e3)
    started = df.filter(is_ == "ticket.started").select("hall", "ticket", pl.col("ts").alias("t0"))
    done = df.filter(is_ == "ticket.completed").join(started, on=["hall", "ticket"]).sort("ts")
    done = done.with_columns(
        handle=(pl.col("ts") - pl.col("t0")).dt.total_milliseconds() / 1e3, one=pl.lit(1)
    )
    no_show = df.filter(is_ == "ticket.no_show").with_columns(one=pl.lit(1))
    first_call = (is_ == "ticket.called") & pl.col("ticket").is_first_distinct().over(
        "hall", "type"
    )
    step = (
        pl.when(is_ == "ticket.issued")
        .then(1)
        .when(first_call | (is_ == "ticket.cancelled"))
        .then(-1)
        .otherwise(0)
    )
    windows = pl.when(is_ == "window.opened").then(1).when(is_ == "window.closed").then(-1)
    out = df.with_columns(
        waiting=step.cum_sum().over("hall"), open=windows.otherwise(0).cum_sum().over("hall")
    ).with_columns(window_pressure=pl.col("waiting") / pl.col("open"))
    parts = [
        _rolled(calls, "wait", {"wait_mean": "mean", "wait_p50": "p50", "wait_p90": "p90"}),
        _rolled(done, "handle", {"handle_mean": "mean"}),
        _rolled(done, "one", {"served": "count"}),
        _rolled(no_show, "one", {"no_show": "count"}),
    ]
    for p in parts:
        out = out.join_asof(p.sort("ts"), on="ts", by="hall", strategy="backward")
    return out.sort("row")


@pytest.fixture(scope="module")
def data(day_lines: bytes) -> tuple[workloads.Columns, pl.DataFrame]:
    cols = workloads.columns_of(day_lines)
    return cols, frame_of(cols)


@pytest.mark.benchmark(group="backfill")
def test_push_columns_kpi_set_vs_polars(
    benchmark: BenchmarkFixture, data: tuple[workloads.Columns, pl.DataFrame]
) -> None:
    cols, df = data
    timing = race(
        benchmark,
        lambda engine: engine.push_columns(cols, trace=FIGURES),
        make_args=lambda: (Engine(),),
        baselines={"polars": lambda: polars_set(df)},
        rounds=3,
    )
    result, trace = timing.result
    events = len(cols["ts"])
    assert result.rejected == 0 and trace is not None and trace.shape == (events, len(FIGURES))
    theirs = polars_set(df)
    assert theirs.height == events
    # The results agree: the engine's served per hour is polars' count of completions over
    # the hour at the last completion of each hall, up to the window's edge (the engine's
    # horizon is whole 1-s panes: at most a completion or two either side).
    served = FIGURES.index(("served", "1h"))
    last = theirs.filter(pl.col("type") == "ticket.completed").group_by("hall").last()
    for row in last.iter_rows(named=True):
        assert abs(trace[row["row"], served] - row["served_1h"]) <= 2, row["hall"]
    speedup = timing.speedup("polars")
    report(
        benchmark,
        bench=f"push_columns, {len(FIGURES)} figures per event vs polars",
        measured=f"{fmt_s(timing.subject_min)} ({fmt_s(timing.subject_min / events)}/event)",
        baseline=f"polars {fmt_s(timing.baseline_min['polars'])}",
        ratio=fmt_speedup(speedup),
        goal=Goal("min", 1.0, "x faster"),
        value=speedup,
    )
