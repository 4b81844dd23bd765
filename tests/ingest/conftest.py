"""Fixtures of the store tests: one chDB engine for the whole session (chDB opens one
data directory per process), a fresh database per test."""

from __future__ import annotations

import functools
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hallkpi.core.sim.simulate import simulate_lines
from hallkpi.ingest.store.connection import Store
from mqtt_broker import Broker, free_port
from service_process import ServiceProcess


@pytest.fixture(autouse=True)
def _no_service_left() -> Iterator[None]:
    """A failed test must not leave a `hallkpi serve` running (it would hammer a
    stopped broker for ever): kill what the test started and did not stop."""
    yield
    ServiceProcess.stop_all()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto on a free loopback port, with persistence in ``tmp_path``."""
    b = Broker(tmp_path / "broker", free_port())
    b.workdir.mkdir()
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def chdb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB data directory of this test session."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def store(chdb_root: Path) -> Iterator[Store]:
    """A Store on a database of its own (dropped afterwards)."""
    name = "t_" + uuid.uuid4().hex[:12]
    s = Store(f"chdb://{chdb_root}?database={name}")
    yield s
    s.command(f"DROP DATABASE IF EXISTS `{name}`")
    s.close()


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.cache
def day(*, adversarial: bool = False, seed: int = 5, halls: int = 3, tickets: int = 400) -> bytes:
    """A simulated day as JSON lines (cached per arguments)."""
    return simulate_lines(
        halls=halls, date="2026-11-27", seed=seed, tickets_per_hall=tickets, adversarial=adversarial
    )
