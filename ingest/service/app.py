"""``hallkpi serve``: MQTT in and out around one Engine, with the store behind it.

Start, in this order, each step waiting (with backoff, logged once, shown by
``/healthz`` as 503 with the reason) instead of exiting: the HTTP endpoint; the store
(it must answer and have its schema); the spool of an earlier run, drained into the
store (recovery reads the store, so it must see those events); recovery of the engine
from the store (today and the longest horizon), with the counters restored; then the
broker, with a persistent MQTT v5 session (stable client id, clean start off), event
topics at QoS 1, reconnected by :class:`BrokerLink` whenever the connection is lost or
refused. Each message is decoded and applied at once (:class:`HallService`), its
rejections dead-lettered (topic and store), and it is acknowledged (PUBACK) only after
its events and dead letters are in the store or its spool (:class:`AckPump`): after a
crash the broker delivers the unacknowledged messages again and de-duplication by id
absorbs what the store already had. Every second the clock advances from the wall
clock: alert changes go to ``{prefix}/halls/{hall}/alerts`` and the store, changed hall
statuses to the retained ``{prefix}/halls/{hall}/status``; KPI rows go to the store
every ``kpi_interval_s``. Presence is retained on ``{prefix}/service/{client_id}``,
"offline" by MQTT will.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gmqtt import Message
from hallkpi.core import Engine
from hallkpi.ingest.service.acks import AckPump
from hallkpi.ingest.service.broker_link import BrokerLink
from hallkpi.ingest.service.extension_io import SplitWriter, recover_extensions, split_columns
from hallkpi.ingest.service.extensions import REGISTRY, Extensions
from hallkpi.ingest.service.health import Health, gap_rows
from hallkpi.ingest.service.http import HttpEndpoint
from hallkpi.ingest.service.live_advice import LiveDecisions
from hallkpi.ingest.service.logic import Admission, HallFilter, HallService, Handled
from hallkpi.ingest.service.mqtt_url import MqttURL
from hallkpi.ingest.service.outbox import Outbox
from hallkpi.ingest.service.store_io import add_deadletters, drain_spool, wait_for_store
from hallkpi.ingest.service.topics import Topics
from hallkpi.ingest.store.batch import ArrivalClock
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.recovery import (
    dead_letter_counts,
    longest_horizon_s,
    recover,
    recovery_start,
)
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter, WriterConfig

log = logging.getLogger("hallkpi.ingest.service")

STOP_TIMEOUT_S = 30.0  # each shutdown step (store round, outbox) waits at most this


def _monotonic_ms() -> int:
    """A clock that moves in real time and never jumps (rate limits, not timestamps)."""
    return time.monotonic_ns() // 1_000_000


def _epoch_ms() -> int:
    """The wall clock: milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


@dataclass
class ServeOptions:
    mqtt: MqttURL
    client_id: str
    store: Store
    spool_dir: Path
    # the broker password, asked again before every connection attempt (rotation)
    mqtt_password: Callable[[], str | None] = lambda: None
    tls: ssl.SSLContext | None = None
    topics: Topics = field(default_factory=Topics)
    halls: HallFilter = field(default_factory=HallFilter)
    admission: Admission = field(default_factory=Admission)
    http: tuple[str, int] | None = None
    http_token: str | None = None  # bearer token of /snapshot and /metrics
    kpi_interval_s: float = 10.0
    ack_interval_s: float = 0.1
    max_payload_bytes: int = 262144
    wall_clock: bool = True  # False: the clock moves only with events (tests, replays)
    writer: WriterConfig = field(default_factory=WriterConfig)
    log_every_s: float = 60.0
    reconnect_max_s: float = 15.0  # longest pause between attempts (broker, store)
    config: Mapping[str, Any] = field(default_factory=dict)  # the file: [advice], [quoted_wait]
    # Call events from Asterisk: a factory of an async context manager that iterates
    # EVENTS.md call events (hallkpi.telephony.CallEventSource); None = MQTT only.
    calls: Callable[[], Any] | None = None
    # where extension events (contract v1.2) go: the process's registry by default
    extensions: Extensions = field(default_factory=lambda: REGISTRY)


class Service:
    """One ``hallkpi serve`` worker; ``await Service(engine, options).run(stop)``."""

    def __init__(self, engine: Engine, options: ServeOptions) -> None:
        self.engine = engine
        self.options = options
        self.extensions = options.extensions
        self.decisions = LiveDecisions(
            engine, topics=options.topics, owns=options.halls.owns, config=options.config
        )
        self.core = HallService(
            engine,
            topics=options.topics,
            halls=options.halls,
            max_payload_bytes=options.max_payload_bytes,
            kpi_interval_s=options.kpi_interval_s,
            extra_status=self.decisions.extra_status,
            admission=options.admission,
            wall_ms=_epoch_ms if options.wall_clock else None,
            extensions=options.extensions,
        )
        self.topics = options.topics
        self.arrivals = ArrivalClock()
        self.writer: StoreWriter | None = None
        self.link: BrokerLink | None = None
        self.acks: AckPump | None = None
        self.outbox: Outbox | None = None
        self.health = Health(self)
        self.ready = asyncio.Event()  # set at the first connection to the broker
        self.http_address: tuple[str, int] | None = None
        self._last_log = time.monotonic()

    # --- start and stop ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        o = self.options
        http = None
        if o.http is not None:  # first: /healthz explains what the start waits for
            http = HttpEndpoint(
                metrics=self.health.metrics,
                health=self.health.problem,
                notes=self.health.notes,
                status=self._status,
                snapshot=self.engine.snapshot,
                gaps=self.health.gaps,
                token=o.http_token,
            )
            self.http_address = await http.start(*o.http)
        try:
            self.health.stage = "waiting for the store"
            if await wait_for_store(
                o.store, stop, self.health.waiting, backoff_max_s=o.reconnect_max_s
            ):
                await self._with_writer(stop)
        finally:
            if http is not None:
                await http.close()

    async def _with_writer(self, stop: asyncio.Event) -> None:
        o = self.options
        self.writer = writer = StoreWriter(o.store, Spool(o.spool_dir), o.writer)
        try:
            self.health.stage = "draining the spool"
            if not await drain_spool(writer, stop, self.health.waiting):
                return
            self.health.stage = "recovering from the store"
            await asyncio.to_thread(self._recover)
            await self._live(stop)
        finally:
            await asyncio.to_thread(writer.close, 60)

    def _recover(self) -> None:
        o = self.options
        halls = sorted(o.halls.halls) if o.halls.halls is not None else None
        started = time.monotonic()
        now = self._now_ms()
        # A stored event dated beyond the lead (one accepted before the limit existed)
        # is not read: it would move every hall's clock again after each restart.
        lead = o.admission.max_lead_ms if o.wall_clock else None
        result = recover(self.engine, o.store, now_ms=now, halls=halls, max_lead_ms=lead)
        self.engine.drain_alerts()  # changes of the past were stored when they happened
        self.engine.drain_gap_changes()  # likewise
        self.core.resync()
        # Counters go on from the store's, not from zero.
        since = recovery_start(now, longest_horizon_s(self.engine), self.engine.timezone)
        dead = dead_letter_counts(o.store, since_ms=since)
        c = self.core.counters
        c.events_applied = c.events_received = result.applied
        c.events_duplicate = result.duplicates + dead.get("duplicate", 0)
        c.events_rejected = c.deadletters = dead.get("rejected", 0)
        c.extension_events = recover_extensions(
            self.engine, o.store, self.extensions, since_ms=since, now_ms=now, halls=halls
        )
        c.events_applied += c.extension_events
        c.events_received += c.extension_events
        log.info(
            "recovered %d events from the store in %.2f s",
            result.applied,
            time.monotonic() - started,
        )

    def _now_ms(self) -> int:
        return _epoch_ms() if self.options.wall_clock else self.engine.now

    async def _live(self, stop: asyncio.Event) -> None:
        o = self.options
        assert self.writer is not None
        self.decisions.record_to(o.store)
        self.acks = AckPump(
            SplitWriter(self.writer, self.arrivals),
            lambda evs: split_columns(evs, self.arrivals),
            interval_s=o.ack_interval_s,
        )
        self.acks.start()
        presence = self.topics.presence(o.client_id)
        self.link = link = BrokerLink(
            o.mqtt,
            o.client_id,
            subscriptions=self.topics.subscriptions,
            will=Message(presence, b'{"state": "offline"}', qos=1, retain=True),
            qos1=self._qos1,
            fallback=self._on_message,
            password=o.mqtt_password,
            tls=o.tls,
            backoff_max_s=o.reconnect_max_s,
            on_connected=self._on_connected,
        )
        self.outbox = Outbox(link.publish, link.wait_acked)
        self.outbox.start()
        link_task = asyncio.get_running_loop().create_task(link.run(stop), name="mqtt-link")
        calls = None
        if o.calls is not None:
            calls = asyncio.get_running_loop().create_task(self._calls(o.calls), name="ami")
        self.health.stage = None
        try:
            await self._ticks(stop)
        finally:
            await self._shutdown(stop, link_task, calls)

    def _on_connected(self) -> None:
        self._publish(
            self.topics.presence(self.options.client_id), b'{"state": "online"}', retain=True
        )
        self.ready.set()

    async def _shutdown(
        self, stop: asyncio.Event, link_task: asyncio.Task[None], calls: asyncio.Task[None] | None
    ) -> None:
        """Each step on its own: a failed one is logged and the others still run (the
        last store round first, so its PUBACKs still go out)."""
        stop.set()
        if calls is not None:
            calls.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await calls
        assert self.acks is not None and self.outbox is not None and self.link is not None
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("the last store round", self.acks.stop),
            ("the outbox", self._stop_outbox),
            ("the MQTT link", lambda: link_task),
            ("the disconnect", self.link.close),
        ]
        for what, step in steps:
            try:
                await asyncio.wait_for(step(), STOP_TIMEOUT_S)
            except Exception:
                log.exception("stopping %s failed", what)
        writer = self.writer
        if writer is not None:
            writer.add_alerts(self.engine.drain_alerts())  # changes since the last tick
            self._write_kpis(self.engine.now)
        await asyncio.to_thread(self.decisions.close, 10)

    async def _stop_outbox(self) -> None:
        assert self.outbox is not None and self.link is not None
        if self.link.connected.is_set():  # else the broker has, or will send, our will
            self._publish(
                self.topics.presence(self.options.client_id), b'{"state": "offline"}', retain=True
            )
        await self.outbox.stop()

    # --- messages ------------------------------------------------------------------------

    def _qos1(self, mid: int, payload: bytes, topic: str, puback: Callable[[int], None]) -> None:
        """gmqtt's QoS 1 path: each message applied at once and its PUBACK sent from
        the store round's callback, with no Task or Future per message. No exception
        leaves this hook: a message nobody acknowledges is redelivered for ever and,
        once the broker's receive maximum of them is outstanding, stalls the session."""
        try:
            applied = self._carry_out(self.core.handle(topic, payload))
        except Exception as exc:  # last resort: carrying out the answer failed
            applied = []
            with contextlib.suppress(Exception):
                self._carry_out(self.core.internal_error(exc, topic, payload))

        def done(ok: bool) -> None:
            if ok:  # else no PUBACK: the broker delivers the message again
                puback(mid)

        try:
            assert self.acks is not None
            # Messages with nothing applied are acknowledged behind the earlier rounds
            # too: their dead letters (and a duplicate's first copy) are stored first.
            self.acks.submit_callback(applied, done)
        except Exception as exc:
            self.core.internal_error(exc, topic, payload)
            puback(mid)

    def _carry_out(self, handled: Handled) -> list[dict[str, Any]]:
        """Publishes and stores a message's dead letters and, when due, publishes its
        hall's status (before the periodic refreshes); returns the applied events,
        still to be stored."""
        for letter in handled.deadletters:
            self._publish(self.topics.deadletter, letter)
        if handled.rows and self.writer is not None:
            add_deadletters(self.writer, handled.rows)
        if handled.hall is not None:
            for t, body, retain in self.core.due_statuses(_monotonic_ms(), [handled.hall]):
                self._publish(t, body, retain=retain, urgent=True)
        return handled.applied

    async def _on_message(
        self, client: Any, topic: str, payload: bytes, qos: int, properties: Any
    ) -> int:
        """gmqtt's own path (used only when its QoS 1 handler cannot be taken over)."""
        try:
            applied = self._carry_out(self.core.handle(topic, payload))
        except Exception as exc:
            applied = []
            self.core.internal_error(exc, topic, payload)
        assert self.acks is not None
        await self.acks.submit(applied)
        return 0  # success: PUBACK now

    async def _calls(self, source_factory: Callable[[], Any]) -> None:
        """Feeds call events from Asterisk (AMI) into the engine and the store, next to
        MQTT. An authentication failure stops this source (and shows in /healthz)."""
        try:
            async with source_factory() as source:
                async for event in source:
                    applied = self._carry_out(self.core.apply_event(event, "ami"))
                    if applied and self.acks is not None:  # stored; nothing to acknowledge
                        self.acks.submit_callback(applied, lambda ok: None)
        except PermissionError as exc:  # hallkpi.telephony.AmiAuthError
            self.health.calls_error = f"AMI login refused: {exc}"
            log.error("%s; call events stopped", self.health.calls_error)

    def _publish(
        self, topic: str, payload: bytes, *, retain: bool = False, urgent: bool = False
    ) -> None:
        """Queues a QoS 1 message; retained ones (statuses) coalesce per topic; urgent
        ones (a status changed by an event) go first."""
        if self.outbox is not None:
            self.outbox.put(topic, payload, retain=retain, coalesce=retain, urgent=urgent)

    # --- the clock -----------------------------------------------------------------------

    async def _ticks(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    def tick(self) -> None:
        """Advances the clock and publishes and stores what is due."""
        now = self._now_ms()
        t = self.core.tick(now, _monotonic_ms())
        for topic, payload, retain in [*t.messages, *self.decisions.tick(now)]:
            self._publish(topic, payload, retain=retain)
        if self.writer is not None:
            self.writer.add_alerts(t.alert_changes)
            gaps = gap_rows(self.engine, now)
            if gaps is not None:
                self.writer.add("upstream_gaps", gaps)
            if t.write_kpis:
                self._write_kpis(now)
            self.core.counters.spooled = len(self.writer.spool)
        if time.monotonic() - self._last_log >= self.options.log_every_s:
            self._last_log = time.monotonic()
            log.info("%s", self.core.counters.summary())

    def _write_kpis(self, now: int) -> None:
        if self.writer is None:
            return
        snap = self.engine.snapshot_columns()
        staff = self.engine.staff_columns()
        snap["ts"] = np.full(len(snap["ts"]), now, np.int64)
        staff["ts"] = np.full(len(staff["ts"]), now, np.int64)
        self.writer.add_snapshot(snap, staff)

    def _status(self, hall: str) -> dict[str, Any] | None:
        if hall not in self.engine.halls():
            return None
        return self.core.status(hall)
