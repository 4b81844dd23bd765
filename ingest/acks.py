"""Acknowledge-after-durable: MQTT messages are acknowledged only once their events are
in the store or its spool.

Messages hand their applied events to :class:`AckPump` and await the future it gives.
The pump gathers what arrived during a short window (``interval_s``), turns it into
columns, gives it to the writer, waits for :meth:`StoreWriter.flush` in a thread, and
resolves every future of that window at once. A failed flush fails the futures, so
those messages are never acknowledged and the broker delivers them again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Writer(Protocol):
    def add_events(self, columns: Any) -> None: ...
    def flush(self, timeout: float | None = None) -> None: ...


class AckPump:
    """Batches durability for many messages; see the module doc."""

    def __init__(
        self,
        writer: Writer,
        to_columns: Callable[[Sequence[dict[str, Any]]], Any],
        *,
        interval_s: float = 0.1,
    ) -> None:
        self.writer = writer
        self.to_columns = to_columns
        self.interval_s = interval_s
        self._events: list[dict[str, Any]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._callbacks: list[Callable[[bool], None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    def submit(self, events: Sequence[dict[str, Any]]) -> asyncio.Future[None]:
        """Queues ``events`` for the store; the future resolves once they are durable."""
        self._events.extend(events)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake.set()
        return fut

    def submit_callback(
        self, events: Sequence[dict[str, Any]], done: Callable[[bool], None]
    ) -> None:
        """Like :meth:`submit`, without a future: ``done(True)`` once durable,
        ``done(False)`` when the store round failed (cheaper per message)."""
        self._events.extend(events)
        self._callbacks.append(done)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ack-pump")

    async def stop(self) -> None:
        """Finishes the pending round (if any) and stops."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._waiters or self._callbacks:
            await self._round()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.interval_s)
            await self._round()

    async def _round(self) -> None:
        events, self._events = self._events, []
        waiters, self._waiters = self._waiters, []
        callbacks, self._callbacks = self._callbacks, []
        self.rounds += 1
        try:
            if events:
                columns = self.to_columns(events)
                await asyncio.to_thread(self.writer.add_events, columns)
            await asyncio.to_thread(self.writer.flush)
        except Exception as exc:  # no acknowledgement: the broker redelivers
            for w in waiters:
                if not w.done():
                    w.set_exception(exc)
            for cb in callbacks:
                cb(False)
            return
        for w in waiters:
            if not w.done():
                w.set_result(None)
        for cb in callbacks:
            cb(True)
