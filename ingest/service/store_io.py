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

from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.connection import wait_for_store as wait_for_store_blocking
from hallkpi.ingest.store.writer import StoreWriter

log = logging.getLogger("hallkpi.ingest.service")


async def wait_for_store(
    store: Store,
    stop: asyncio.Event,
    on_wait: Callable[[str], None],
    *,
    backoff_s: float = 0.5,
    backoff_max_s: float = 15.0,
) -> bool:
    """Until the store answers and has its schema (then True) or ``stop`` (False).
    ``on_wait(reason)`` hears each new reason (for ``/healthz``); the store's own
    :func:`~hallkpi.ingest.store.connection.wait_for_store` does the waiting."""
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
        await asyncio.to_thread(
            wait_for_store_blocking,
            store,
            stop=halt,
            on_wait=told,
            initial_s=backoff_s,
            max_s=backoff_max_s,
        )
        return not stop.is_set()
    finally:
        waiter.cancel()


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


def add_deadletters(writer: StoreWriter, rows: Sequence[dict[str, Any]]) -> None:
    """Buffers the service's dead letters (``{ts, topic, reason, payload}``) for the
    store's ``dead_letters`` table; the next store round makes them durable, before
    the message that carried them is acknowledged."""
    if rows:
        writer.add_deadletters(rows)
