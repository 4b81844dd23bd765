"""The service's side of the store at start and for its dead letters.

- :func:`wait_for_store`: waits (backoff, logged once) until the store answers and its
  schema is in place, so a service started before its store neither exits with a
  traceback nor acknowledges anything meanwhile.
- :func:`drain_spool`: waits until what an earlier run spooled is in the store, so
  recovery (which reads the store) sees it; else the live engine would miss those
  events.
- :func:`add_deadletters`: the service's dead letters into the store's
  ``dead_letters`` table (what recovery counts after a restart).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hallkpi.ingest import connection
from hallkpi.ingest.batch import ArrivalClock
from hallkpi.ingest.connection import Store
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.native import PackedStrings
from hallkpi.ingest.schema import ensure_schema
from hallkpi.ingest.writer import StoreWriter

log = logging.getLogger("hallkpi.serve")


async def wait_for_store(
    store: Store,
    stop: asyncio.Event,
    on_wait: Callable[[str], None],
    *,
    backoff_s: float = 0.5,
    backoff_max_s: float = 15.0,
) -> bool:
    """Until the store answers and has its schema (then True) or ``stop`` (False).
    ``on_wait(reason)`` is told each failed attempt (for ``/healthz``)."""
    halt = threading.Event()
    waiter = asyncio.ensure_future(stop.wait())
    waiter.add_done_callback(lambda _: halt.set())
    said = False

    def told(reason: str) -> None:
        nonlocal said
        if not said:  # once: the service is waiting, not failing
            said = True
            log.warning("waiting for the store before serving (/healthz says why)")
        on_wait(reason)

    try:
        shared = getattr(connection, "wait_for_store", None)
        if shared is not None:  # the store's own waiting, once it has one
            await asyncio.to_thread(
                shared, store, stop=halt, on_wait=told, initial_s=backoff_s, max_s=backoff_max_s
            )
            return not stop.is_set()
        return await asyncio.to_thread(
            _wait, store, halt, on_wait, backoff_s=backoff_s, backoff_max_s=backoff_max_s
        )
    finally:
        waiter.cancel()


def _wait(
    store: Store,
    halt: threading.Event,
    on_wait: Callable[[str], None],
    *,
    backoff_s: float,
    backoff_max_s: float,
) -> bool:
    delay, logged = backoff_s, None
    while not halt.is_set():
        try:
            ensure_schema(store)
            if logged is not None:
                log.info("the store %s answers", store.url.redacted())
            return True
        except StoreError as exc:
            reason = f"waiting for the store: {exc}"
            on_wait(reason)
            if logged is None:  # once, not once a try
                log.warning("%s; retrying with backoff (up to every %.0f s)", reason, backoff_max_s)
            logged = reason
        halt.wait(delay)
        delay = min(delay * 2, backoff_max_s)
    return False


async def drain_spool(
    writer: StoreWriter, stop: asyncio.Event, on_wait: Callable[[str], None]
) -> bool:
    """Until the writer's spool is empty (True) or ``stop`` (False)."""
    if not len(writer.spool):
        return True
    started, n = time.monotonic(), len(writer.spool)
    log.info("draining %d spooled blocks into the store before recovery", n)
    while not stop.is_set():
        if await asyncio.to_thread(writer.wait_idle, 1.0) and not len(writer.spool):
            log.info("spool drained in %.1f s", time.monotonic() - started)
            return True
        on_wait(f"draining {len(writer.spool)} spooled blocks into the store before recovery")
    return False


_arrivals = ArrivalClock()


def deadletter_columns(rows: Sequence[dict[str, Any]], source: str) -> dict[str, Any]:
    """``dead_letters`` columns of the service's rejections (``{ts, topic, reason,
    payload}``); each row its own position (its arrival time in ns)."""
    seq = _arrivals.take(len(rows))
    return {
        "source": PackedStrings.from_strs([source] * len(rows)),
        "position": seq,
        "ingest_seq": seq,
        "ts": np.array([int(r["ts"]) for r in rows], np.int64),
        "kind": PackedStrings.from_strs(["rejected"] * len(rows)),
        "hall": PackedStrings.from_strs([_hall_of(str(r["topic"])) for r in rows]),
        "reason": PackedStrings.from_strs([str(r["reason"]) for r in rows]),
        "payload": PackedStrings.from_bytes([bytes(r["payload"]) for r in rows]),
    }


def _hall_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 3 and parts[-1] == "events" else ""


def add_deadletters(writer: StoreWriter, rows: Sequence[dict[str, Any]], source: str) -> None:
    """Buffers the service's dead letters for the store (the writer's own method once
    it has one)."""
    if not rows:
        return
    own = getattr(writer, "add_deadletters", None)
    if own is not None:
        own(rows)
    else:
        writer.add("dead_letters", deadletter_columns(rows, source))
