"""Four simulated weeks of three halls with planted causes, in a store, for the advice
tests: yuhua is well run; jianye is understaffed (the simulator's own 0.8 staffing, made
plain with more walk-ins on weekdays, 09:00-16:30, who give up after 20-40 minutes);
qinhuai has a
Monday-morning rush the windows cannot absorb (extra walk-ins 09:00-10:30 who give up
after 30-60 minutes) and one slow clerk: staff ``s003`` takes twice as long on
``tax_return`` (its completions, and the ratings after them, are moved later)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from hallkpi.core import Engine
from hallkpi.core.sim.simulate import simulate
from hallkpi.ingest.store.batch import ArrivalClock
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.jsonl import events_to_columns
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter

TZ = ZoneInfo("Asia/Shanghai")
START = dt.date(2026, 11, 2)  # a Monday
DAYS = 28
LAST = START + dt.timedelta(days=DAYS - 1)
HALLS = ("yuhua", "jianye", "qinhuai")
SLOW = ("qinhuai", "s003", "tax_return")
STRETCH = 2.0
RUSH_HALL, RUSH_TICKETS = "qinhuai", 45
UNDERSTAFFED_EXTRA = 90
SNAPSHOT_S = 300


def ms(day: dt.date, hour: int, minute: int = 0) -> int:
    return round(dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ).timestamp() * 1000)


@dataclass
class History:
    events: list[dict[str, Any]]
    slow_handles: list[float] = field(default_factory=list)  # the planted clerk's, seconds
    hall_handles: list[float] = field(default_factory=list)  # all tax_return in the hall


def _day(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts / 1000, TZ).date()


def plant_slow_clerk(events: list[dict[str, Any]], h: History, since: dt.date) -> None:
    hall, staff, service = SLOW
    services: dict[tuple[str, str, dt.date], str] = {}
    started: dict[tuple[str, str, dt.date], int] = {}
    shift: dict[tuple[str, str, dt.date], int] = {}
    for e in events:
        if e["hall"] != hall or "ticket" not in e:
            continue
        key = (hall, str(e["ticket"]), _day(int(e["ts"])))
        if e["type"] == "ticket.issued":
            services[key] = str(e["service"])
        elif e["type"] == "ticket.started":
            started.setdefault(key, int(e["ts"]))
        elif e["type"] == "ticket.completed" and key in started and services.get(key) == service:
            handle = int(e["ts"]) - started[key]
            if e.get("staff") == staff:
                extra = round(handle * (STRETCH - 1))
                e["ts"] = int(e["ts"]) + extra
                shift[key] = extra
                handle += extra
            if key[2] >= since:
                h.hall_handles.append(handle / 1000)
                if e.get("staff") == staff:
                    h.slow_handles.append(handle / 1000)
        elif e["type"] == "ticket.rated" and key in shift:
            e["ts"] = int(e["ts"]) + shift[key]


def plant_rush(events: list[dict[str, Any]]) -> None:
    rng = random.Random(4)
    for d in range(DAYS):
        day = START + dt.timedelta(days=d)
        if day.weekday() != 0:
            continue
        for i in range(RUSH_TICKETS):
            t = ms(day, 9) + round(rng.uniform(0, 5400) * 1000)
            ticket = f"R{i:03d}"
            base = {"hall": RUSH_HALL, "ticket": ticket}
            events.append(
                {"id": f"rush-{day}-{i}", "type": "ticket.issued", "ts": t, **base}
                | {"service": "consult", "channel": "kiosk"}
            )
            gone = t + round(rng.uniform(1800, 3600) * 1000)
            events.append(
                {"id": f"rush-{day}-{i}-x", "type": "ticket.cancelled", "ts": gone, **base}
            )


def plant_understaffing(events: list[dict[str, Any]]) -> None:
    rng = random.Random(5)
    for d in range(DAYS):
        day = START + dt.timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for i in range(UNDERSTAFFED_EXTRA):
            t = ms(day, 9) + round(rng.uniform(0, 7.5 * 3600) * 1000)
            base = {"hall": "jianye", "ticket": f"U{i:03d}"}
            events.append(
                {"id": f"extra-{day}-{i}", "type": "ticket.issued", "ts": t, **base}
                | {"service": "consult", "channel": "kiosk"}
            )
            gone = t + round(rng.uniform(1200, 2400) * 1000)
            events.append(
                {"id": f"extra-{day}-{i}-x", "type": "ticket.cancelled", "ts": gone, **base}
            )


def history(tickets: int = 400, seed: int = 11) -> History:
    raw: list[dict[str, Any]] = simulate(
        halls=4, date=START, days=DAYS, seed=seed, tickets_per_hall=tickets
    )
    events = [e for e in raw if e["hall"] in HALLS]
    h = History(events)
    plant_slow_clerk(events, h, LAST - dt.timedelta(days=13))
    plant_rush(events)
    plant_understaffing(events)
    events.sort(key=lambda e: int(e["ts"]))
    return h


def store_events(writer: StoreWriter, events: list[dict[str, Any]]) -> None:
    """The events into the store as the service writes them (arrival order = list order)."""
    clock = ArrivalClock()
    for start in range(0, len(events), 50_000):
        writer.add_events(events_to_columns(events[start : start + 50_000], clock))


def load_with_snapshots(
    store: Store, events: Iterable[dict[str, Any]], spool: Path
) -> list[tuple[Any, ...]]:
    """Loads the events and writes ``hall_kpis`` snapshots every SNAPSHOT_S seconds of
    08:00-18:00 local time, from an engine fed the same events. Returns, per snapshot
    and hall: (hall, local time, open rate, pressure, open windows, paused windows)."""
    events = list(events)
    ensure_schema(store)
    engine = Engine(halls=HALLS)
    i = 0
    out = []
    with StoreWriter(store, Spool(spool)) as writer:
        store_events(writer, events)
        for d in range((_day(int(events[-1]["ts"])) - START).days + 1):
            day = START + dt.timedelta(days=d)
            for t in range(ms(day, 8), ms(day, 18) + 1, SNAPSHOT_S * 1000):
                while i < len(events) and int(events[i]["ts"]) <= t:
                    engine.push(events[i])
                    i += 1
                engine.advance(t)
                for hall in HALLS:
                    g = engine.gauges(hall)
                    out.append(
                        (
                            hall,
                            dt.datetime.fromtimestamp(t / 1000, TZ),
                            g["window_open_rate"],
                            g["window_pressure"],
                            g["open_windows"],
                            g["paused_windows"],
                        )
                    )
                snap = engine.snapshot_columns()
                snap["ts"] = np.full(len(snap["ts"]), t, np.int64)
                writer.add("hall_kpis", snap)
    return out
