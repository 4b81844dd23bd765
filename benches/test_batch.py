"""The columnar batch path on a p90-of-wait workload, against polars and pandas.

Many halls' tickets over a day: the engine gets ``ticket.issued`` and ``ticket.called``
as ready numpy columns through ``Engine.push_columns(trace=("wait_p90_s", "15m"))``,
which returns the hall's rolling 15-minute p90 of wait after every event; polars and
pandas get a ready DataFrame of the calls (hall, called, wait) and compute the rolling
15-minute p90 at each call. Only the computation is timed.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl
import pytest
import workloads
from hallkpi.core.engine import Engine
from harness import Goal, fmt_s, fmt_speedup, race, report
from pytest_benchmark.fixture import BenchmarkFixture

TRACE = ("wait_p90_s", "15m")
CONFIGS: dict[str, dict[str, Any]] = {
    # What a backfill gets from Engine(): default horizons and alert rules.
    "default Engine()": {},
    # Only what the p90 needs: one horizon, no alert rules (the engine still keeps 1h).
    "Engine(horizons_s=(900,), alert_rules=())": {"horizons_s": (900,), "alert_rules": ()},
}


class Frames:
    """The calls of a ticket workload as a polars and a pandas DataFrame (one row per
    call, in the engine's event order), and the engine's columns."""

    def __init__(self, tickets: workloads.Tickets) -> None:
        self.events = workloads.ticket_events(tickets)
        k = self.events.called_ticket
        hall = np.array(tickets.names)[tickets.hall[k]]
        called = tickets.called[k]
        wait = (tickets.called[k] - tickets.issued[k]) / 1000.0
        self.polars = pl.DataFrame({"hall": hall, "called": called, "wait": wait}).with_columns(
            pl.col("called").cast(pl.Datetime("ms"))
        )
        self.pandas = pd.DataFrame(
            {"hall": hall, "called": pd.to_datetime(called, unit="ms"), "wait": wait}
        )

    def polars_p90(
        self, interpolation: Literal["lower", "higher"] = "higher"
    ) -> npt.NDArray[np.float64]:
        p90 = pl.col("wait").rolling_quantile_by(
            "called", window_size="15m", quantile=0.9, interpolation=interpolation
        )
        return self.polars.select(p90.over("hall")).to_series().to_numpy()

    def pandas_p90(self) -> pd.Series:
        rolling = self.pandas.groupby("hall", sort=False).rolling("15min", on="called")
        return rolling["wait"].quantile(0.9, interpolation="higher")

    def pandas_in_row_order(self, result: pd.Series) -> npt.NDArray[np.float64]:
        """groupby(sort=False).rolling lists rows hall by hall (first-seen order)."""
        codes, _ = pd.factorize(self.pandas["hall"])
        out = np.empty(len(codes))
        out[np.argsort(codes, kind="stable")] = result.to_numpy()
        return out


@pytest.fixture(scope="module")
def frames() -> Frames:
    return Frames(workloads.tickets())


@pytest.mark.benchmark(group="batch")
@pytest.mark.parametrize("config", list(CONFIGS))
def test_push_columns_p90(benchmark: BenchmarkFixture, frames: Frames, config: str) -> None:
    cols = frames.events.columns
    timing = race(
        benchmark,
        lambda engine: engine.push_columns(cols, trace=TRACE),
        make_args=lambda: (Engine(**CONFIGS[config]),),
        baselines={"polars": frames.polars_p90, "pandas": frames.pandas_p90},
        rounds=4,
    )
    result, trace = timing.result
    assert result.rejected == 0
    assert trace is not None

    # The results agree: the engine's nearest-rank p90 (ceil(0.9 n)-th smallest) lies
    # between polars' 'lower' and 'higher' quantiles, up to its bucket error (1 s or 1 %).
    engine = trace[frames.events.called_rows]
    low, high = frames.polars_p90("lower"), frames.polars_p90("higher")
    tol = np.maximum(1.0, 0.01 * high)
    agree = float(np.mean((engine >= low - tol) & (engine <= high + tol)))
    assert agree >= 0.99, f"engine p90 agrees with polars at only {agree:.2%} of calls"
    pandas = frames.pandas_in_row_order(frames.pandas_p90())
    assert np.allclose(pandas, high), "pandas and polars 'higher' quantiles differ"

    events = len(cols["ts"])
    benchmark.extra_info.update({"events": events, "calls": len(engine), "agree": agree})
    for name, goal in (("polars", 3.0), ("pandas", 4.0)):
        speedup = timing.speedup(name)
        report(
            benchmark,
            bench=f"push_columns p90 vs {name} [{config}]",
            measured=f"{fmt_s(timing.subject_min)} ({fmt_s(timing.subject_min / events)}/event)",
            baseline=f"{name} {fmt_s(timing.baseline_min[name])}",
            ratio=fmt_speedup(speedup),
            goal=Goal("min", goal, "x faster"),
            value=speedup,
        )
