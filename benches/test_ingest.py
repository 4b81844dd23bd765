"""Ingest paths: ``push_jsonl`` against parsing the same lines with orjson, and
``push(dict)`` per event against a Python function reading an event's fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
import workloads
from hallkpi.core.engine import Engine
from hallkpi.core.sim.simulate import hall_name
from harness import Goal, fmt_s, race, report
from pytest_benchmark.fixture import BenchmarkFixture

Event = dict[str, Any]


@pytest.mark.benchmark(group="ingest")
def test_push_jsonl(benchmark: BenchmarkFixture, day_lines: bytes) -> None:
    lines = day_lines.count(b"\n")
    timing = race(
        benchmark,
        lambda engine: engine.push_jsonl(day_lines),
        make_args=lambda: (Engine(),),
        baselines={"orjson": lambda: [orjson.loads(line) for line in day_lines.splitlines()]},
        rounds=3,
    )
    assert timing.result.applied == lines
    assert timing.result.rejected == 0
    ratio = timing.ratio("orjson")
    benchmark.extra_info["lines"] = lines
    report(
        benchmark,
        bench=f"push_jsonl, {workloads.HALLS} halls x 1 day",
        measured=f"{fmt_s(timing.subject_min)} ({fmt_s(timing.subject_min / lines)}/line)",
        baseline=f"orjson.loads per line {fmt_s(timing.baseline_min['orjson'])}",
        ratio=f"{ratio:.2f}x",
        goal=Goal("max", 1.0, "x", must=2.0),
        value=ratio,
    )


@pytest.fixture(scope="module")
def day_events(day_lines: bytes) -> dict[int, list[Event]]:
    """The day's events as dicts, for all halls and for the first 10: each list parsed on
    its own, so that its dicts lie together in memory as in a real feed."""
    first10 = tuple(f'"hall":"{hall_name(i)}"'.encode() for i in range(10))
    lines = day_lines.splitlines()
    return {
        workloads.HALLS: [orjson.loads(line) for line in lines],
        10: [orjson.loads(line) for line in lines if any(h in line for h in first10)],
    }


def _read7(e: Event) -> tuple[object, ...]:
    return (
        e.get("id"),
        e.get("type"),
        e.get("ts"),
        e.get("hall"),
        e.get("ticket"),
        e.get("window"),
        e.get("staff"),
    )


def _read_all(events: list[Event]) -> Callable[[], None]:
    def run() -> None:
        read = _read7
        for e in events:
            read(e)

    return run


def _push_all(events: list[Event]) -> Callable[[Engine], None]:
    def run(engine: Engine) -> None:
        push = engine.push
        for e in events:
            push(e)

    return run


# The goal's scale is the simulated day of all halls; 10 halls shows how the per-event
# cost grows with the number of halls (alert rules of every hall run on each new pane).
@pytest.mark.benchmark(group="ingest")
@pytest.mark.parametrize("halls", [workloads.HALLS, 10])
def test_push_dict(
    benchmark: BenchmarkFixture, day_events: dict[int, list[Event]], halls: int
) -> None:
    events = day_events[halls]
    assert {e["hall"] for e in events} == {hall_name(i) for i in range(halls)}
    timing = race(
        benchmark,
        _push_all(events),
        make_args=lambda: (Engine(),),
        baselines={"read7": _read_all(events)},
        rounds=3 if halls > 20 else 6,
    )
    per_event = timing.subject_min / len(events)
    cpu = timing.subject_cpu_min / len(events)
    ratio = timing.ratio("read7")
    benchmark.extra_info.update(
        {"events": len(events), "per_event_us": per_event * 1e6, "cpu_per_event_us": cpu * 1e6}
    )
    report(
        benchmark,
        bench=f"push(dict) per event, {halls} halls x 1 day",
        measured=f"{fmt_s(per_event)}/event (cpu {fmt_s(cpu)})",
        baseline=f"read 7 keys {fmt_s(timing.baseline_min['read7'] / len(events))}/event",
        ratio=f"{ratio:.2f}x",
        goal=Goal("max", 2.0, "us/event"),
        value=per_event * 1e6,
    )
