"""Session data of the hallkpi benchmarks and the summary table (see README.md)."""

from __future__ import annotations

import pytest
import workloads
from harness import ROWS, table


@pytest.fixture(scope="session")
def day_lines() -> bytes:
    """A simulated business day of ``workloads.HALLS`` halls as JSON lines."""
    return workloads.day_lines()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    terminalreporter.section("hallkpi benchmarks: ratios against same-run baselines")
    for line in table(ROWS):
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        "ratio: fastest rounds of each, interleaved; goals in us, ms or KiB are absolute "
        "(see benches/README.md)."
    )
