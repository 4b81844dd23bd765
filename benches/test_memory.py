"""Memory per hall: a fresh Engine loaded with the simulated day of ``workloads.HALLS``
halls at 2,000 tickets a day, in a child process (``memory_probe.py``): resident-set
growth per hall, and ``Engine.memory_bytes()`` per hall (the engine's own estimate)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import workloads
from harness import Goal, report

PROBE = Path(__file__).with_name("memory_probe.py")
KIB = 1024


def test_memory_per_hall(day_lines: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("memory") / "day.jsonl"
    path.write_bytes(day_lines)
    done = subprocess.run(
        [sys.executable, str(PROBE), str(path)], capture_output=True, check=True, text=True
    )
    probe = json.loads(done.stdout)
    assert probe["rejected"] == 0
    halls = probe["halls"]
    assert halls == workloads.HALLS
    input_kib = probe["input_bytes"] / halls / KIB
    for name, key in (("RSS growth", "rss_growth"), ("memory_bytes()", "memory_bytes")):
        per_hall = probe[key] / halls / KIB
        report(
            None,
            bench=f"memory per hall ({name}), {halls} halls x 2000 tickets",
            measured=f"{per_hall:.0f} KiB/hall",
            baseline=f"day's JSON input {input_kib:.0f} KiB/hall",
            ratio=f"{per_hall / input_kib:.2f}x",
            goal=Goal("max", 256.0, "KiB/hall"),
            value=per_hall,
        )
