"""Live EVENTS.md call events from one or several Asterisk servers: the API for the
service (``hallkpi serve --ami``) and ``hallkpi ami tap``.

::

    config = TelephonyConfig.load("hallkpi.toml")          # or TelephonyConfig(...)
    async with CallEventSource.from_config(config) as calls:
        async for event in calls:                          # EVENTS.md dicts
            engine.push(event)

Per server, a supervisor keeps an :class:`~hallkpi.telephony.client.AmiClient`
connected: after each (re)connect it waits for ``FullyBooted``, asks ``QueueStatus``
(the translator rebuilds waiting callers and agent states from its items and reports
what a disconnection hid, see :class:`~hallkpi.telephony.records.GapReport`), then
translates the live stream. A lost connection is retried with exponential backoff and
jitter; a refused login is raised from the iteration (fix the credentials; no retry
loop). A ticker settles the translators' lookahead decisions on quiet servers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from hallkpi.telephony.client import AmiClient
from hallkpi.telephony.config import AmiServer, ClientOptions, TelephonyConfig
from hallkpi.telephony.errors import AmiAuthError, AmiConnectionLost, AmiError
from hallkpi.telephony.mapping import QueueMap
from hallkpi.telephony.records import Event, GapReport, TranslateOptions
from hallkpi.telephony.translate import CallTranslator

log = logging.getLogger("hallkpi.telephony")


@dataclass
class ServerStatus:
    """What a server's supervisor did; read it for health pages and logs."""

    label: str
    translator: CallTranslator = field(repr=False)
    connected: bool = False
    connects: int = 0
    resyncs: int = 0
    last_error: str | None = None
    gaps: list[GapReport] = field(default_factory=list)


StateCallback = Callable[[ServerStatus, str], None]
"""``(status, what)`` with what in ``connected``, ``resynced``, ``lost``, ``gap``."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class CallEventSource:
    """An async iterator of EVENTS.md events from ``servers``, reconnecting for ever.

    ``on_gap(report)`` is called for every resync's :class:`GapReport` (they are also
    logged when something was missed, and kept in :attr:`status`); ``on_state`` is
    told of connections, resyncs, losses and gaps. ``rng`` seeds the backoff jitter.
    """

    def __init__(
        self,
        servers: Sequence[AmiServer],
        *,
        queues: QueueMap,
        translate: TranslateOptions | None = None,
        client: ClientOptions | None = None,
        on_gap: Callable[[GapReport], None] | None = None,
        on_state: StateCallback | None = None,
        rng: random.Random | None = None,
        max_buffered: int = 100_000,
    ) -> None:
        if not servers:
            raise ValueError("CallEventSource needs at least one AMI server")
        labels = [s.label for s in servers]
        if len(set(labels)) != len(labels):
            raise ValueError(f"AMI servers need distinct names, got {labels}")
        self.servers = tuple(servers)
        self.client_options = client or ClientOptions()
        base = translate or TranslateOptions()
        self.status: dict[str, ServerStatus] = {}
        for server in self.servers:
            options = dataclasses.replace(base, id_prefix=server.id_prefix or base.id_prefix)
            self.status[server.label] = ServerStatus(server.label, CallTranslator(queues, options))
        self._on_gap = on_gap
        self._on_state = on_state
        self._rng = rng or random.Random()
        self._out: asyncio.Queue[Event | BaseException] = asyncio.Queue(max_buffered)
        self._tasks: list[asyncio.Task[None]] = []
        self._tick_s = max(0.02, base.lookahead_ms / 2000)

    @classmethod
    def from_config(cls, config: TelephonyConfig, **kwargs: object) -> CallEventSource:
        """A source for every ``[[telephony.servers]]`` of the configuration."""
        return cls(
            config.servers,
            queues=config.queues,
            translate=config.translate,
            client=config.client,
            **kwargs,  # type: ignore[arg-type]
        )

    async def __aenter__(self) -> CallEventSource:
        for server in self.servers:
            task = asyncio.create_task(self._supervise(server), name=f"ami {server.label}")
            self._tasks.append(task)
        self._tasks.append(asyncio.create_task(self._tick(), name="ami ticker"))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stops every supervisor (each logs off and closes its connection)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def __aiter__(self) -> CallEventSource:
        return self

    async def __anext__(self) -> Event:
        """The next event of any server. Raises AmiAuthError when a server refuses the
        login (the other servers keep running until the source is closed)."""
        if not self._tasks:
            raise StopAsyncIteration
        item = await self._out.get()
        if isinstance(item, BaseException):
            raise item
        return item

    # --- internals -----------------------------------------------------------------

    def _tell(self, status: ServerStatus, what: str) -> None:
        if self._on_state is not None:
            self._on_state(status, what)

    async def _emit(self, events: list[Event]) -> None:
        for event in events:
            await self._out.put(event)

    async def _supervise(self, server: AmiServer) -> None:
        status = self.status[server.label]
        translator = status.translator
        backoff = self.client_options.backoff
        attempt = 0
        while True:
            try:
                async with AmiClient(server, self.client_options) as ami:
                    status.connected, status.last_error = True, None
                    status.connects += 1
                    self._tell(status, "connected")
                    resync = asyncio.create_task(self._resync(ami, status))
                    try:
                        async for msg in ami:
                            await self._emit(translator.feed(msg, received_ms=_now_ms()))
                            if msg.name == "QueueParams":
                                self._gaps(status)
                            if resync.done() and attempt:
                                attempt = 0  # connected and resynchronised: a fresh start
                    finally:
                        resync.cancel()
                        await asyncio.gather(resync, return_exceptions=True)
            except AmiAuthError as exc:  # raised to the consumer: not logged here too
                status.connected, status.last_error = False, str(exc)
                await self._out.put(exc)
                return
            except (AmiConnectionLost, OSError) as exc:
                status.last_error = str(exc)
            except Exception as exc:  # a bug: tell the consumer rather than hang
                log.exception("%s: supervisor failed", server.label)
                await self._out.put(exc)
                return
            status.connected = False
            self._tell(status, "lost")
            delay = backoff.delay(attempt, self._rng.random())
            attempt += 1
            log.info("%s: reconnecting in %.2f s", server.label, delay)
            await asyncio.sleep(delay)

    async def _resync(self, ami: AmiClient, status: ServerStatus) -> None:
        try:
            if self.client_options.events.strip().lower() != "off" and not await ami.wait_booted():
                log.warning("%s: no FullyBooted event; resynchronising anyway", status.label)
            await ami.action("QueueStatus")  # its items reach the translator in the stream
        except AmiConnectionLost:
            return
        except AmiError as exc:
            log.error("%s: QueueStatus failed, no resync: %s", status.label, exc)
            return
        status.resyncs += 1
        self._tell(status, "resynced")

    def _gaps(self, status: ServerStatus) -> None:
        for report in status.translator.drain_gaps():
            report = dataclasses.replace(report, source=status.label)  # noqa: PLW2901
            status.gaps.append(report)
            del status.gaps[:-100]
            if report.hidden:
                log.warning("%s", report)
            if self._on_gap is not None:
                self._on_gap(report)
            self._tell(status, "gap")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            now = _now_ms()
            for status in self.status.values():
                await self._emit(status.translator.poll(now))
