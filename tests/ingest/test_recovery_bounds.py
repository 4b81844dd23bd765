"""Recovery within bounds: a stored event dated 2200 does not move a restarted engine's
clock, rows the engine refuses now are counted and skipped (the replay goes on), and
recovery reads only the range it needs (an old, huge row does not widen its columns)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hallkpi.core import Engine
from hallkpi.core.cli import main
from hallkpi.core.sim.simulate import simulate_lines
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.recovery import read_event_blocks, recover, recovery_start
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter

T0 = 1795744800000  # 2026-11-27 10:00 Asia/Shanghai
Y2200 = 7258118400000  # 2200-01-01T00:00:00Z
LEAD_MS = 300_000


def load(store: Store, tmp_path: Path, events: list[dict[str, Any]], name: str = "e") -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    url = f"chdb://{store.url.path}?database={store.database}"
    assert main(["load", str(path), "--store", url]) == 0


def tickets(n: int, hall: str = "h1", t0: int = T0 - 3600_000) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        base = {"hall": hall, "ticket": f"A{k:03d}"}
        out.append({**base, "id": f"{hall}-i{k}", "type": "ticket.issued", "ts": t0 + k * 1000,
                    "service": "tax", "channel": "kiosk"})  # fmt: skip
        out.append({**base, "id": f"{hall}-x{k}", "type": "ticket.cancelled",
                    "ts": t0 + k * 1000 + 500})  # fmt: skip
    return out


def future(ts: int = Y2200) -> dict[str, Any]:
    return {"id": "from-2200", "type": "ticket.issued", "ts": ts, "hall": "h2",
            "ticket": "Z1", "service": "tax", "channel": "kiosk"}  # fmt: skip


def stored_with_2200(store: Store, tmp_path: Path, where: str) -> list[dict[str, Any]]:
    """Tickets of h1 and one event of h2 dated 2200 (stored before engines checked
    clocks), in the middle or as the last arrival, then a duplicate arrival (a dead
    letter that recovery re-counts by pushing an accepted event again)."""
    before = tickets(20)
    events = [*before[:10], future(), *before[10:]] if where == "middle" else [*before, future()]
    events.append(dict(events[0]))
    load(store, tmp_path, events)
    return before


@pytest.mark.parametrize("where", ["middle", "last"])
def test_an_event_dated_2200_is_not_read_past_the_lead(
    store: Store, tmp_path: Path, where: str
) -> None:
    before = stored_with_2200(store, tmp_path, where)
    engine = Engine()
    result = recover(engine, store, now_ms=T0, max_lead_ms=LEAD_MS)
    assert (result.applied, result.rejected) == (len(before), 0)
    assert engine.now == T0 and "h2" not in engine.halls()
    assert engine.diagnostics()["duplicate_events"] == 1


@pytest.mark.parametrize("where", ["middle", "last"])
def test_an_event_dated_2200_refused_by_the_engine_is_counted_and_skipped(
    store: Store, tmp_path: Path, where: str
) -> None:
    """The service sets the engine's clock first; the engine refuses the event, the
    clock stays, every other event is applied and the duplicate is still re-counted."""
    before = stored_with_2200(store, tmp_path, where)
    engine = Engine(max_lead_ms=LEAD_MS)
    engine.advance(T0)
    result = recover(engine, store, now_ms=T0)
    assert (result.applied, result.rejected) == (len(before), 1)
    assert engine.now == T0
    assert engine.snapshot()["halls"]["h1"]["today"]["issued"] == 20
    assert engine.diagnostics()["duplicate_events"] == 1


def test_an_event_a_few_seconds_ahead_is_still_recovered(store: Store, tmp_path: Path) -> None:
    """The bound is the engine's lead, not ``now``: a clock a little behind a producer's
    does not lose its events."""
    load(store, tmp_path, [*tickets(3), future(T0 + 10_000)])
    engine = Engine()
    result = recover(engine, store, now_ms=T0, max_lead_ms=LEAD_MS)
    assert result.applied == 7 and "h2" in engine.halls()


def test_recovery_reads_only_the_range_it_needs(store: Store, tmp_path: Path) -> None:
    """A two-year-old row with a 50 kB id (outside today and the carry-over range;
    written by an older writer that did not validate) is not read, and does not make
    every recovered row 50 kB wide."""
    load(store, tmp_path, tickets(5))
    writer = StoreWriter(store, Spool(tmp_path / "spool"))
    old = {"id": ["old-" + "x" * 50_000], "type": ["ticket.cancelled"], "hall": ["h1"],
           "ticket": ["OLD"], "ts": np.array([T0 - 730 * 86_400_000], np.int64)}  # fmt: skip
    writer.add_events(old)
    writer.close()
    since = recovery_start(T0, 3600, "Asia/Shanghai")
    blocks = list(read_event_blocks(store, since_ms=since, carry_over=True))
    ids = [x.decode() for b in blocks for x in b["id"].tolist()]
    assert ids == [e["id"] for e in tickets(5)]
    assert max(b["id"].dtype.itemsize for b in blocks) < 100
    assert max(b["service"].dtype.itemsize for b in blocks) == len("tax")
    assert all(b["agent"].dtype.itemsize == 1 for b in blocks)  # no agent: not read


def test_rows_the_engine_refuses_are_counted_and_the_rest_applied(
    store: Store, tmp_path: Path
) -> None:
    """Rows valid when stored but refused now (a stricter engine: events older than its
    maximum age) are skipped in the middle of a block, counted, and the replay goes on.
    (Tickets issued 20 days ago and never finished are carried over.)"""
    old = [
        e for e in tickets(4, hall="h3", t0=T0 - 20 * 86_400_000) if e["type"] == "ticket.issued"
    ]
    new = tickets(10)
    load(store, tmp_path, [*new[:10], *old, *new[10:]])
    engine = Engine(max_age_ms=86_400_000)
    engine.advance(T0)
    result = recover(engine, store, now_ms=T0)
    assert (result.applied, result.rejected) == (20, 4)
    assert engine.snapshot()["halls"]["h1"]["today"]["issued"] == 10


def test_carried_over_rows_written_twice_are_recovered_once(store: Store, tmp_path: Path) -> None:
    """Two days loaded twice, merges stopped so that every row is stored twice: the
    carry-over (which reads without FINAL) takes each older event once, as FINAL would,
    and the restarted engine equals one restarted from a single load."""
    days = simulate_lines(halls=2, date="2026-11-26", days=2, seed=9, tickets_per_hall=300)
    lines = [x for x in days.splitlines(True) if json.loads(x)["ts"] <= T0 + 5 * 3600_000]
    events = [json.loads(x) for x in lines]
    once = Store(f"chdb://{store.url.path}?database={store.database}_once")
    try:
        load(once, tmp_path, events, "once")
        ensure_schema(store)
        store.command(f"SYSTEM STOP MERGES {store.table('events')}")
        load(store, tmp_path, events, "twice-1")
        load(store, tmp_path, events, "twice-2")
        n, final = store.rows(
            f"SELECT count(), (SELECT count() FROM {store.table('events')} FINAL) "
            f"FROM {store.table('events')}"
        )[0]
        assert n == 2 * final == 2 * len(events)
        now = T0 + 5 * 3600_000
        a, b = Engine(), Engine()
        ra = recover(a, once, now_ms=now)
        rb = recover(b, store, now_ms=now)
        assert (ra.applied, ra.duplicates) == (rb.applied, rb.duplicates)
        assert a.snapshot() == b.snapshot()
        assert b.snapshot()["diagnostics"]["events_applied"] < len(events)  # not everything
    finally:
        once.command(f"DROP DATABASE IF EXISTS `{store.database}_once`")


def test_a_producers_sequence_has_no_false_gap_after_a_restart(
    store: Store, tmp_path: Path
) -> None:
    """A kiosk numbers its events 1, 2, 3...: yesterday's window stays open (carried
    over, a sparse pick of its sequence), and one event dated just before the range
    arrives after the range began. Recovery must not report the sequence numbers it
    did not read as lost upstream: nothing was lost."""
    since = recovery_start(T0, 3600, "Asia/Shanghai")
    kiosk = {"hall": "h1", "producer": "kiosk-1", "epoch": 1}
    events: list[dict[str, Any]] = [
        {**kiosk, "id": "w-open", "type": "window.opened", "ts": since - 7200_000,
         "window": "w1", "staff": "s1"},
        {**kiosk, "id": "x-old", "type": "ticket.issued", "ts": since - 3600_000,
         "ticket": "A000", "service": "tax", "channel": "kiosk"},
        {**kiosk, "id": "x-old-done", "type": "ticket.cancelled", "ts": since - 3500_000,
         "ticket": "A000"},
    ]  # fmt: skip
    for k, e in enumerate(tickets(5, t0=since + 1000)):
        events.append({**e, **kiosk})
        if k == 2:  # dated before the range, arriving in it
            events.append({**kiosk, "id": "late", "type": "ticket.cancelled",
                           "ts": since - 2000, "ticket": "A000"})  # fmt: skip
    for seq, e in enumerate(events, 1):
        e["seq"] = seq
    load(store, tmp_path, events)
    full = Engine()
    for e in events:
        full.push(e)
    full.advance(T0)
    restarted = Engine()
    recover(restarted, store, now_ms=T0)
    assert full.diagnostics()["upstream_lost_events"] == 0
    assert restarted.diagnostics()["upstream_lost_events"] == 0, restarted.producer_gaps()
    assert restarted.snapshot()["halls"]["h1"]["now"] == full.snapshot()["halls"]["h1"]["now"]
