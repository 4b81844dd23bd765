"""``hallkpi serve``: MQTT in and out around one Engine, with the store behind it.

Start: the engine is rebuilt from the store (today and the longest horizon), then the
service connects to the broker with a persistent MQTT v5 session (stable client id,
clean start off) and subscribes the event topics at QoS 1. Each message is decoded and
applied at once (:class:`HallService`), and acknowledged (PUBACK) only after its events
are in the store or its spool (:class:`AckPump`): after a crash the broker delivers the
unacknowledged messages again and de-duplication by id absorbs what the store already
had. Every second the clock advances from the wall clock: alert changes go to
``{prefix}/halls/{hall}/alerts`` and the store, changed hall statuses to the retained
``{prefix}/halls/{hall}/status``; KPI rows go to the store every ``kpi_interval_s``.
Presence is retained on ``{prefix}/service/{client_id}``, "offline" by MQTT will.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from gmqtt import Client, Message
from gmqtt.mqtt.constants import MQTTv50
from hallkpi.core import Engine
from hallkpi.ingest.acks import AckPump
from hallkpi.ingest.batch import ArrivalClock
from hallkpi.ingest.connection import Store
from hallkpi.ingest.hallservice import HallFilter, HallService, Handled
from hallkpi.ingest.http import HttpEndpoint
from hallkpi.ingest.jsonl import _ANY_EVENT, event_columns, lenient
from hallkpi.ingest.live_advice import LiveDecisions
from hallkpi.ingest.mqtt_url import MqttURL
from hallkpi.ingest.outbox import Outbox
from hallkpi.ingest.recovery import recover
from hallkpi.ingest.schema import ensure_schema
from hallkpi.ingest.spool import Spool
from hallkpi.ingest.topics import Topics
from hallkpi.ingest.writer import StoreWriter, WriterConfig

log = logging.getLogger("hallkpi.serve")

SESSION_EXPIRY_S = 7 * 86400  # the broker keeps our session (and unacknowledged messages)
RECEIVE_MAXIMUM = 65535  # unacknowledged messages in flight towards us


def _wall_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def events_to_columns(events: Sequence[dict[str, Any]], clock: ArrivalClock) -> dict[str, Any]:
    """Store columns of engine-valid event dicts, ``ingest_seq`` in arrival order."""
    try:
        structs = msgspec.convert(list(events), list[_ANY_EVENT])
    except msgspec.ValidationError:
        structs = [lenient(e) for e in events]
    columns, order = event_columns(structs)
    columns["ingest_seq"] = clock.take(len(structs))[order]
    return columns


@dataclass
class ServeOptions:
    mqtt: MqttURL
    client_id: str
    store: Store
    spool_dir: Path
    mqtt_password: str | None = None
    tls: ssl.SSLContext | None = None
    topics: Topics = field(default_factory=Topics)
    halls: HallFilter = field(default_factory=HallFilter)
    http: tuple[str, int] | None = None
    kpi_interval_s: float = 10.0
    ack_interval_s: float = 0.1
    max_payload_bytes: int = 262144
    wall_clock: bool = True  # False: the clock moves only with events (tests, replays)
    writer: WriterConfig = field(default_factory=WriterConfig)
    log_every_s: float = 60.0
    config: Mapping[str, Any] = field(default_factory=dict)  # the file: [advice], [quoted_wait]
    # Call events from Asterisk: a factory of an async context manager that iterates
    # EVENTS.md call events (hallkpi.telephony.CallEventSource); None = MQTT only.
    calls: Callable[[], Any] | None = None


class Service:
    """One ``hallkpi serve`` worker; ``await Service(engine, options).run(stop)``."""

    def __init__(self, engine: Engine, options: ServeOptions) -> None:
        self.engine = engine
        self.options = options
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
        )
        self.topics = options.topics
        self.arrivals = ArrivalClock()
        self.writer: StoreWriter | None = None
        self.client: Client | None = None
        self.acks: AckPump | None = None
        self.outbox: Outbox | None = None
        self.calls_error: str | None = None
        self.connected = asyncio.Event()
        self.ready = asyncio.Event()
        self.http_address: tuple[str, int] | None = None
        self._last_log = time.monotonic()

    # --- start and stop ----------------------------------------------------------------

    def _recover(self) -> None:
        o = self.options
        ensure_schema(o.store)
        halls = sorted(o.halls.halls) if o.halls.halls is not None else None
        started = time.monotonic()
        result = recover(self.engine, o.store, now_ms=self._now_ms(), halls=halls)
        self.engine.drain_alerts()  # changes of the past were stored when they happened
        log.info(
            "recovered %d events from the store in %.2f s",
            result.applied,
            time.monotonic() - started,
        )

    def _now_ms(self) -> int:
        return int(time.time() * 1000) if self.options.wall_clock else self.engine.now

    async def run(self, stop: asyncio.Event) -> None:
        o = self.options
        await asyncio.to_thread(self._recover)
        self.writer = StoreWriter(o.store, Spool(o.spool_dir), o.writer)
        self.decisions.record_to(o.store)
        writer = self.writer
        self.acks = AckPump(
            writer, lambda evs: events_to_columns(evs, self.arrivals), interval_s=o.ack_interval_s
        )
        self.acks.start()
        http = None
        if o.http is not None:
            http = HttpEndpoint(
                metrics=self._metrics,
                health=self._health,
                status=self._status,
                snapshot=self.engine.snapshot,
            )
            self.http_address = await http.start(*o.http)
        client = self._client()
        self.outbox = Outbox(self._send, self._acked)
        self.outbox.start()
        calls = None
        if o.calls is not None:
            calls = asyncio.get_running_loop().create_task(self._calls(o.calls), name="ami")
        try:
            await client.connect(
                o.mqtt.host, o.mqtt.port, ssl=o.tls or False, keepalive=30, version=MQTTv50
            )
            await self.connected.wait()
            self._publish(self.topics.presence(o.client_id), b'{"state": "online"}', retain=True)
            self.ready.set()
            await self._ticks(stop)
        finally:
            with contextlib.suppress(Exception):
                self._publish(
                    self.topics.presence(o.client_id), b'{"state": "offline"}', retain=True
                )
                await self.outbox.stop()
                await client.disconnect()
            if calls is not None:
                calls.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await calls
            await self.acks.stop()
            if http is not None:
                await http.close()
            writer.add_alerts(self.engine.drain_alerts())  # changes since the last tick
            self._write_kpis(self.engine.now)
            await asyncio.to_thread(writer.close, 60)
            await asyncio.to_thread(self.decisions.close, 10)

    def _client(self) -> Client:
        o = self.options
        will = Message(
            self.topics.presence(o.client_id), b'{"state": "offline"}', qos=1, retain=True
        )
        client = Client(
            o.client_id,
            clean_session=False,
            optimistic_acknowledgement=False,
            will_message=will,
            session_expiry_interval=SESSION_EXPIRY_S,
            receive_maximum=RECEIVE_MAXIMUM,
        )
        if o.mqtt.username:
            client.set_auth_credentials(o.mqtt.username, o.mqtt_password)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self._fast_acks(client)
        self.client = client
        return client

    def _on_connect(self, client: Client, flags: int, rc: int, properties: Any) -> None:
        for topic in self.topics.subscriptions:
            client.subscribe(topic, qos=1)
        log.info("connected to %s (session present: %s)", self.options.mqtt, bool(flags))
        self.connected.set()

    def _on_disconnect(self, client: Client, packet: Any, exc: BaseException | None = None) -> None:
        log.warning("disconnected from %s; reconnecting", self.options.mqtt)

    def _fast_acks(self, client: Client) -> None:
        """Takes over gmqtt's QoS 1 path: each message is applied at once and its PUBACK
        sent from the store round's callback, with no Task or Future per message (gmqtt
        would wrap the async ``_on_message`` in a Task). gmqtt internals, pinned to
        0.8.x in pyproject; without them the async path stays."""
        handler = getattr(client, "_package_handler", None)
        if handler is None or not hasattr(handler, "_send_puback"):
            return

        def qos1(mid: int, packet: bytes, topic: str, properties: Any) -> None:
            applied = self._carry_out(self.core.handle(topic, packet))
            acks = self.acks
            assert acks is not None
            if not applied:
                handler._send_puback(mid)
                return

            def done(ok: bool) -> None:
                if ok:  # else no PUBACK: the broker delivers the message again
                    handler._send_puback(mid)

            acks.submit_callback(applied, done)

        handler._handle_qos_1_publish_packet = qos1

    def _carry_out(self, handled: Handled) -> list[dict[str, Any]]:
        """Publishes a message's dead letters and, when due, its hall's status (before
        the periodic refreshes); returns the applied events, still to be stored."""
        for letter in handled.deadletters:
            self._publish(self.topics.deadletter, letter)
        if handled.hall is not None:
            for t, body, retain in self.core.due_statuses(_wall_ms(), [handled.hall]):
                self._publish(t, body, retain=retain, urgent=True)
        return handled.applied

    async def _on_message(
        self, client: Client, topic: str, payload: bytes, qos: int, properties: Any
    ) -> int:
        """gmqtt's own path (used only when its QoS 1 handler cannot be taken over)."""
        applied = self._carry_out(self.core.handle(topic, payload))
        assert self.acks is not None
        if applied:
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
            self.calls_error = f"AMI login refused: {exc}"
            log.error("%s; call events stopped", self.calls_error)

    def _publish(
        self, topic: str, payload: bytes, *, retain: bool = False, urgent: bool = False
    ) -> None:
        """Queues a QoS 1 message; retained ones (statuses) coalesce per topic; urgent
        ones (a status changed by an event) go first."""
        if self.outbox is not None:
            self.outbox.put(topic, payload, retain=retain, coalesce=retain, urgent=urgent)

    def _send(self, topic: str, payload: bytes, retain: bool) -> None:
        if self.client is not None:
            self.client.publish(topic, payload, qos=1, retain=retain)

    async def _acked(self) -> None:
        if self.client is not None:
            await self.client._persistent_storage.wait_empty()

    # --- the clock -----------------------------------------------------------------------

    async def _ticks(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    def tick(self) -> None:
        """Advances the clock and publishes and stores what is due."""
        now = self._now_ms()
        t = self.core.tick(now, _wall_ms())
        for topic, payload, retain in [*t.messages, *self.decisions.tick(now)]:
            self._publish(topic, payload, retain=retain)
        if self.writer is not None:
            self.writer.add_alerts(t.alert_changes)
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

    # --- HTTP ----------------------------------------------------------------------------

    def _metrics(self) -> str:
        return self.core.counters.prometheus()

    def _health(self) -> str | None:
        if not self.connected.is_set():
            return "not connected to the MQTT broker"
        if self.calls_error is not None:
            return self.calls_error
        if self.writer is not None and self.writer.stats.last_error and self.core.counters.spooled:
            return f"store unreachable, spooling: {self.writer.stats.last_error}"
        return None

    def _status(self, hall: str) -> dict[str, Any] | None:
        if hall not in self.engine.halls():
            return None
        return self.core.status(hall)


def run_service(
    engine: Engine, options: ServeOptions, *, on_ready: Callable[[Service], None] | None = None
) -> None:
    """Runs a service until SIGINT or SIGTERM, on uvloop when available."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        service = Service(engine, options)
        if on_ready is not None:
            waiter = asyncio.create_task(service.ready.wait())
            waiter.add_done_callback(lambda _: on_ready(service))
        await service.run(stop)

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
