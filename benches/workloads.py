"""Workloads of the hallkpi benchmarks: the simulated day, its events as numpy columns,
hall replication, and the per-hall ticket waits of the p90 benchmark."""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import orjson
from hallkpi.core.engine import EVENT_STRING_FIELDS
from hallkpi.core.sim.simulate import simulate_lines

DATE = "2026-11-27"
TIMEZONE = "Asia/Shanghai"
HALLS = 50
TICKETS_PER_HALL = 2000
SEED = 0

Columns = dict[str, npt.NDArray[np.generic]]

# Event fields as push_columns columns: strings as 'S' bytes ("" = absent), ints, floats.
_STRING_FIELDS = EVENT_STRING_FIELDS


def local_ms(hour: int, minute: int = 0) -> int:
    """Epoch milliseconds of ``hour:minute`` local time on DATE."""
    day = dt.date.fromisoformat(DATE)
    moment = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(TIMEZONE))
    return round(moment.timestamp() * 1000)


def day_lines(halls: int = HALLS) -> bytes:
    """A simulated business day of ``halls`` halls as JSON lines (~10,000 events a hall)."""
    return simulate_lines(
        halls=halls, date=DATE, seed=SEED, tickets_per_hall=TICKETS_PER_HALL, timezone=TIMEZONE
    )


def columns_of(lines: bytes, *, before_ms: int | None = None) -> Columns:
    """The events of JSON lines as push_columns columns (only those before ``before_ms``)."""
    events = [orjson.loads(line) for line in lines.splitlines()]
    if before_ms is not None:
        events = [e for e in events if e["ts"] < before_ms]
    cols: Columns = {
        name: np.array([str(e.get(name, "")).encode() for e in events], dtype="S")
        for name in _STRING_FIELDS
    }
    cols["ts"] = np.array([e["ts"] for e in events], dtype=np.int64)
    cols["score"] = np.array([e.get("score", 0) for e in events], dtype=np.int64)
    for name in ("hold_s", "talk_s"):
        cols[name] = np.array([e.get(name, np.nan) for e in events], dtype=np.float64)
    return cols


def replicate(cols: Columns, copies: int) -> Columns:
    """``copies`` copies of every hall (renamed ``<hall>-r<k>``), events kept in time order:
    each row is repeated ``copies`` times in a row, its hall and id suffixed."""
    rows = len(cols["ts"])
    out: Columns = {name: np.repeat(a, copies) for name, a in cols.items()}
    suffix = np.tile(np.array([f"-r{k}".encode() for k in range(copies)], dtype="S"), rows)
    for name in ("hall", "id"):
        out[name] = np.char.add(out[name].astype(np.bytes_), suffix)
    return out


@dataclass(frozen=True)
class Tickets:
    """Tickets of many halls over one day: ``hall`` (index), ``issued`` and ``called``
    epoch ms (whole seconds; within a hall, calls fall on distinct seconds)."""

    names: list[str]
    hall: npt.NDArray[np.int64]
    issued: npt.NDArray[np.int64]
    called: npt.NDArray[np.int64]


def tickets(halls: int = HALLS, per_hall: int = TICKETS_PER_HALL, seed: int = SEED) -> Tickets:
    """A FIFO queue per hall served by 8-14 windows: arrivals peak at 10:00 and 14:30, the
    hall issues 08:30-17:00, service times are exponential at ~85 % mean load, so waits
    build up at the peaks (minutes to about an hour) and drain in between."""
    rng = np.random.default_rng(seed)
    open_s, close_s = 8 * 3600 + 1800, 17 * 3600
    midnight_s = local_ms(0) // 1000
    hall_l, issued_l, called_l = [], [], []
    for h in range(halls):
        n = int(per_hall * rng.uniform(0.8, 1.15))
        arrive = np.concatenate(
            [rng.normal(10 * 3600, 3600, n // 2), rng.normal(14.5 * 3600, 3600, n - n // 2)]
        )
        arrive = np.sort(np.clip(arrive, open_s, close_s).astype(np.int64))
        windows = int(rng.integers(8, 15))
        service = rng.exponential(0.85 * windows * (close_s - open_s) / n, n)
        free = [open_s] * windows
        called = np.empty(n, dtype=np.int64)
        last = -1
        for i in range(n):
            at = max(int(arrive[i]), heapq.heappop(free), last + 1)
            called[i] = last = at
            heapq.heappush(free, at + 1 + int(service[i]))
        hall_l.append(np.full(n, h, dtype=np.int64))
        issued_l.append((midnight_s + arrive) * 1000)
        called_l.append((midnight_s + called) * 1000)
    return Tickets(
        names=[f"hall{h:03d}" for h in range(halls)],
        hall=np.concatenate(hall_l),
        issued=np.concatenate(issued_l),
        called=np.concatenate(called_l),
    )


@dataclass(frozen=True)
class TicketEvents:
    """``ticket.issued`` and ``ticket.called`` of Tickets as push_columns columns, sorted
    by ts (an issue before a call at the same ts); ``called_rows`` are the rows of the
    calls and ``called_ticket`` the ticket (index into Tickets) of each of them."""

    columns: Columns
    called_rows: npt.NDArray[np.intp]
    called_ticket: npt.NDArray[np.int64]


def ticket_events(t: Tickets) -> TicketEvents:
    n = len(t.hall)
    ts = np.concatenate([t.issued, t.called])
    kind = np.concatenate([np.zeros(n, dtype=np.int8), np.ones(n, dtype=np.int8)])
    ticket = np.concatenate([np.arange(n), np.arange(n)])
    order = np.lexsort((kind, ts))
    ts, kind, ticket = ts[order], kind[order], ticket[order]
    issue = kind == 0
    hall = np.array(t.names, dtype="S")[t.hall[ticket]]
    key = np.char.add(b"A", ticket.astype("S"))
    cols: Columns = {
        "id": np.char.add(key, np.where(issue, b"-i", b"-c")),
        "type": np.where(issue, b"ticket.issued", b"ticket.called"),
        "ts": ts,
        "hall": hall,
        "ticket": key,
        "service": np.where(issue, b"tax", b""),
        "channel": np.where(issue, b"kiosk", b""),
        "window": np.where(issue, b"", b"W01"),
        "staff": np.where(issue, b"", b"S01"),
    }
    rows = np.flatnonzero(~issue)
    return TicketEvents(columns=cols, called_rows=rows, called_ticket=ticket[rows])
