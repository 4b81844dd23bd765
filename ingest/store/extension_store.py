"""Extension events (contract v1.2) in the store: one generic table, ``extension_events``.

Each row is one applied extension event: ``hall``, ``ts``, ``id``, ``type``, the
type's own fields as one JSON object string (``fields``; sorted keys, so a re-sent row
is byte-identical), and ``ingest_seq`` (arrival order). Like ``events`` the table is a
ReplacingMergeTree on ``(hall, ts, id)`` that collapses a row written twice to its
first arrival; reads de-duplicate by id anyway (``LIMIT 1 BY id``), so a replay never
sees an event twice even before the merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
from hallkpi.ingest.store.batch import ArrivalClock
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.native import PackedStrings

COMMON = ("id", "type", "ts", "hall")
SEQUENCE = ("producer", "seq", "epoch")  # contract v1.1, kept with the fields

_encode = msgspec.json.Encoder(order="sorted").encode


def fields_json(record: dict[str, Any]) -> str:
    """The own fields of an extension record (and its producer/seq/epoch) as JSON."""
    return _encode({k: v for k, v in record.items() if k not in COMMON}).decode()


def extension_columns(records: Sequence[dict[str, Any]], arrivals: ArrivalClock) -> dict[str, Any]:
    """``extension_events`` columns of extension records (``Engine.extension_record``)."""
    return {
        "hall": PackedStrings.from_strs([str(r["hall"]) for r in records]),
        "ts": np.array([int(r["ts"]) for r in records], np.int64),
        "id": PackedStrings.from_strs([str(r["id"]) for r in records]),
        "type": PackedStrings.from_strs([str(r["type"]) for r in records]),
        "fields": PackedStrings.from_strs([fields_json(r) for r in records]),
        "ingest_seq": arrivals.take(len(records)),
    }


def read_extension_events(
    store: Store,
    *,
    since_ms: int,
    families: Sequence[str] | None = None,
    halls: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Stored extension records since ``since_ms`` in arrival order (each id once, its
    first arrival), of the given type families and halls (None: all)."""
    cond = ["ts >= fromUnixTimestamp64Milli({since:Int64})"]
    params: dict[str, Any] = {"since": int(since_ms)}
    if families is not None:
        cond.append("splitByChar('.', toString(type))[1] IN {families:Array(String)}")
        params["families"] = list(families)
    if halls is not None:
        cond.append("hall IN {halls:Array(String)}")
        params["halls"] = list(halls)
    sql = (
        "SELECT id, toString(type), toUnixTimestamp64Milli(ts), toString(hall), fields "
        f"FROM {store.table('extension_events')} WHERE {' AND '.join(cond)} "
        "ORDER BY ingest_seq LIMIT 1 BY id"
    )
    out = []
    for id_, type_, ts, hall, fields in store.rows(sql, params):
        record: dict[str, Any] = {"id": id_, "type": type_, "ts": int(ts), "hall": hall}
        record.update(msgspec.json.decode(fields))
        out.append(record)
    return out
