"""Engine-valid JSON-lines events into columns (the fields as :mod:`schema` stores them).

Validity is the engine's business: callers pass only lines (or array elements) the
engine accepted. Those are decoded in one msgspec call per chunk into one small struct
per event type (a tagged union on ``type``), holding exactly the fields EVENTS.md
gives that type; other fields are not stored (no KPI reads them). A line msgspec
cannot decode is read with ``json``, leniently (a field of the wrong type is absent,
as the engine ignores it). Columns are built type by type, so they come out grouped
by type; :func:`event_columns` returns that row order too.

Every type also carries the optional loss-detection fields ``producer``, ``seq`` and
``epoch`` (absent: '' and 0; the engine requires ``producer`` and ``seq`` together, so
a stored ``producer`` of '' means the event had none).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from operator import attrgetter
from typing import Annotated, Any, Union

import msgspec
import numpy as np
import numpy.typing as npt
from hallkpi.ingest.store.batch import ArrivalClock
from hallkpi.ingest.store.native import PackedStrings
from hallkpi.ingest.store.schema import EVENT_STRINGS

_T3 = ("ticket", "window", "staff")
_CALL = ("call", "queue")
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "ticket.issued": ("ticket", "service", "channel"),
    "ticket.called": _T3,
    "ticket.started": _T3,
    "ticket.completed": _T3,
    "ticket.no_show": _T3,
    "ticket.cancelled": ("ticket",),
    "ticket.rated": (*_T3, "score"),
    "window.opened": ("window", "staff"),
    "window.paused": ("window",),
    "window.resumed": ("window",),
    "window.closed": ("window",),
    "opinion.submitted": ("opinion", "channel"),
    "opinion.resolved": ("opinion",),
    "call.queued": _CALL,
    "call.answered": (*_CALL, "agent", "hold_s"),
    "call.abandoned": (*_CALL, "hold_s"),
    "call.timeout": (*_CALL, "hold_s"),
    "call.completed": (*_CALL, "agent", "talk_s"),
    "call.rated": (*_CALL, "agent", "score"),
    "agent.state": ("agent", "queue", "state"),
}
"""The fields of each event type besides ``id``, ``type``, ``ts``, ``hall`` (EVENTS.md)."""

_NUMBER_DEFAULTS: dict[str, tuple[type, object]] = {
    "score": (int, 0),
    "hold_s": (float, math.nan),
    "talk_s": (float, math.nan),
}
COUNTERS = ("seq", "epoch")
"""The sequence fields, stored as UInt64 (0 when absent)."""
_COUNTER_MAX = 1 << 63  # the engine's range: 0 <= seq, epoch < 2^63
_Counter = Annotated[int, msgspec.Meta(ge=0, le=_COUNTER_MAX - 1)]


def _struct(code: int, etype: str) -> Any:
    fields: list[tuple[str, Any, object]] = [
        (f, *_NUMBER_DEFAULTS.get(f, (str, ""))) for f in TYPE_FIELDS[etype]
    ]
    fields += [("producer", str, ""), *((c, _Counter, 0) for c in COUNTERS)]
    return msgspec.defstruct(
        "Event_" + etype.replace(".", "_"),
        [("id", str), ("ts", int), ("hall", str), *fields],
        tag_field="type",
        tag=etype,
        gc=False,
        namespace={"code": code},
    )


_STRUCTS: list[Any] = [_struct(i, t) for i, t in enumerate(TYPE_FIELDS)]
_BY_TYPE = dict(zip(TYPE_FIELDS, _STRUCTS, strict=True))
_ANY_EVENT: Any = Union[tuple(_STRUCTS)]  # noqa: UP007 (a runtime union of classes)
_DECODE_MANY = msgspec.json.Decoder(list[_ANY_EVENT]).decode
_DECODE_ONE = msgspec.json.Decoder(_ANY_EVENT).decode


def lenient(doc: Any) -> Any:
    """An event from a decoded JSON object, ignoring fields of the wrong type."""
    cls = _BY_TYPE[doc["type"]]
    values: dict[str, Any] = {}
    for name in ("id", "hall", "producer", *TYPE_FIELDS[doc["type"]], *COUNTERS):
        v = doc.get(name)
        if name in COUNTERS:
            ok = v.__class__ is int and 0 <= v < _COUNTER_MAX
            values[name] = v if ok else 0
        elif name in _NUMBER_DEFAULTS:
            want, default = _NUMBER_DEFAULTS[name]
            ok = isinstance(v, (int, float) if want is float else int)
            values[name] = want(v) if ok and not isinstance(v, bool) else default
        else:
            values[name] = v if isinstance(v, str) else ""
    return cls(ts=doc["ts"], **values)


def _one(line: bytes) -> Any:
    try:
        return _DECODE_ONE(line)
    except msgspec.DecodeError:
        return lenient(json.loads(line))


def decode_events(lines: Sequence[bytes]) -> list[Any]:
    """The events of valid JSON-object lines, in order."""
    try:
        events: list[Any] = _DECODE_MANY(b"[" + b",".join(lines) + b"]")
        return events
    except msgspec.DecodeError:
        return [_one(line) for line in lines]


def event_columns(events: Sequence[Any]) -> tuple[dict[str, Any], npt.NDArray[np.intp]]:
    """Columns of decoded events, rows grouped by type, and ``order``: the index in
    ``events`` of each row (so a per-event array ``a`` goes along as ``a[order]``)."""
    cols, order, _ = event_columns_and_ids(events)
    return cols, order


def event_columns_and_ids(
    events: Sequence[Any],
) -> tuple[dict[str, Any], npt.NDArray[np.intp], list[str]]:
    """:func:`event_columns`, and the ids in row order (as str)."""
    n = len(events)
    ids: list[str] = []
    codes = np.fromiter(map(attrgetter("code"), events), np.int64, n)
    order = np.argsort(codes, kind="stable")
    ranked = list(map(events.__getitem__, order.tolist()))
    bounds = np.concatenate(([0], np.cumsum(np.bincount(codes, minlength=len(_STRUCTS)))))
    strings: dict[str, list[PackedStrings]] = {f: [] for f in (*EVENT_STRINGS, "producer")}
    numbers: dict[str, list[npt.NDArray[Any]]] = {"ts": [], "score": [], "hold_s": [], "talk_s": []}
    counters: dict[str, list[npt.NDArray[np.uint64]]] = {c: [] for c in COUNTERS}
    for code, etype in enumerate(TYPE_FIELDS):
        lo, hi = int(bounds[code]), int(bounds[code + 1])
        if lo == hi:
            continue
        group = ranked[lo:hi]
        m = hi - lo
        present = {"id", "hall", "producer", *TYPE_FIELDS[etype]}
        for f, packed in strings.items():
            if f == "type":
                packed.append(PackedStrings.from_str_list([etype] * m))
            elif f in present:
                values = list(map(attrgetter(f), group))
                if f == "id":
                    ids += values
                packed.append(PackedStrings.from_str_list(values))
            else:
                packed.append(PackedStrings(np.zeros(0, np.uint8), np.zeros(m, np.int64)))
        numbers["ts"].append(np.fromiter(map(attrgetter("ts"), group), np.int64, m))
        for f, (_, default) in _NUMBER_DEFAULTS.items():
            if f in present:
                column = np.fromiter(map(attrgetter(f), group), np.float64, m)
            else:
                column = np.full(m, default, np.float64)
            numbers[f].append(column)
        for c in COUNTERS:
            counters[c].append(np.fromiter(map(attrgetter(c), group), np.uint64, m))
    cols: dict[str, Any] = {f: PackedStrings.concat(p) for f, p in strings.items()}
    for f, parts in numbers.items():
        cols[f] = np.concatenate(parts) if parts else np.zeros(0)
    for c, parts in counters.items():
        cols[c] = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    cols["ts"] = cols["ts"].astype(np.int64)
    score = cols["score"]
    cols["score"] = np.where((score >= 1) & (score <= 5), score, 0).astype(np.uint8)
    return cols, order, ids


def take(columns: dict[str, Any], keep: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """The rows of ``columns`` where ``keep`` is true."""
    return {
        k: v.take(keep) if isinstance(v, PackedStrings) else np.asarray(v)[keep]
        for k, v in columns.items()
    }


def events_to_columns(events: Sequence[dict[str, Any]], clock: ArrivalClock) -> dict[str, Any]:
    """Store columns of engine-valid event dicts, ``ingest_seq`` in arrival order."""
    try:
        structs = msgspec.convert(list(events), list[_ANY_EVENT])
    except msgspec.ValidationError:
        structs = [lenient(e) for e in events]
    columns, order = event_columns(structs)
    columns["ingest_seq"] = clock.take(len(structs))[order]
    return columns
