"""Engine-valid JSON-lines events into columns (the fields as :mod:`schema` stores them).

Validity is the engine's business: callers pass only lines (or array elements) the
engine accepted. Those are decoded in one msgspec call per chunk; a line msgspec
cannot type (an ignored extra field of an odd type, an array line) is decoded with
``json`` and read leniently: a field of the wrong type is absent, exactly as the
engine ignores it. Strings come out as :class:`PackedStrings`, ``ts`` as int64 ms,
``score`` as uint8 (0 absent), ``hold_s``/``talk_s`` as float64 (NaN absent).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from hallkpi.ingest.native import PackedStrings
from hallkpi.ingest.schema import EVENT_STRINGS


class _Event(msgspec.Struct, gc=False):
    id: str
    type: str
    ts: int
    hall: str
    ticket: str = ""
    service: str = ""
    channel: str = ""
    window: str = ""
    staff: str = ""
    opinion: str = ""
    call: str = ""
    queue: str = ""
    agent: str = ""
    state: str = ""
    score: int = 0
    hold_s: float = math.nan
    talk_s: float = math.nan


_DECODE_MANY = msgspec.json.Decoder(list[_Event]).decode
_NUMBERS = ("ts", "score", "hold_s", "talk_s")


def _fast(lines: Sequence[bytes]) -> list[_Event] | None:
    try:
        return _DECODE_MANY(b"[" + b",".join(lines) + b"]")
    except msgspec.DecodeError:
        return None


def _one(line: bytes) -> list[_Event]:
    """A line's events (typed strictly, else leniently)."""
    try:
        return [msgspec.json.decode(line, type=_Event)]
    except msgspec.DecodeError:
        doc = json.loads(line)
    items = doc if isinstance(doc, list) else [doc]
    return [lenient(item) for item in items]


def lenient(doc: Any) -> _Event:
    """An event from a decoded JSON object, ignoring fields of the wrong type."""

    def text(name: str) -> str:
        v = doc.get(name)
        return v if isinstance(v, str) else ""

    def number(name: str) -> float:
        v = doc.get(name)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        return float(v) if ok else math.nan

    ts, score = doc.get("ts"), doc.get("score")
    strings = {n: text(n) for n in EVENT_STRINGS}
    return _Event(
        ts=ts if isinstance(ts, int) and not isinstance(ts, bool) else 0,
        score=score if isinstance(score, int) and not isinstance(score, bool) else 0,
        hold_s=number("hold_s"),
        talk_s=number("talk_s"),
        **strings,
    )


def decode_events(lines: Sequence[bytes]) -> list[Any]:
    """The events of valid JSON-object lines, in order."""
    fast = _fast(lines)
    if fast is not None:
        return fast
    out: list[_Event] = []
    for line in lines:  # slow path: some line needs lenient typing
        out += _one(line)
    return out


def decode_element(element: Any) -> Any:
    """An event from one element of an array line (already decoded by json)."""
    return lenient(element)


def event_columns(events: Sequence[Any]) -> dict[str, Any]:
    """Columns of decoded events (as Batch.of('events', ...) takes them)."""
    cols: dict[str, Any] = {}
    for name in EVENT_STRINGS:
        cols[name] = PackedStrings.from_strs(list(map(attrgetter(name), events)))
    n = len(events)
    cols["ts"] = np.fromiter(map(attrgetter("ts"), events), np.int64, n)
    score = np.fromiter(map(attrgetter("score"), events), np.int64, n)
    cols["score"] = np.where((score >= 1) & (score <= 5), score, 0).astype(np.uint8)
    for name in ("hold_s", "talk_s"):
        cols[name] = np.fromiter(map(attrgetter(name), events), np.float64, n)
    return cols


def take(columns: dict[str, Any], keep: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """The rows of ``columns`` where ``keep`` is true."""
    return {
        k: v.take(keep) if isinstance(v, PackedStrings) else np.asarray(v)[keep]
        for k, v in columns.items()
    }
