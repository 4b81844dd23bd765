"""Slow, literal validation of one event (EVENTS.md, docs/SEMANTICS.md "Validation").

``validate(event)`` returns nothing for a valid event and raises ``ValueError`` with a
reason otherwise. Only the fields a type needs are checked; anything else is an
unknown extra and ignored whatever its type.
"""

from __future__ import annotations

import math
import re
from typing import Any

TS_MAX = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
HALL_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")

TICKET_CHANNELS = frozenset({"kiosk", "wechat", "appointment", "web", "other"})
AGENT_STATES = frozenset({"available", "busy", "paused", "offline"})

# Per type: (string fields, special fields). Special fields are checked by kind below.
STR = "str"
CHANNEL = "channel"
SCORE = "score"
SECONDS = "seconds"
AGENT_STATE = "agent_state"

FIELDS: dict[str, dict[str, str]] = {
    "ticket.issued": {"ticket": STR, "service": STR, "channel": CHANNEL},
    "ticket.called": {"ticket": STR, "window": STR, "staff": STR},
    "ticket.started": {"ticket": STR, "window": STR, "staff": STR},
    "ticket.completed": {"ticket": STR, "window": STR, "staff": STR},
    "ticket.no_show": {"ticket": STR, "window": STR, "staff": STR},
    "ticket.cancelled": {"ticket": STR},
    "ticket.rated": {"ticket": STR, "window": STR, "staff": STR, "score": SCORE},
    "window.opened": {"window": STR, "staff": STR},
    "window.paused": {"window": STR},
    "window.resumed": {"window": STR},
    "window.closed": {"window": STR},
    "opinion.submitted": {"opinion": STR, "channel": STR},
    "opinion.resolved": {"opinion": STR},
    "call.queued": {"call": STR, "queue": STR},
    "call.answered": {"call": STR, "queue": STR, "agent": STR, "hold_s": SECONDS},
    "call.abandoned": {"call": STR, "queue": STR, "hold_s": SECONDS},
    "call.timeout": {"call": STR, "queue": STR, "hold_s": SECONDS},
    "call.completed": {"call": STR, "queue": STR, "agent": STR, "talk_s": SECONDS},
    "call.rated": {"call": STR, "queue": STR, "agent": STR, "score": SCORE},
    "agent.state": {"agent": STR, "queue": STR, "state": AGENT_STATE},
}
EVENT_TYPES = frozenset(FIELDS)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_str(event: dict[str, Any], name: str) -> str:
    if name not in event:
        raise ValueError(f"missing field {name!r}")
    value = event[name]
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"field {name!r} is not valid Unicode") from None
    if not 1 <= len(value) <= 64:
        raise ValueError(f"field {name!r} must have 1..64 characters")
    return value


def validate(event: object) -> None:
    """Raise ValueError(reason) unless ``event`` is a valid event object."""
    if not isinstance(event, dict):
        raise ValueError("event is not a JSON object")
    _check_str(event, "id")
    if "type" not in event:
        raise ValueError("missing field 'type'")
    etype = event["type"]
    if not isinstance(etype, str) or etype not in EVENT_TYPES:
        raise ValueError(f"unknown type {etype!r}")
    if "ts" not in event:
        raise ValueError("missing field 'ts'")
    ts = event["ts"]
    if not _is_int(ts):
        raise ValueError("field 'ts' must be an integer")
    if not 0 <= ts <= TS_MAX:
        raise ValueError("field 'ts' out of range")
    hall = _check_str(event, "hall")
    if not HALL_RE.fullmatch(hall):
        raise ValueError("field 'hall' has characters outside [A-Za-z0-9_.-]")
    _check_sequence(event)
    for name, kind in FIELDS[etype].items():
        if kind == STR:
            _check_str(event, name)
        elif kind == CHANNEL:
            if _check_str(event, name) not in TICKET_CHANNELS:
                raise ValueError(f"unknown channel {event[name]!r}")
        elif kind == AGENT_STATE:
            if _check_str(event, name) not in AGENT_STATES:
                raise ValueError(f"unknown agent state {event[name]!r}")
        elif kind == SCORE:
            if name not in event:
                raise ValueError(f"missing field {name!r}")
            score = event[name]
            if not _is_int(score):
                raise ValueError(f"field {name!r} must be an integer")
            if not 1 <= score <= 5:
                raise ValueError(f"field {name!r} out of range 1..5")
        elif kind == SECONDS:
            if name not in event:
                raise ValueError(f"missing field {name!r}")
            value = event[name]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"field {name!r} must be a number")
            try:
                as_float = float(value)
            except OverflowError:
                raise ValueError(f"field {name!r} is not finite") from None
            if not math.isfinite(as_float):
                raise ValueError(f"field {name!r} is not finite")
            if as_float < 0:
                raise ValueError(f"field {name!r} must be >= 0")


def _check_sequence(event: dict[str, Any]) -> None:
    """Contract v1.1: ``producer`` and ``seq`` together, ``epoch`` only with them."""
    has_producer, has_seq = "producer" in event, "seq" in event
    if not has_producer and not has_seq:
        if "epoch" in event:
            raise ValueError("field 'epoch' needs the fields 'producer' and 'seq'")
        return
    if not has_producer:
        raise ValueError("field 'seq' needs the field 'producer'")
    if not has_seq:
        raise ValueError("field 'producer' needs the field 'seq'")
    _check_str(event, "producer")
    for name in ("seq", "epoch"):
        if name in event:
            value = event[name]
            if not _is_int(value):
                raise ValueError(f"field {name!r} must be an integer")
            if not 0 <= value < 2**63:
                raise ValueError(f"field {name!r} out of range")


def clock_violation(ts: int, reference: int, max_lead_ms: int, max_age_ms: int) -> None:
    """Raise ValueError when ``ts`` is outside the clock bounds around ``reference``
    (the latest ``advance()``); a bound of 0 is off."""
    if max_lead_ms and ts - reference > max_lead_ms:
        raise ValueError(f"ts {ts} is {ts - reference} ms ahead of the clock")
    if max_age_ms and reference - ts > max_age_ms:
        raise ValueError(f"ts {ts} is {reference - ts} ms older than the clock")
