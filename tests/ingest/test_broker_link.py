"""BrokerLink's QoS 1 takeover without a broker: which PUBACKs reach gmqtt's handler.

A message's acknowledgement may come from a store round that ends after the connection
that delivered it was lost. The broker then delivers that message again on the new
connection and may give its packet id to another message; the late PUBACK must not go
out, or it would acknowledge a message that is not stored yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gmqtt import Message
from hallkpi.ingest.service.broker_link import BrokerLink
from hallkpi.ingest.service.mqtt_url import parse_mqtt_url


def _link(acks: list[Callable[[], None]]) -> tuple[BrokerLink, list[int]]:
    def hook(mid: int, payload: bytes, topic: str, puback: Callable[[int], None]) -> None:
        acks.append(lambda: puback(mid))

    link = BrokerLink(
        parse_mqtt_url("mqtt://127.0.0.1:1"),
        "test-client",
        subscriptions=("hallkpi/v1/halls/+/events",),
        will=Message("hallkpi/v1/service/test-client", b"{}", qos=1, retain=True),
        qos1=hook,
        fallback=lambda *a: 0,
    )
    assert link.fast_acks
    link.client.subscribe = lambda *a, **k: None  # type: ignore[method-assign]  # no broker
    sent: list[int] = []
    handler: Any = link.client._package_handler
    handler._send_puback = sent.append
    return link, sent


def _deliver(link: BrokerLink, mid: int) -> None:
    handler: Any = link.client._package_handler
    handler._handle_qos_1_publish_packet(mid, b"{}", "hallkpi/v1/halls/h1/events", None)


def test_a_puback_goes_out_on_the_connection_that_delivered_the_message() -> None:
    async def main() -> list[int]:
        acks: list[Callable[[], None]] = []
        link, sent = _link(acks)
        link._on_connect(link.client, 0, 0, None)
        _deliver(link, 7)
        acks.pop()()
        return sent

    assert asyncio.run(main()) == [7]


def test_a_puback_from_before_a_reconnect_is_not_sent() -> None:
    async def main() -> list[int]:
        acks: list[Callable[[], None]] = []
        link, sent = _link(acks)
        link._on_connect(link.client, 0, 0, None)
        _deliver(link, 7)
        stale = acks.pop()
        link._on_disconnect(link.client, None)
        link._on_connect(link.client, 1, 0, None)
        _deliver(link, 7)  # the redelivered copy, or another message with the same id
        stale()
        assert sent == []
        acks.pop()()
        return sent

    assert asyncio.run(main()) == [7]
