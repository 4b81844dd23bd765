"""The service's MQTT connection, kept up by one loop that owns every (re)connect.

gmqtt reconnects by itself after a lost connection, but gives up for good on a CONNACK
refusal it deems permanent (0x86 bad user name or password, 0x87 not authorized) while
its log says "reconnecting", and it keeps the password it was given. Here gmqtt's own
reconnect only signals :meth:`BrokerLink.run`, which reconnects with exponential backoff
(``backoff_s`` doubling to ``backoff_max_s``), reads the password again before each
attempt (a rotated password file is picked up), and keeps :attr:`problem` (None while
connected) for ``/healthz``. Each distinct problem is logged once, not once a try.

gmqtt's internals (its QoS 1 hook, its reconnect callback, its outgoing queue) are
reached only through :mod:`hallkpi.ingest.service.gmqtt_takeover`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

from gmqtt import Client, Message
from gmqtt.mqtt.constants import MQTTv50
from gmqtt.mqtt.handler import MQTTConnectError
from hallkpi.core.errors import ConfigError
from hallkpi.ingest.service.gmqtt_takeover import PubAck, all_acked, close_half_open, take_over
from hallkpi.ingest.service.mqtt_url import MqttURL

log = logging.getLogger("hallkpi.ingest.service")

SESSION_EXPIRY_S = 7 * 86400  # the broker keeps our session (and unacknowledged messages)
RECEIVE_MAXIMUM = 65535  # unacknowledged messages in flight towards us
CONNECT_TIMEOUT_S = 30.0

QoS1Hook = Callable[[int, bytes, str, PubAck], None]
"""``hook(mid, payload, topic, puback)``: handles one QoS 1 message; ``puback(mid)``
acknowledges it (call it once, when the message's events are durable)."""


class BrokerLink:
    """One persistent MQTT v5 session (stable client id, clean start off)."""

    def __init__(
        self,
        url: MqttURL,
        client_id: str,
        *,
        subscriptions: tuple[str, ...],
        will: Message,
        qos1: QoS1Hook,
        fallback: Callable[..., Any],
        password: Callable[[], str | None] = lambda: None,
        tls: ssl.SSLContext | None = None,
        backoff_s: float = 0.5,
        backoff_max_s: float = 15.0,
        on_connected: Callable[[], None] = lambda: None,
    ) -> None:
        """``fallback``: gmqtt's async ``on_message`` (used only when the QoS 1 hook
        cannot be installed); ``password()`` is called before every attempt;
        ``on_connected()`` after every successful one."""
        self.on_connected = on_connected
        self.url = url
        self.subscriptions = subscriptions
        self.password = password
        self.tls = tls
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.connected = asyncio.Event()
        self.problem: str | None = f"not connected to the MQTT broker {url} yet"
        self.attempts = 0
        self._lost = asyncio.Event()
        # Connections so far: a PUBACK is sent only on the connection that delivered its
        # message. After a reconnect the broker redelivers that message (a duplicate,
        # acknowledged behind the stored round) and may reuse its packet id for another
        # message, which a stale PUBACK would acknowledge before it is stored.
        self._generation = 0
        self._logged: str | None = None
        self._closing = False
        self.client = Client(
            client_id,
            clean_session=False,
            optimistic_acknowledgement=False,
            will_message=will,
            session_expiry_interval=SESSION_EXPIRY_S,
            receive_maximum=RECEIVE_MAXIMUM,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = fallback
        self.fast_acks = self._take_over(qos1)

    # --- gmqtt hooks ---------------------------------------------------------------------

    def _take_over(self, qos1: QoS1Hook) -> bool:
        """Installs ``qos1`` as gmqtt's QoS 1 path (no Task or Future per message) and
        routes gmqtt's reconnects to :meth:`run`. False: gmqtt's async path stays."""

        def on_publish(mid: int, packet: bytes, topic: str, send_puback: PubAck) -> None:
            generation = self._generation

            def puback(mid: int) -> None:
                if generation != self._generation:
                    log.debug("PUBACK %d not sent: it belongs to an earlier connection", mid)
                    return
                send_puback(mid)

            qos1(mid, packet, topic, puback)

        return take_over(
            self.client,
            on_publish,
            self._lost.set,
            lambda mid: log.debug("PUBACK %d not sent: connection lost", mid),
        )

    def _on_connect(self, client: Client, flags: int, rc: int, properties: Any) -> None:
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        log.info("connected to %s (session present: %s)", self.url, bool(flags))
        self.problem = None
        self._logged = None
        self._generation += 1
        self.connected.set()
        self.on_connected()

    def _on_disconnect(self, client: Client, packet: Any, exc: BaseException | None = None) -> None:
        if self.connected.is_set() and not self._closing:
            log.warning("disconnected from %s; reconnecting", self.url)
            self.problem = f"lost the connection to the MQTT broker {self.url}; reconnecting"
        self.connected.clear()
        self._generation += 1
        self._lost.set()

    # --- the loop ------------------------------------------------------------------------

    def _note(self, problem: str) -> None:
        self.problem = problem
        if problem != self._logged:  # once per distinct problem, not once per try
            self._logged = problem
            log.warning("%s; retrying with backoff (up to every %g s)", problem, self.backoff_max_s)

    async def _attempt(self) -> None:
        self.attempts += 1
        password = self.password()
        if self.url.username:
            self.client.set_auth_credentials(self.url.username, password)
        with contextlib.suppress(Exception):  # close a half-open previous connection
            await close_half_open(self.client)
        await asyncio.wait_for(
            self.client.connect(
                self.url.host, self.url.port, ssl=self.tls or False, keepalive=30, version=MQTTv50
            ),
            CONNECT_TIMEOUT_S,
        )
        if not self.client.is_connected:
            raise ConnectionError("the connection closed right after CONNACK")

    async def run(self, stop: asyncio.Event) -> None:
        """Connects, and reconnects whenever the connection is lost, until ``stop``."""
        delay = self.backoff_s
        while not stop.is_set():
            if self.connected.is_set() and self.client.is_connected:
                self._lost.clear()
                await _first(stop.wait(), self._lost.wait())
                delay = self.backoff_s
                continue
            self.connected.clear()
            try:
                await self._attempt()
                continue
            except MQTTConnectError as exc:
                self._note(f"the MQTT broker {self.url} refused the connection: {exc}")
            except ConfigError as exc:
                self._note(str(exc))
            except (OSError, TimeoutError, ConnectionError) as exc:
                self._note(f"cannot reach the MQTT broker {self.url}: {exc or 'timeout'}")
            self.connected.clear()
            await _first(stop.wait(), asyncio.sleep(delay))
            delay = min(delay * 2, self.backoff_max_s)

    async def close(self) -> None:
        """Disconnects cleanly (the broker then does not send the will)."""
        self._closing = True
        if self.client.is_connected:
            await self.client.disconnect()

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain)

    async def wait_acked(self) -> None:
        """Waits for a connection, then until every QoS 1 message we published is
        acknowledged by the broker or the connection is lost (gmqtt keeps them and
        sends them again after the reconnect). The outbox pauses here in an outage
        rather than writing to a closed socket."""
        await self.connected.wait()
        if self.client.is_connected:
            await _first(all_acked(self.client), self._lost.wait())


async def _first(*aws: Any) -> None:
    """Waits for the first of ``aws`` to finish and cancels the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
