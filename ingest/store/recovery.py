"""Rebuilding an Engine from the store: ``replay_store`` (every stored event; what
``hallkpi replay --from-store URL`` runs) and :func:`recover` (a restarted service:
today plus the longest horizon, plus the older events that still hold open state).

Events are read as fixed-width numpy columns in arrival order (``ORDER BY ingest_seq``,
de-duplicated with ``FINAL``) and fed to ``Engine.push_columns`` block by block, so
the engine sees them in the order it first saw them: its results depend on arrival
order (the first applied call of a ticket, ties between windows' events, late events).
The diagnostics the store cannot replay as events (rejected and duplicate arrivals) are
restored from ``dead_letters``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterator, Sequence
from typing import IO, Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from hallkpi.core.engine import Engine, PushResult
from hallkpi.core.horizons import horizon_seconds
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.ingest.store.carry_over import CARRY_OVER_DAYS, NO_RANGE, read_older
from hallkpi.ingest.store.connection import Store, store_from_url
from hallkpi.ingest.store.native import read_columns
from hallkpi.ingest.store.schema import EVENT_STRINGS
from hallkpi.ingest.store.sql import ident

_ZERO = PushResult(0, 0, 0, ())
BLOCK_ROWS = 1 << 17  # rows per push_columns call


def _where(since_ms: int | None, until_ms: int | None, halls: Sequence[str] | None) -> str:
    """The WHERE clause of the range (parameters: since, until, halls)."""
    cond = ["1"] if since_ms is None else ["ts >= fromUnixTimestamp64Milli({since:Int64})"]
    if until_ms is not None:
        cond.append(_UNTIL)
    if halls is not None:
        cond.append("hall IN {halls:Array(String)}")
    return " AND ".join(cond)


_UNTIL = "ts <= fromUnixTimestamp64Milli({until:Int64})"


def read_event_blocks(
    store: Store,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    halls: Sequence[str] | None = None,
    carry_over: bool = False,
    timezone: str = DEFAULT_TIMEZONE,
    producer: bool = False,
) -> Iterator[dict[str, npt.NDArray[Any]]]:
    """Stored events as push_columns blocks in arrival order (strings as ``S`` arrays,
    ``ts`` int64 ms, ``score`` uint8, ``hold_s``/``talk_s`` float64 NaN; with
    ``producer``, also ``producer`` (``S``, empty: absent), ``seq`` (int64, -1: absent)
    and ``epoch`` (int64)). Events after ``until_ms`` are not read."""
    events = store.table("events")
    params: dict[str, Any] = {}
    if since_ms is not None:
        params["since"] = since_ms
    if until_ms is not None:
        params["until"] = until_ms
    if halls is not None:
        params["halls"] = list(halls)
    stored = producer and _has_column(store, "events", "producer")  # (before migration 4)
    strings = EVENT_STRINGS + (("producer",) if stored else ())
    where = _where(since_ms, until_ms, halls)
    # One pass over the range sizes the strings and finds the columns that hold
    # anything: empty ones are not read (and are filled in below).
    sql = (
        "SELECT count(), min(ingest_seq), max(score), count(hold_s), count(talk_s), "
        + ", ".join(f"max(length({ident(n)}))" for n in strings)
        + f" FROM {events} WHERE {where}"
    )
    probe = store.rows(sql, _used(params, sql))[0]
    parts = []
    if probe[0]:
        parts.append(_read_range(store, where, params, probe, strings))
    if carry_over and since_ms is not None and _any_before(store, since_ms, halls):
        older = {
            **params,
            "carry_from": since_ms - CARRY_OVER_DAYS * 86_400_000,
            "tz": timezone,
            "first": int(probe[1]) if probe[0] else NO_RANGE,
        }
        part = read_older(store, older, halls=halls, producer=stored)
        if part is not None:
            parts.append(part)
    parts = [_complete(p, len(p["ts"]), producer) for p in parts]
    if not parts:
        return
    columns = {n: np.concatenate([p[n] for p in parts]) for n in parts[0]}
    order = np.argsort(columns.pop("ingest_seq"), kind="stable")
    for start in range(0, len(order), BLOCK_ROWS):
        rows = order[start : start + BLOCK_ROWS]
        yield {n: c[rows] for n, c in columns.items()}


def _read_range(
    store: Store, where: str, params: dict[str, Any], probe: Sequence[Any], strings: Sequence[str]
) -> dict[str, npt.NDArray[Any]]:
    """The range's rows (FINAL) as Native fixed-width columns, decoded into one array
    per column; ``probe``: count, first ingest_seq, max score, counts of hold_s and
    talk_s, then the widths of ``strings``."""
    events = store.table("events")
    widths = {n: int(w) for n, w in zip(strings, probe[5:], strict=True) if w}
    params = {**params, **{f"w_{name}": w for name, w in widths.items()}}
    # substring: ClickHouse may convert rows that WHERE drops later (FINAL), and
    # toFixedString refuses a longer string.
    fixed = [
        f"toFixedString(substring({ident(n)}, 1, {{w_{n}:UInt32}}), {{w_{n}:UInt32}}) AS {ident(n)}"
        for n in widths
    ]
    numbers = [("toUnixTimestamp64Milli(ts)", "ts_ms", True), ("score", "score", probe[2] > 0)]
    numbers += [
        (f"ifNull({n}, nan)", f"{n}_or_nan", probe[i] > 0)
        for i, n in ((3, "hold_s"), (4, "talk_s"))
    ]
    if "producer" in widths:
        numbers += [("seq", "seq", True), ("epoch", "epoch", True)]
    numbers.append(("ingest_seq", "ingest_seq", True))
    selected = fixed + [f"{expr} AS {alias}" for expr, alias, keep in numbers if keep]
    # (aliases differ from column names: WHERE would see an alias named ts.) Sorting
    # wide rows is slow in ClickHouse; rows come unsorted and numpy orders them.
    results = _results(
        store, [f"SELECT {', '.join(selected)} FROM {events} FINAL WHERE {where}"], params
    )
    try:
        read = read_columns(results, int(probe[0]))
    finally:
        results.close()
    names = {"ts_ms": "ts", "hold_s_or_nan": "hold_s", "talk_s_or_nan": "talk_s"}
    out = {names.get(n, n): c for n, c in read.items()}
    if "seq" in out:  # push_columns: int64, seq -1 where absent (no producer)
        out["seq"] = np.where(out["producer"] == b"", -1, out["seq"].view(np.int64))
        out["epoch"] = out["epoch"].view(np.int64)
    return out


def _results(store: Store, sqls: list[str], params: dict[str, Any]) -> Generator[IO[bytes]]:
    """The result streams of ``sqls``, each opened once the one before is read (chDB
    holds its connection while a result streams) and closed after."""
    for sql in sqls:
        stream = store.stream(sql, _used(params, sql))
        try:
            yield stream
        finally:
            stream.close()


def _used(params: dict[str, Any], sql: str) -> dict[str, Any]:
    """The parameters ``sql`` has a placeholder for (Store refuses others)."""
    return {k: v for k, v in params.items() if "{" + k + ":" in sql}


def _any_before(store: Store, since_ms: int, halls: Sequence[str] | None) -> bool:
    """Whether any event is dated before ``since_ms`` (else nothing is carried over)."""
    sql = f"SELECT count() FROM (SELECT 1 FROM {store.table('events')} WHERE " + (
        "ts < fromUnixTimestamp64Milli({since:Int64})"
        + ("" if halls is None else " AND hall IN {halls:Array(String)}")
        + " LIMIT 1)"
    )
    params: dict[str, Any] = {"since": since_ms}
    if halls is not None:
        params["halls"] = list(halls)
    return bool(store.rows(sql, params)[0][0])


def _has_column(store: Store, table: str, column: str) -> bool:
    rows = store.rows(
        "SELECT count() FROM system.columns WHERE database = {db:String} "
        "AND table = {table:String} AND name = {column:String}",
        {"db": store.database, "table": table, "column": column},
    )
    return bool(rows[0][0])


def _complete(
    block: dict[str, npt.NDArray[Any]], n: int, producer: bool
) -> dict[str, npt.NDArray[Any]]:
    """Every column of a block, the ones not read (empty in the range) as their default."""
    for name in EVENT_STRINGS + (("producer",) if producer else ()):
        if name not in block:
            block[name] = np.zeros(n, "S1")
    defaults: list[tuple[str, Any, Any]] = [("score", np.uint8, 0)]
    defaults += [("hold_s", np.float64, np.nan), ("talk_s", np.float64, np.nan)]
    if producer:
        defaults += [("seq", np.int64, -1), ("epoch", np.int64, 0)]
    for name, dtype, value in defaults:
        if name not in block:
            block[name] = np.full(n, value, dtype)
    return block


def dead_letter_counts(store: Store, *, since_ms: int | None = None) -> dict[str, int]:
    """Stored rejected and duplicate arrivals by kind (since ``since_ms``)."""
    cond, params = "1", {}
    if since_ms is not None:
        cond, params = "ts >= fromUnixTimestamp64Milli({since:Int64})", {"since": since_ms}
    rows = store.rows(
        f"SELECT kind, count() FROM {store.table('dead_letters')} FINAL WHERE {cond} GROUP BY kind",
        params,
    )
    return {str(k): int(n) for k, n in rows}


def _restore_counters(engine: Engine, counts: dict[str, int], last: dict[str, Any] | None) -> None:
    """Re-counts rejected and duplicate arrivals through the public API: an empty
    object per rejection, an event the replay applied (or found a duplicate) again per
    duplicate. (An engine method to add to its diagnostics would be cleaner; see
    docs/STORE.md.)"""
    rejected = counts.get("rejected", 0)
    if rejected:
        engine.push_jsonl(b"{}\n" * rejected)
    duplicates = counts.get("duplicate", 0)
    if duplicates and last is not None:
        for _ in range(duplicates):
            if engine.push(last):
                raise RuntimeError("re-counting a duplicate applied an event")


def _event_at(block: dict[str, npt.NDArray[Any]], row: int) -> dict[str, Any]:
    """Row ``row`` as an event dict, without the producer fields (pushed again only to
    be counted a duplicate, it must not touch the gap detector)."""
    event: dict[str, Any] = {}
    for name in EVENT_STRINGS:
        v = block[name][row]
        if v:
            event[name] = v.decode()
    event["ts"] = int(block["ts"][row])
    if block["score"][row]:
        event["score"] = int(block["score"][row])
    for name in ("hold_s", "talk_s"):
        if not np.isnan(block[name][row]):
            event[name] = float(block[name][row])
    return event


def _last_accepted(block: dict[str, npt.NDArray[Any]], result: PushResult) -> int | None:
    """The last row of ``block`` the engine did not reject, if any."""
    rejected = {row for row, _ in result.rejections}
    for row in range(len(block["ts"]) - 1, -1, -1):
        if row not in rejected:
            return row
    return None


def replay_into(
    engine: Engine,
    store: Store,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    halls: Sequence[str] | None = None,
    carry_over: bool = False,
) -> PushResult:
    """Pushes the stored events (all, or from ``since_ms`` to ``until_ms``) into
    ``engine`` in arrival order and restores the rejected/duplicate counters; returns
    the push totals. Rows the engine rejects now (e.g. dated too far ahead of its
    clock) are counted in ``rejected`` and skipped; the replay goes on."""
    total, last = _ZERO, None
    blocks = read_event_blocks(
        store,
        since_ms=since_ms,
        until_ms=until_ms,
        halls=halls,
        carry_over=carry_over,
        timezone=engine.timezone,
        producer=True,  # the engine's gap detector is rebuilt by the replay too
    )
    for block in blocks:
        result, _ = engine.push_columns(block)
        total = total + PushResult(result.applied, result.duplicates, result.rejected, ())
        row = _last_accepted(block, result)
        if row is not None:
            last = _event_at(block, row)
    if halls is None:
        _restore_counters(engine, dead_letter_counts(store, since_ms=since_ms), last)
    return total


def recovery_start(now_ms: int, longest_horizon_s: int, timezone: str) -> int:
    """The first ms a restarted engine needs: local midnight of ``now_ms``'s day, or
    ``now_ms`` minus the longest horizon if that is earlier."""
    zone = ZoneInfo(timezone)
    local = dt.datetime.fromtimestamp(now_ms / 1000, zone)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
    return min(round(midnight.timestamp() * 1000), now_ms - longest_horizon_s * 1000)


def longest_horizon_s(engine: Engine) -> int:
    """The longest sliding horizon of ``engine`` in seconds (from its names: 5m, 1h...)."""
    return max(horizon_seconds(name) for name in engine.horizons() if name != "today")


def recover(
    engine: Engine,
    store: Store,
    *,
    now_ms: int,
    halls: Sequence[str] | None = None,
    max_lead_ms: int | None = None,
) -> PushResult:
    """Rebuilds a restarted service's engine: events of today and the longest horizon
    before ``now_ms``, plus older events whose state is still open, in arrival order;
    then advances the clock to ``now_ms``. With ``max_lead_ms`` (a wall clock
    ``now_ms``), events dated more than that after ``now_ms`` are not read: the engine
    would refuse them, and one of them must not move its clock."""
    since = recovery_start(now_ms, longest_horizon_s(engine), engine.timezone)
    until = None if max_lead_ms is None else now_ms + max_lead_ms
    result = replay_into(
        engine, store, since_ms=since, until_ms=until, halls=halls, carry_over=True
    )
    engine.advance(now_ms)
    return result


def replay_store(engine: Engine, url: str) -> PushResult:
    """Entry point of the ``hallkpi.stores`` group (schemes chdb, http, https): replays
    every stored event of ``url`` into ``engine``."""
    with store_from_url(url) as store:
        return replay_into(engine, store)
