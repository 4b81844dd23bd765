"""`hallkpi load` parses once (the C++ StoreChunker): its columns and its dead arrivals
are those of the two-pass path it replaced, an engine's ``push_jsonl`` for validity and
msgspec decoding (``jsonl.py``, still the service's) for the columns."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from conftest import day
from hallkpi.core import Engine
from hallkpi.ingest.store.jsonl import decode_events, event_columns
from hallkpi.ingest.store.load_chunk import POSITION_BITS, parse_chunk
from hallkpi.ingest.store.native import PackedStrings


def _rows(cols: dict[str, Any], order: np.ndarray | None = None) -> list[tuple[object, ...]]:
    names = sorted(k for k in cols if k != "ingest_seq")
    values = [cols[k].to_list() if isinstance(cols[k], PackedStrings) else cols[k] for k in names]
    rows = [
        tuple(
            "nan"
            if isinstance(v[i], float) and v[i] != v[i]
            else v[i].item()
            if hasattr(v[i], "item")
            else v[i]
            for v in values
        )
        for i in range(len(cols["ts"]))
    ]
    return rows if order is None else [rows[i] for i in np.argsort(order, kind="stable")]


def test_columns_and_rejections_are_those_of_the_two_pass_path() -> None:
    data = day(adversarial=True, seed=11, halls=2, tickets=150)
    data += b'\n  \n[{"id": "arr-1"}, 5, ' + json.dumps(json.loads(data.split(b"\n")[0])).encode()
    data += b"]\n" + data.split(b"\n")[0] + b"\n"  # an array line, then a duplicate
    r = parse_chunk(data)
    lines = data.split(b"\n")
    lines.pop()
    assert r.lines == len(lines)

    engine = Engine(horizons_s=(900,), pane_ms=900_000, alert_rules=())
    rejected = {line for line, _ in engine.push_jsonl(data).rejections}
    assert {d.position >> POSITION_BITS for d in r.dead if d.kind == "rejected"} == rejected
    first = next(d for d in r.dead if d.kind == "rejected")
    assert first.payload == lines[(first.position >> POSITION_BITS) - 1]

    # The kept rows: every valid object line, first arrival of each id.
    seen: set[str] = set()
    kept: list[bytes] = []
    for i, line in enumerate(lines, 1):
        if i in rejected or not line.strip() or line.lstrip().startswith(b"["):
            continue
        eid = json.loads(line)["id"]
        if eid not in seen:
            seen.add(eid)
            kept.append(line)
    cols, order = event_columns(decode_events(kept))
    assert r.columns is not None
    ours = _rows(r.columns)
    assert ours == _rows(cols, order)
    array_line = len(lines) - 1  # element 2 repeats line 1's id; so does the last line
    at = {(d.position >> POSITION_BITS, d.position & 0xFFFF): d.kind for d in r.dead}
    assert at[(array_line, 0)] == at[(array_line, 1)] == "rejected"
    assert at[(array_line, 2)] == at[(len(lines), 0)] == "duplicate"
    assert len(set(r.id_hash.tolist())) == len(ours)
    dup = [d for d in r.dead if d.kind == "duplicate"]
    assert dup and all(d.id in seen and d.ts >= 0 for d in dup)
    assert r.arrivals == len(ours) + len(r.dead)
    assert r.max_ts == int(cols["ts"].max())
