"""Helpers of the hallkpi benchmarks: interleaved timing against same-run baselines, goals,
and the rows of the session summary table (printed by ``conftest.pytest_terminal_summary``).

The machine is noisy, so no number is compared with a constant from another run: each
round of a subject is preceded by one round of each of its baselines (in the untimed
``setup`` of ``benchmark.pedantic``), and ratios are taken between the fastest rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pytest_benchmark.fixture import BenchmarkFixture


@dataclass(frozen=True)
class Goal:
    """A goal on one number: at most (``kind="max"``) or at least (``"min"``) ``value``.

    ``must`` is an optional hard limit beyond the goal, of the same kind and unit."""

    kind: Literal["max", "min"]
    value: float
    unit: str
    must: float | None = None

    def meets(self, x: float, limit: float) -> bool:
        return x <= limit if self.kind == "max" else x >= limit

    def text(self) -> str:
        op = "<=" if self.kind == "max" else ">="
        sep = "" if self.unit.startswith("x") else " "
        out = f"{op} {self.value:g}{sep}{self.unit}"
        if self.must is not None:
            out += f" (must {op} {self.must:g})"
        return out

    def status(self, x: float) -> str:
        if self.meets(x, self.value):
            return "pass"
        if self.must is not None and self.meets(x, self.must):
            return "short (must: ok)"
        return "short"


@dataclass(frozen=True)
class Row:
    """One line of the summary table."""

    bench: str
    measured: str
    baseline: str
    ratio: str
    goal: str
    status: str


ROWS: list[Row] = []
"""Rows recorded during the session, in order; printed at the end."""


def report(
    benchmark: BenchmarkFixture | None,
    *,
    bench: str,
    measured: str,
    baseline: str,
    ratio: str,
    goal: Goal,
    value: float,
) -> Row:
    """Records a summary row; ``value`` (in ``goal.unit``) decides pass or short."""
    row = Row(bench, measured, baseline, ratio, goal.text(), goal.status(value))
    ROWS.append(row)
    if benchmark is not None:
        benchmark.extra_info.update(
            {
                "measured": measured,
                "baseline": baseline,
                "ratio": ratio,
                "goal": row.goal,
                "status": row.status,
                "value": value,
            }
        )
    return row


def table(rows: list[Row]) -> list[str]:
    """The rows as aligned text lines, with a header."""
    head = Row("bench", "measured", "baseline", "ratio", "goal", "pass/short")
    cells = [list(vars(r).values()) for r in (head, *rows)]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in lines]


def fmt_speedup(speedup: float) -> str:
    """A speedup (baseline time / subject time) as ``3.2x faster`` or ``11x slower``."""
    if speedup >= 1:
        return f"{speedup:.2f}x faster"
    return f"{1 / speedup:.3g}x slower"


def fmt_s(seconds: float) -> str:
    """A duration with a readable unit: ``1.42 s``, ``745 ms``, ``1.53 us``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            v = seconds / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{seconds * 1e9:.0f} ns"


@dataclass(frozen=True)
class Race:
    """Fastest and median round (seconds) of a subject and of each baseline, and the
    subject's fastest round in CPU time of its thread (unlike wall time, not inflated when
    other processes take the CPU away; single-threaded subjects only)."""

    subject_min: float
    subject_median: float
    subject_cpu_min: float
    baseline_min: dict[str, float]
    baseline_median: dict[str, float]
    result: Any
    rounds: int

    def ratio(self, baseline: str) -> float:
        """Subject time over baseline time (fastest rounds): below 1 is faster."""
        return self.subject_min / self.baseline_min[baseline]

    def speedup(self, baseline: str) -> float:
        """Baseline time over subject time (fastest rounds): above 1 is faster."""
        return self.baseline_min[baseline] / self.subject_min


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def race(
    benchmark: BenchmarkFixture,
    subject: Callable[..., Any],
    *,
    baselines: Mapping[str, Callable[[], object]],
    make_args: Callable[[], tuple[Any, ...]] | None = None,
    rounds: int,
    warmup_rounds: int = 1,
) -> Race:
    """Times ``subject(*make_args())`` with ``benchmark.pedantic``, one round of every
    baseline before each of its rounds (warm-up rounds included, then dropped).

    ``make_args`` builds the subject's arguments untimed (e.g. a fresh Engine). A
    baseline's return value is freed outside its timed region, like the subject's.
    """
    subject_times: list[float] = []
    subject_cpu: list[float] = []
    base_times: dict[str, list[float]] = {name: [] for name in baselines}

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        for name, fn in baselines.items():
            t0 = time.perf_counter()
            out = fn()
            base_times[name].append(time.perf_counter() - t0)
            del out
        return (make_args() if make_args else ()), {}

    def timed(*args: Any) -> Any:
        c0 = time.thread_time()
        t0 = time.perf_counter()
        out = subject(*args)
        subject_times.append(time.perf_counter() - t0)
        subject_cpu.append(time.thread_time() - c0)
        return out

    result = benchmark.pedantic(  # type: ignore[no-untyped-call]
        timed, setup=setup, rounds=rounds, warmup_rounds=warmup_rounds
    )
    skip = warmup_rounds if len(subject_times) > warmup_rounds else 0
    subj = subject_times[skip:]
    bases = {name: ts[skip:] for name, ts in base_times.items()}
    return Race(
        subject_min=min(subj),
        subject_median=_median(subj),
        subject_cpu_min=min(subject_cpu[skip:]),
        baseline_min={name: min(ts) for name, ts in bases.items()},
        baseline_median={name: _median(ts) for name, ts in bases.items()},
        result=result,
        rounds=len(subj),
    )
