"""Acknowledge-after-durable: MQTT messages are acknowledged only once their events are
in the store or its spool.

Messages hand their applied events to :class:`AckPump` with a callback (or await the
future it gives). The pump gathers what arrived during a short window (``interval_s``)
into a **round**: it turns the events into columns, gives them to the writer and waits
for :meth:`StoreWriter.flush` in a thread. Rounds run one at a time, in order.

A round that fails (the store refuses writes, the spool's disk is full, backpressure)
keeps its events and callbacks and is retried with backoff (``retry_s`` doubling up to
``retry_max_s``) until the writer takes it; its events are given to the writer once.
Only then do its callbacks fire, ``done(True)``, in submission order. A failed round is
never answered with "no acknowledgement": inside one connection the broker does not
redeliver, and a redelivered copy would be a duplicate to the engine, acknowledged
without being stored.

``submit_callback([], done)`` is for a message with nothing to store (every event a
duplicate or rejected): its acknowledgement waits until every round submitted before it
is durable, so a redelivered copy of a message still pending is not acknowledged first
(and dead letters given to the writer before it are flushed with it).

Memory: what waits here is bounded by the messages in flight, which the broker limits
to the client's receive maximum (and its own ``max_inflight_messages``): no more are
sent until some are acknowledged. Sources without such a bound (AMI) should watch
:attr:`AckPump.pending`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

log = logging.getLogger("hallkpi.ingest.service")


class Writer(Protocol):
    def add_events(self, columns: Any) -> None: ...
    def flush(self, timeout: float | None = None) -> None: ...


class Pending(NamedTuple):
    """What waits for the store: events, and messages (callbacks and futures)."""

    events: int
    messages: int


@dataclass
class _Round:
    events: list[dict[str, Any]] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    callbacks: list[Callable[[bool], None]] = field(default_factory=list)
    added: bool = False  # the events are with the writer

    @property
    def messages(self) -> int:
        return len(self.waiters) + len(self.callbacks)


class AckPump:
    """Batches durability for many messages; see the module doc."""

    def __init__(
        self,
        writer: Writer,
        to_columns: Callable[[Sequence[dict[str, Any]]], Any],
        *,
        interval_s: float = 0.1,
        retry_s: float = 0.1,
        retry_max_s: float = 5.0,
    ) -> None:
        self.writer = writer
        self.to_columns = to_columns
        self.interval_s = interval_s
        self.retry_s = retry_s
        self.retry_max_s = retry_max_s
        self._next = _Round()  # gathering
        self._current: _Round | None = None  # being made durable
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0
        self.failures = 0  # failed attempts (each retried)
        self.unstorable = 0  # events to_columns could not convert (logged, not stored)
        self.last_error: str | None = None  # why the current round waits; None when fine

    @property
    def pending(self) -> Pending:
        """Events and messages waiting to be durable (gathering and in the current round)."""
        rounds = [r for r in (self._current, self._next) if r is not None]
        return Pending(sum(len(r.events) for r in rounds), sum(r.messages for r in rounds))

    def submit(self, events: Sequence[dict[str, Any]]) -> asyncio.Future[None]:
        """Queues ``events`` for the store; the future resolves once they are durable."""
        self._next.events.extend(events)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._next.waiters.append(fut)
        self._wake.set()
        return fut

    def submit_callback(
        self, events: Sequence[dict[str, Any]], done: Callable[[bool], None]
    ) -> None:
        """Like :meth:`submit`, without a future (cheaper per message): ``done(True)``
        once ``events`` and everything submitted before are durable. ``done(False)``
        only if the pump is stopped before that (the message stays unacknowledged)."""
        self._next.events.extend(events)
        self._next.callbacks.append(done)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ack-pump")

    async def stop(self) -> None:
        """Stops; what is pending gets one more try, and what still fails is answered
        ``done(False)`` (the broker redelivers it to the next session)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        rounds = [r for r in (self._current, self._next) if r is not None]
        self._current, self._next = None, _Round()
        failed: BaseException | None = None
        for r in rounds:
            if failed is None and (r.messages or r.events):
                try:
                    await self._attempt(r)
                except Exception as exc:
                    log.warning("stopping with messages not durable: %s", exc)
                    failed = exc
            self._answer(r, failed)  # in order: nothing after a failed round is True

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.interval_s)
            await self._round()

    async def _round(self) -> None:
        r, self._next = self._next, _Round()
        self._current = r
        self.rounds += 1
        delay = self.retry_s
        while True:
            try:
                await self._attempt(r)
                break
            except Exception as exc:  # kept and retried: nothing is answered False
                self.failures += 1
                if self.last_error is None:
                    log.warning("%d messages wait for the store: %s", r.messages, exc)
                self.last_error = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
        if self.last_error is not None:
            log.info("the store took the waiting messages again")
        self.last_error = None
        self._current = None
        self._answer(r, None)

    async def _attempt(self, r: _Round) -> None:
        if r.events and not r.added:
            columns = self._columns(r.events)
            if columns is not None:
                await asyncio.to_thread(self.writer.add_events, columns)
            r.added = True
        await asyncio.to_thread(self.writer.flush)

    def _columns(self, events: list[dict[str, Any]]) -> Any:
        """Columns of ``events``; an event that cannot be converted (a bug: the engine
        accepted it) is logged and counted, and the others still go."""
        try:
            return self.to_columns(events)
        except Exception:
            good = []
            for e in events:
                try:
                    self.to_columns([e])
                    good.append(e)
                except Exception:
                    self.unstorable += 1
                    log.exception("an applied event cannot be stored: %r", e)
            return self.to_columns(good) if good else None

    @staticmethod
    def _answer(r: _Round, exc: BaseException | None) -> None:
        for w in r.waiters:
            if not w.done():
                if exc is None:
                    w.set_result(None)
                else:
                    w.set_exception(exc)
        for cb in r.callbacks:
            cb(exc is None)
