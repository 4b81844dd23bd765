"""Sans-IO decoding of an MQTT events payload (EVENTS.md): one event object or an array
of them, checked against the topic's hall. Validation of each event is the engine's;
this module only turns bytes into candidate events or payload-level rejections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

DEFAULT_MAX_BYTES = 262144
DEADLETTER_PAYLOAD_BYTES = 4096

_decoder = msgspec.json.Decoder()


@dataclass
class Decoded:
    """Events to push (in order) and rejections ``(reason, event or None)``."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[tuple[str, Any]] = field(default_factory=list)


def decode_payload(
    payload: bytes, topic_hall: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Decoded:
    """Decodes ``payload`` published on the events topic of ``topic_hall``.

    A payload over ``max_bytes``, not JSON, or neither an object nor an array is one
    rejection. Array elements that are not objects, and events whose ``hall`` differs
    from the topic's, are rejected one by one; the rest are returned for validation.
    """
    out = Decoded()
    if len(payload) > max_bytes:
        out.rejections.append(
            (f"payload of {len(payload)} bytes exceeds the limit of {max_bytes} bytes", None)
        )
        return out
    try:
        doc = _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        out.rejections.append((f"invalid JSON: {exc}", None))
        return out
    items = doc if isinstance(doc, list) else [doc]
    for item in items:
        if not isinstance(item, dict):
            out.rejections.append(("event must be a JSON object", item))
        elif item.get("hall") != topic_hall and isinstance(item.get("hall"), str):
            out.rejections.append(
                (f"hall {item['hall']!r} does not match the topic's hall {topic_hall!r}", item)
            )
        else:
            out.events.append(item)
    return out


def deadletter(reason: str, topic: str, payload: bytes) -> bytes:
    """The dead-letter message of EVENTS.md: reason, topic and the first 4 KiB."""
    head = payload[:DEADLETTER_PAYLOAD_BYTES].decode("utf-8", errors="replace")
    return msgspec.json.encode({"reason": reason, "topic": topic, "payload": head})
