"""Runs SQL on a chDB store filled with simulated data, in its own process (chDB opens
one data directory per process; the store tests hold theirs).

Input (stdin, JSON): ``{"dir": path, "queries": [{"id", "sql", "hall": "all" | "one"}]}``.
The store gets two simulated days of three halls (events through the ingest loader) and
hall/staff KPI snapshots and alert changes replayed through an Engine every hour from
08:00 to 18:00 local time. Output (stdout, JSON): the halls, the time range used for the
macros, the engine's last snapshot and, per query, the expanded SQL, the column names
and types and the rows (or the error).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from macros import expand

TZ = ZoneInfo("Asia/Shanghai")
DAYS = ("2026-11-27", "2026-11-28")
HOURS = range(8, 19)
INTERVAL_S = 3600


def _ms(day: str, hour: int) -> int:
    d = dt.date.fromisoformat(day)
    return int(dt.datetime(d.year, d.month, d.day, hour, tzinfo=TZ).timestamp() * 1000)


def fill(directory: str) -> tuple[Any, dict[str, Any], list[str]]:
    from hallkpi.core import Engine
    from hallkpi.core.sim.simulate import simulate_lines
    from hallkpi.ingest.store.connection import Store
    from hallkpi.ingest.store.load import load_stream
    from hallkpi.ingest.store.schema import ensure_schema
    from hallkpi.ingest.store.spool import Spool
    from hallkpi.ingest.store.writer import StoreWriter

    data = simulate_lines(halls=3, date=DAYS[0], days=2, seed=3, tickets_per_hall=300)
    store = Store(f"chdb://{directory}/store")
    ensure_schema(store)
    load_stream(store, io.BytesIO(data))
    lines = data.splitlines(keepends=True)
    stamps = [json.loads(line)["ts"] for line in lines]
    engine = Engine()
    writer = StoreWriter(store, Spool(f"{directory}/spool"))
    i = 0
    for day in DAYS:
        for hour in HOURS:
            t = _ms(day, hour)
            j = i
            while j < len(lines) and stamps[j] <= t:
                j += 1
            engine.push_jsonl(b"".join(lines[i:j]))
            i = j
            writer.add_alerts(engine.advance(t))
            snap, staff = engine.snapshot_columns(), engine.staff_columns()
            snap["ts"] = np.full(len(snap["ts"]), t, np.int64)
            staff["ts"] = np.full(len(staff["ts"]), t, np.int64)
            writer.add_snapshot(snap, staff)
    writer.close()
    return store, engine.snapshot(), sorted(engine.snapshot()["halls"])


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def main() -> None:
    request = json.load(sys.stdin)
    store, snapshot, halls = fill(request["dir"])
    start_s = _ms(DAYS[0], 0) // 1000
    end_s = _ms(DAYS[-1], HOURS[-1]) // 1000 + 60
    client = store.client()
    results = {}
    for q in request["queries"]:
        chosen = halls if q["hall"] == "all" else halls[-1:]
        sql = expand(q["sql"], start_s=start_s, end_s=end_s, interval_s=INTERVAL_S, halls=chosen)
        try:
            r = client.query(sql)
            described = client.query(f"DESCRIBE ({sql})").result_rows  # also when no rows
            results[q["id"]] = {
                "sql": sql,
                "columns": [d[0] for d in described],
                "types": [d[1] for d in described],
                "rows": [[_json(v) for v in row] for row in r.result_rows],
            }
        except Exception as exc:  # reported to the test, which fails with the SQL
            results[q["id"]] = {"sql": sql, "error": str(exc)[:2000]}
    out = {"halls": halls, "start_s": start_s, "end_s": end_s, "snapshot": snapshot}
    json.dump({**out, "results": results}, sys.stdout, default=_json)


if __name__ == "__main__":
    main()
