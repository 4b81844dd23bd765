"""Sans-IO decoding of an MQTT events payload (EVENTS.md): one event object or an array
of them, checked against the topic's hall. Validation of each event is the engine's;
this module only turns bytes into candidate events or rejections, and never raises on
bad input: whatever the JSON decoder raises for a payload (malformed JSON, bad UTF-8,
numbers out of range, nesting too deep for its recursion limit) is a rejection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

DEFAULT_MAX_BYTES = 262144
DEADLETTER_PAYLOAD_BYTES = 4096

_decoder = msgspec.json.Decoder()

# What msgspec raises for input it cannot decode: DecodeError (and its subclass
# ValidationError) for bad JSON, RecursionError for deep nesting (a 2 KB payload of
# 1,000 brackets), MemoryError for pathological sizes.
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, MemoryError, ValueError)


@dataclass(frozen=True)
class Rejection:
    """Why a payload or one array element was refused. ``element`` is True for one
    element of an array (``item`` holds it, even when it is a JSON ``null``) and False
    for the whole payload."""

    reason: str
    item: Any = None
    element: bool = False


@dataclass
class Decoded:
    """Events to push (in order) and rejections."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def received(self) -> int:
        """Events received: the candidate events plus the rejected array elements (a
        payload rejected whole counts as one event when it held an object, else none)."""
        return len(self.events) + sum(1 for r in self.rejections if r.element)


def decode_payload(
    payload: bytes, topic_hall: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Decoded:
    """Decodes ``payload`` published on the events topic of ``topic_hall``.

    A payload over ``max_bytes``, not JSON, or neither an object nor an array is one
    rejection. Array elements that are not objects (a ``null`` too), and events whose
    ``hall`` differs from the topic's, are rejected one by one; the rest are returned
    for validation.
    """
    out = Decoded()
    if len(payload) > max_bytes:
        out.rejections.append(
            Rejection(f"payload of {len(payload)} bytes exceeds the limit of {max_bytes} bytes")
        )
        return out
    try:
        doc = _decoder.decode(payload)
    except RecursionError:
        out.rejections.append(Rejection("invalid JSON: nested too deeply"))
        return out
    except _DECODE_ERRORS as exc:
        out.rejections.append(Rejection(f"invalid JSON: {exc}"))
        return out
    if isinstance(doc, dict):
        _check(out, doc, topic_hall, element=False)
    elif isinstance(doc, list):
        for item in doc:
            _check(out, item, topic_hall, element=True)
    else:
        out.rejections.append(Rejection("payload must be a JSON object or array of objects"))
    return out


def _check(out: Decoded, item: Any, topic_hall: str, *, element: bool) -> None:
    if not isinstance(item, dict):
        out.rejections.append(Rejection("event must be a JSON object", item, element))
    elif isinstance(item.get("hall"), str) and item["hall"] != topic_hall:
        reason = f"hall {item['hall']!r} does not match the topic's hall {topic_hall!r}"
        out.rejections.append(Rejection(reason, item, True))
    else:
        out.events.append(item)


def deadletter(reason: str, topic: str, payload: bytes) -> bytes:
    """The dead-letter message of EVENTS.md: reason, topic and the first 4 KiB."""
    head = payload[:DEADLETTER_PAYLOAD_BYTES].decode("utf-8", errors="replace")
    return msgspec.json.encode({"reason": reason, "topic": topic, "payload": head})
