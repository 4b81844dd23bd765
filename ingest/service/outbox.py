"""Outgoing MQTT messages with flow control.

The broker accepts only so many unacknowledged QoS 1 messages from us (its Receive
Maximum, e.g. Mosquitto's ``max_inflight_messages``); publishing more at once would
exhaust the client's packet ids. The outbox sends in bursts of at most ``burst``
messages and waits for their acknowledgements before the next burst. Retained hall
statuses are coalesced per topic (only the newest waiting one is sent); other messages
keep their order. When more than ``limit`` messages wait, the oldest non-status ones
are dropped and counted (``dropped``), never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable


class Outbox:
    def __init__(
        self,
        send: Callable[[str, bytes, bool], None],
        drained: Callable[[], Awaitable[None]],
        *,
        burst: int = 200,
        limit: int = 100_000,
    ) -> None:
        self._send = send
        self._drained = drained
        self.burst = burst
        self.limit = limit
        self._latest: OrderedDict[str, tuple[bytes, bool]] = OrderedDict()
        self._urgent: OrderedDict[str, tuple[bytes, bool]] = OrderedDict()
        self._queue: deque[tuple[str, bytes, bool]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.dropped = 0

    def put(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        coalesce: bool = False,
        urgent: bool = False,
    ) -> None:
        """Queues a message; ``coalesce`` keeps only the newest waiting one per topic;
        ``urgent`` (a coalesced status caused by an event) goes before the others."""
        if urgent:
            self._latest.pop(topic, None)
            self._urgent.pop(topic, None)
            self._urgent[topic] = (payload, retain)
        elif coalesce:
            self._latest.pop(topic, None)
            self._latest[topic] = (payload, retain)
        else:
            self._queue.append((topic, payload, retain))
            while len(self._queue) > self.limit:
                self._queue.popleft()
                self.dropped += 1
        self._wake.set()

    def __len__(self) -> int:
        return len(self._urgent) + len(self._latest) + len(self._queue)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt-outbox")

    async def stop(self, timeout: float = 5.0) -> None:
        """Sends what waits (bounded by ``timeout``) and stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flush(), timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _flush(self) -> None:
        while len(self):
            await self._burst()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while len(self):
                await self._burst()

    async def _burst(self) -> None:
        n = 0
        while n < self.burst and self._urgent:
            topic, (payload, retain) = self._urgent.popitem(last=False)
            self._send(topic, payload, retain)
            n += 1
        while n < self.burst and self._queue:
            self._send(*self._queue.popleft())
            n += 1
        while n < self.burst and self._latest:
            topic, (payload, retain) = self._latest.popitem(last=False)
            self._send(topic, payload, retain)
            n += 1
        self.sent += n
        if n:
            await self._drained()
