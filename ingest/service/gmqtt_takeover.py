"""The one place that reaches into gmqtt's internals; written for gmqtt 0.8.0 only
(pinned ``gmqtt==0.8.0`` in pyproject.toml, checked by
``tests/ingest/test_gmqtt_takeover.py``, which fails loudly on any other version or on
a changed internal).

Why reach in at all: gmqtt's public QoS 1 path runs ``on_message`` through a Task and a
Future per message and sends the PUBACK when that coroutine returns. The service needs
each message applied at once in the packet callback and its PUBACK sent later, from the
store round that made its events durable (``acks.AckPump``), for many messages at a time:
no Task or Future per message, no acknowledgement before the store has the events. And
gmqtt's own reconnect gives up for good on some CONNACK refusals while logging
"reconnecting"; the service reconnects itself (``broker_link.BrokerLink.run``).

The internals, all of gmqtt 0.8.0:

* ``Client._package_handler``: the ``MqttPackageHandler`` of the connection;
* ``handler._handle_qos_1_publish_packet(mid, packet, topic, properties)``: replaced by
  our hook, called for every QoS 1 PUBLISH received;
* ``handler._send_puback(mid)``: sends one PUBACK;
* ``handler._reconnect_callback(delay=...)``: replaced, so a lost connection only
  signals our loop;
* ``Client._persistent_storage.wait_empty()``: waits until every QoS 1 message we
  published is acknowledged by the broker;
* ``Client._disconnect()``: closes a half-open connection without marking the client
  inactive (``disconnect()`` would stop gmqtt for good).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gmqtt import Client

GMQTT_VERSION = "0.8.0"
"""The only gmqtt these internals were read from (the pin in pyproject.toml)."""

PubAck = Callable[[int], None]
OnPublish = Callable[[int, bytes, str, PubAck], None]
"""``on_publish(mid, payload, topic, puback)``: one QoS 1 message; ``puback(mid)``
acknowledges it (call it once, when the message's events are durable)."""

HANDLER = "_package_handler"
HANDLER_METHODS = ("_handle_qos_1_publish_packet", "_send_puback")
HANDLER_ATTRIBUTES = ("_reconnect_callback",)
CLIENT_ATTRIBUTES = ("_persistent_storage", "_disconnect")


def missing_internals(client: Client) -> list[str]:
    """The internals above that ``client`` lacks (empty on gmqtt 0.8.0)."""
    handler = getattr(client, HANDLER, None)
    if handler is None:
        return [HANDLER]
    missing = [n for n in HANDLER_METHODS + HANDLER_ATTRIBUTES if not hasattr(handler, n)]
    missing += [n for n in CLIENT_ATTRIBUTES if not hasattr(client, n)]
    storage = getattr(client, "_persistent_storage", None)
    if storage is not None and not hasattr(storage, "wait_empty"):
        missing.append("_persistent_storage.wait_empty")
    return missing


def take_over(
    client: Client,
    on_publish: OnPublish,
    on_lost: Callable[[], None],
    on_puback_error: Callable[[int], None] = lambda mid: None,
) -> bool:
    """Installs ``on_publish`` as gmqtt's QoS 1 path and ``on_lost`` as its reconnect.
    The ``puback`` it is given sends one PUBACK (``on_puback_error(mid)`` when the
    connection is gone: the broker redelivers). False, and nothing changed, when this
    gmqtt lacks an internal: the caller keeps gmqtt's public path."""
    if missing_internals(client):
        return False
    handler: Any = getattr(client, HANDLER)

    async def lost(delay: bool = False) -> None:
        on_lost()

    def puback(mid: int) -> None:
        try:
            handler._send_puback(mid)  # noqa: SLF001 (gmqtt internal, see the module doc)
        except Exception:  # connection gone: the broker redelivers, dedup absorbs it
            on_puback_error(mid)

    def on_qos1(mid: int, packet: bytes, topic: str, properties: Any) -> None:
        on_publish(mid, packet, topic, puback)

    handler._reconnect_callback = lost  # noqa: SLF001 (gmqtt internal, see the module doc)
    handler._handle_qos_1_publish_packet = on_qos1  # noqa: SLF001 (gmqtt internal, see above)
    return True


def all_acked(client: Client) -> Awaitable[None]:
    """Waits until the broker acknowledged every QoS 1 message ``client`` published."""
    storage: Any = client._persistent_storage  # noqa: SLF001 (gmqtt internal, see the module doc)
    wait: Callable[[], Awaitable[None]] = storage.wait_empty
    return wait()


async def close_half_open(client: Client) -> None:
    """Closes the previous connection, if any, and keeps the client usable for a new
    ``connect`` (the public ``disconnect`` would also stop it for good)."""
    await client._disconnect()  # noqa: SLF001 (gmqtt internal, see the module doc)
