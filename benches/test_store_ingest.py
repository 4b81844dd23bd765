"""The store with chDB in-process: `hallkpi load` of the simulated day, and recovery
(every stored event back into a fresh Engine), against replaying the file with
`Engine.push_jsonl` in the same run."""

from __future__ import annotations

import io
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest
from hallkpi.core import Engine
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.load import LoadReport, load_stream
from hallkpi.ingest.store.recovery import replay_into
from hallkpi.ingest.store.schema import ensure_schema
from harness import Goal, fmt_s, fmt_speedup, race, report
from pytest_benchmark.fixture import BenchmarkFixture
from two_pass_load import two_pass

_names = itertools.count()


@pytest.fixture(scope="module")
def chdb_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="hallkpi-bench-chdb-") as d:
        yield d


def fresh_store(root: str) -> Store:
    store = Store(f"chdb://{root}?database=bench_{next(_names)}")
    ensure_schema(store)
    return store


@pytest.mark.benchmark(group="store")
@pytest.mark.parametrize("workers", [0, 2])
def test_load(benchmark: BenchmarkFixture, day_lines: bytes, chdb_dir: str, workers: int) -> None:
    events = day_lines.count(b"\n")
    cpu: list[float] = []
    stores = iter([fresh_store(chdb_dir) for _ in range(8)])  # made untimed, as make_args

    def load(store: Store) -> LoadReport:
        c0 = time.process_time()  # every thread of this process, chDB's included
        report = load_stream(store, io.BytesIO(day_lines), workers=workers)
        cpu.append(time.process_time() - c0)
        return report

    def two_pass_load() -> LoadReport:
        with two_pass():
            return load_stream(next(stores), io.BytesIO(day_lines), workers=0)

    baselines: dict[str, Callable[[], object]] = {
        "replay file": lambda: Engine().push_jsonl(day_lines)
    }
    if workers == 0:  # the parse before it was once, in the same run
        baselines["two-pass load"] = two_pass_load
    timing = race(
        benchmark,
        load,
        make_args=lambda: (fresh_store(chdb_dir),),
        baselines=baselines,
        rounds=3,
    )
    assert timing.result.events == events and timing.result.rejected == 0
    rate = events / timing.subject_min
    where = "in-process" if workers == 0 else f"{workers} parsing processes"
    base = f"replay file {fmt_s(timing.baseline_min['replay file'])}"
    ratio = f"{timing.ratio('replay file'):.2f}x"
    if workers == 0:
        before = events / timing.baseline_min["two-pass load"]
        base += f"; two-pass load {before / 1000:.0f}k events/s"
        ratio += f"; {timing.speedup('two-pass load'):.2f}x two-pass"
    report(
        benchmark,
        bench=f"hallkpi load into chDB (523k events, {where})",
        measured=f"{fmt_s(timing.subject_min)} ({rate / 1000:.0f}k events/s, "
        f"this process's cpu {fmt_s(min(cpu) / events)}/event)",
        baseline=base,
        ratio=ratio,
        goal=Goal("min", 400, "k events/s"),
        value=rate / 1000,
    )


@pytest.mark.benchmark(group="store")
def test_recovery(benchmark: BenchmarkFixture, day_lines: bytes, chdb_dir: str) -> None:
    store = fresh_store(chdb_dir)
    load_stream(store, io.BytesIO(day_lines))
    events = day_lines.count(b"\n")
    timing = race(
        benchmark,
        lambda engine: replay_into(engine, store),
        make_args=lambda: (Engine(),),
        baselines={"replay file": lambda: Engine().push_jsonl(day_lines)},
        rounds=4,
    )
    assert timing.result.applied == events
    rate = events / timing.subject_min
    report(
        benchmark,
        bench="recovery from chDB (523k events)",
        measured=f"{fmt_s(timing.subject_min)} ({rate / 1000:.0f}k events/s)",
        baseline=f"replay file {fmt_s(timing.baseline_min['replay file'])}",
        ratio=fmt_speedup(timing.speedup("replay file")),
        goal=Goal("min", 500, "k events/s"),
        value=rate / 1000,
    )
