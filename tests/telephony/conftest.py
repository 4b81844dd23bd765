"""Fixtures of the telephony tests: captures, an asyncio runner (plain and debug mode),
a loopback AMI server.

Async tests are plain functions taking ``run``: ``run(coro_fn)`` runs ``coro_fn()`` in a
fresh event loop under a hard timeout, once normally and once in asyncio debug mode
(the effect of ``PYTHONASYNCIODEBUG=1``: unawaited coroutines, slow callbacks and
non-threadsafe calls are reported; unclosed transports become errors through
``filterwarnings = error``). No test sleeps for timing: they wait for events.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

HERE = Path(__file__).resolve().parent
SMALL_CAPTURE = HERE / "data" / "small-capture.txt"
SHARED_AMI = HERE.parents[2] / "shared" / "data" / "ami"  # ../shared/data of the repo
ASYNC_TIMEOUT_S = 20.0

T = TypeVar("T")
Runner = Callable[[Callable[[], Awaitable[T]]], T]


def shared_file(name: str) -> Path:
    """A file of ../shared/data/ami; the test skips when the folder is absent (a clone
    outside the project's workspace; CI has it)."""
    path = SHARED_AMI / name
    if not path.exists():
        pytest.skip(f"{path} not found: the shared AMI captures live next to the repository")
    return path


@pytest.fixture(autouse=True)
def no_asyncio_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails a test when asyncio logged an error (a task exception never retrieved, an
    exception in a callback): those do not raise by themselves."""
    yield
    errors = [
        r.getMessage()
        for when in ("setup", "call")
        for r in caplog.get_records(when)
        if r.name == "asyncio"
        and r.levelno >= logging.ERROR
        # the test server's side of a TLS handshake the client refused on purpose
        and not r.getMessage().startswith("Error on transport creation for incoming")
    ]
    assert not errors, errors


@pytest.fixture(scope="session")
def small_capture() -> bytes:
    """The self-made capture (tests/telephony/data/README.md describes its calls)."""
    return SMALL_CAPTURE.read_bytes()


@pytest.fixture(scope="session")
def live_capture() -> bytes:
    """The raw byte stream of a real Asterisk 22.10.1 session (skips when absent)."""
    return shared_file("live-capture.txt").read_bytes()


@pytest.fixture(params=["plain", "debug"])
def run(request: pytest.FixtureRequest) -> Runner[object]:
    """Runs an async test body in a new loop, under ASYNC_TIMEOUT_S, plain and debug."""
    debug = request.param == "debug"

    def runner(body: Callable[[], Awaitable[T]]) -> T:
        async def main() -> T:
            async with asyncio.timeout(ASYNC_TIMEOUT_S):
                return await body()

        before = os.environ.get("PYTHONASYNCIODEBUG")
        if debug:
            os.environ["PYTHONASYNCIODEBUG"] = "1"
        try:
            return asyncio.run(main(), debug=debug)
        finally:
            if before is None:
                os.environ.pop("PYTHONASYNCIODEBUG", None)
            else:
                os.environ["PYTHONASYNCIODEBUG"] = before

    return runner
