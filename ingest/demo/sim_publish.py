"""``hallkpi simulate --mqtt URL --speed N``: publish simulated events to a broker, paced
by their timestamps (``speed`` simulated seconds per real second; 0 = no pacing)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50
from hallkpi.ingest.service.gmqtt_takeover import all_acked
from hallkpi.ingest.service.mqtt_url import mqtt_password, parse_mqtt_url, tls_context
from hallkpi.ingest.service.topics import Topics

_encode = msgspec.json.encode
IN_FLIGHT = 500


def topic_of(topics: Topics, event: dict[str, Any]) -> str:
    calls = str(event.get("type", "")).startswith(("call.", "agent."))
    return topics.events(str(event["hall"]), "calls" if calls else "halls")


async def publish_events(
    events: Iterable[dict[str, Any]], url: str, *, speed: float = 1.0, prefix: str = "hallkpi/v1"
) -> int:
    """Publishes every event at QoS 1 on its hall's topic; returns how many."""
    target = parse_mqtt_url(url)
    client = Client(f"hallkpi-sim-{uuid.uuid4().hex[:8]}")
    if target.username:
        client.set_auth_credentials(target.username, mqtt_password(None))
    await client.connect(
        target.host, target.port, ssl=tls_context() if target.tls else False, version=MQTTv50
    )
    topics = Topics(prefix)
    start_wall = time.monotonic()
    first_ts: int | None = None
    count = 0
    try:
        for event in events:
            ts = int(event["ts"])
            if first_ts is None:
                first_ts = ts
            if speed > 0:
                due = start_wall + (ts - first_ts) / 1000.0 / speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            client.publish(topic_of(topics, event), _encode(event), qos=1)
            count += 1
            if count % IN_FLIGHT == 0:
                # Flow control: at most IN_FLIGHT unacknowledged messages (packet ids wrap).
                await all_acked(client)
        await all_acked(client)  # every PUBACK in before leaving
    finally:
        await client.disconnect()
    return count


def publish(events: Iterable[dict[str, Any]], url: str, *, speed: float, prefix: str) -> int:
    """Entry point of ``hallkpi.publishers`` (schemes mqtt, mqtts)."""
    return asyncio.run(publish_events(events, url, speed=speed, prefix=prefix))
