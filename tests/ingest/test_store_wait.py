"""A service started before its store waits for it: `wait_for_store` retries with
backoff, tells each new reason once (redacted, stable), and returns once the store
answers and has its schema. Real parts: a closed loopback port, and a chDB directory
held by another process."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import closed_port
from hallkpi.ingest.errors import StoreConfigError, StoreError
from hallkpi.ingest.store.connection import Backoff, Store, wait_for_store
from hallkpi.ingest.store.schema import ensure_schema
from service_process import wait_until


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    b = Backoff(0.5, 30.0, rng=random.Random(7))
    pauses = [b.next() for _ in range(12)]
    ceilings = [min(0.5 * 2**k, 30.0) for k in range(12)]
    assert all(c / 2 <= p <= c for p, c in zip(pauses, ceilings, strict=True))
    assert len(set(pauses)) == len(pauses)  # jittered: no two services in step
    assert max(pauses) <= 30.0 and pauses[-1] >= 15.0
    b.reset()
    assert b.next() <= 0.5
    with pytest.raises(ValueError):
        Backoff(0, 1)


def test_an_unreachable_server_is_waited_for_and_told_once_without_its_password() -> None:
    port = closed_port()
    store = Store(f"http://bob@127.0.0.1:{port}/tax", password="pw-s3cret", connect_timeout_s=1)
    stop = threading.Event()
    reasons: list[str] = []
    attempts: list[int] = []

    def prepare(s: Store) -> None:
        attempts.append(1)
        if len(attempts) >= 4:
            stop.set()
        ensure_schema(s)

    ready = wait_for_store(
        store, stop=stop, on_wait=reasons.append, prepare=prepare, initial_s=0.01, max_s=0.02
    )
    assert ready is False and len(attempts) == 4
    assert reasons == [
        f"the store http://bob@127.0.0.1:{port}/tax is not usable: connection refused"
    ]


def test_a_configuration_error_is_raised_at_once(tmp_path: Path, store: Store) -> None:
    store.rows("SELECT 1")  # this process's chDB directory is open
    other = Store(f"chdb://{tmp_path}/other")
    with pytest.raises(StoreConfigError, match="one data directory per process"):
        wait_for_store(other, initial_s=0.01, max_s=0.02)


_HOLDER = """
import sys
from hallkpi.ingest.store.connection import Store
store = Store(sys.argv[1])  # kept: the directory is held while it is open
store.rows("SELECT 1")
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""
_WAITER = """
import sys
from hallkpi.ingest.store.connection import Store, wait_for_store
store = Store(sys.argv[1])
wait_for_store(store, on_wait=lambda r: print("waiting:", r, flush=True), initial_s=0.05, max_s=0.2)
tables = store.rows("SELECT name FROM system.tables WHERE database = 'hallkpi' ORDER BY name")
print("ready", *[t for (t,) in tables], flush=True)
"""


def test_a_chdb_directory_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    """chDB itself only says "Error initializing EmbeddedServer"; the reason names the
    process that holds the directory. Once it lets go, the schema is made."""
    url = f"chdb://{tmp_path}/store"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == b"held\n"
    log = tmp_path / "waiter.log"
    with open(log, "wb") as out:
        waiter = subprocess.Popen(
            [sys.executable, "-c", _WAITER, url], stdout=out, stderr=subprocess.PIPE
        )
        try:
            wait_until(lambda: b"waiting:" in log.read_bytes(), 60, "the waiter's reason")
            holder.stdin.close()
            holder.wait(timeout=60)
            _, err = waiter.communicate(timeout=60)
        finally:
            for p in (holder, waiter):
                if p.poll() is None:
                    p.kill()
                    p.wait()
            holder.stdin.close()
            holder.stdout.close()
    lines = log.read_text().splitlines()
    assert lines[0] == (
        f"waiting: the chDB directory {tmp_path}/store is in use by another process "
        f"(pid {holder.pid})"
    )
    assert lines[-1].split()[0] == "ready" and {"events", "upstream_gaps"} <= set(lines[-1].split())
    assert len(lines) == 2  # the reason once, not once an attempt
    assert waiter.returncode == 0 and b"Traceback" not in err


def test_a_store_error_other_than_configuration_is_retried(store: Store) -> None:
    """An answer that is an error (here: a schema step failing) is waited out too."""
    failures = iter([StoreError("query failed on x: Code: 164. READONLY"), None])
    reasons: list[str] = []

    def prepare(s: Store) -> None:
        exc = next(failures)
        if exc is not None:
            raise exc
        ensure_schema(s)

    assert wait_for_store(store, on_wait=reasons.append, prepare=prepare, initial_s=0.01)
    assert reasons == [f"the store {store.url} is not usable: the store is read-only"]
    assert store.rows(f"SELECT count() FROM {store.table('events')}") == [(0,)]
