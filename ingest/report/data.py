"""What the demo report shows, read back from the store (see :mod:`hallkpi.ingest.report.html`).

Per hall: the last ``today`` row of ``hall_kpis`` (the day's figures), its ``15m`` rows
(waiting and the 15-minute ``wait_p90_s`` through the day), and per hour the tickets
served and the call answer rate (:func:`hallkpi.ingest.report.trends.trend` over the events);
the city's p90 wait of the day (also from the events); the alerts as firing intervals;
the staff ranking of :func:`hallkpi.ingest.report.staff.staff_report`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from hallkpi.ingest.report.staff import StaffRow, staff_report
from hallkpi.ingest.report.svg import PALETTE, Interval, esc
from hallkpi.ingest.report.trends import TrendRequest, trend
from hallkpi.ingest.store.connection import Store

_DAY_FIELDS = (
    "issued",
    "served",
    "called_first",
    "wait_mean_s",
    "wait_p90_s",
    "no_show",
    "no_show_rate",
    "calls_answered",
    "calls_offered",
    "answer_rate",
    "ratings",
    "rating_mean",
    "alerts_fired",
)


@dataclass
class HallDay:
    """One hall's day as stored."""

    name: str
    color: str
    day: dict[str, float] = field(default_factory=dict)  # the last `today` row
    times: list[int] = field(default_factory=list)  # hall_kpis rows (15m horizon)
    waiting: list[float] = field(default_factory=list)
    wait_p90: list[float] = field(default_factory=list)
    served: dict[int, float] = field(default_factory=dict)  # per local hour (start ms)
    answer: dict[int, float] = field(default_factory=dict)

    def get(self, key: str) -> float:
        return self.day.get(key, math.nan)


@dataclass
class ReportData:
    date: str
    timezone: str
    t0: int
    t1: int
    halls: list[HallDay]
    intervals: list[Interval]
    staff: list[StaffRow]
    city_p90: float
    store_url: str
    notes: list[str] = field(default_factory=list)


def _f(v: Any) -> float:
    return math.nan if v is None else float(v)


def load(store: Store, date: str, timezone: str, t0: int, t1: int) -> ReportData:
    """Reads everything the page shows for ``[t0, t1)`` from ``store``."""
    p = {"lo": t0, "hi": t1 + 1}
    rng = "ts >= fromUnixTimestamp64Milli({lo:Int64}) AND ts < fromUnixTimestamp64Milli({hi:Int64})"
    kpis = store.table("hall_kpis")
    names = [r[0] for r in store.rows(f"SELECT DISTINCT hall FROM {kpis} WHERE {rng}", p)]
    halls = {h: HallDay(h, PALETTE[i % len(PALETTE)]) for i, h in enumerate(sorted(names))}
    cols = ", ".join(f"argMax({k}, ts)" for k in _DAY_FIELDS)
    for row in store.rows(
        f"SELECT hall, {cols} FROM {kpis} FINAL WHERE horizon = 'today' AND {rng} GROUP BY hall", p
    ):
        halls[row[0]].day = {k: _f(v) for k, v in zip(_DAY_FIELDS, row[1:], strict=True)}
    for hall, ts, waiting, p90 in store.rows(
        f"SELECT hall, toUnixTimestamp64Milli(ts), waiting, wait_p90_s FROM {kpis} FINAL "
        f"WHERE horizon = '15m' AND {rng} ORDER BY hall, ts",
        p,
    ):
        h = halls[hall]
        h.times.append(int(ts))
        h.waiting.append(_f(waiting))
        h.wait_p90.append(_f(p90) / 60)
    day = dt.date.fromisoformat(date)
    zone = ZoneInfo(timezone)
    d0 = round(dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp() * 1000)
    d1 = d0 + 86_400_000
    for kpi, attr in (("served", "served"), ("answer_rate", "answer")):
        req = TrendRequest(kpi, d0, d1, 3600, by_hall=True, timezone=timezone)
        for s in trend(store, req).series:
            if s.label in halls:
                setattr(halls[s.label], attr, dict(zip(s.times, s.values, strict=True)))
    city = trend(store, TrendRequest("wait_p90_s", d0, d1, 86400, timezone=timezone)).series
    city_p90 = city[0].values[0] if city and city[0].values else math.nan
    alerts = store.rows(
        f"SELECT hall, alert, state, toUnixTimestamp64Milli(ts), value, threshold "
        f"FROM {store.table('alerts')} FINAL WHERE {rng} ORDER BY ts, hall, alert",
        p,
    )
    return ReportData(
        date,
        timezone,
        t0,
        t1,
        list(halls.values()),
        intervals(alerts, t1),
        staff_report(store, d0, d1),
        city_p90,
        store.url.redacted(),
    )


def intervals(rows: Sequence[tuple[Any, ...]], end: int) -> list[Interval]:
    """Firing intervals of ``(hall, alert, state, ts, value, threshold)`` changes."""
    open_: dict[tuple[str, str], tuple[int, float | None, float]] = {}
    out = []
    for hall, alert, state, ts, value, threshold in rows:
        key = (str(hall), str(alert))
        if state == "firing":
            open_.setdefault(key, (int(ts), None if value is None else float(value), threshold))
        elif key in open_:
            start, peak, thr = open_.pop(key)
            out.append(Interval(f"{key[0]} · {key[1]}", key[1], start, int(ts), peak, thr))
    for (hall, alert), (start, peak, thr) in open_.items():
        out.append(Interval(f"{hall} · {alert}", alert, start, end, peak, thr, open=True))
    return sorted(out, key=lambda i: (i.lane, i.start))


# --- formatting ---------------------------------------------------------------------------


def mins(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds / 60:.1f} min"


def pct(v: float, digits: int = 0) -> str:
    return "-" if math.isnan(v) else f"{v:.{digits}%}"


def count(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:,.0f}"


def ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def city(data: ReportData) -> dict[str, float]:
    def total(k: str) -> float:
        return sum(0.0 if math.isnan(h.get(k)) else h.get(k) for h in data.halls)

    def weighted(k: str, w: str) -> float:
        pairs = [(h.get(k), h.get(w)) for h in data.halls if not math.isnan(h.get(k))]
        return ratio(sum(v * n for v, n in pairs), sum(n for _, n in pairs))

    return {
        "issued": total("issued"),
        "served": total("served"),
        "wait_mean_s": weighted("wait_mean_s", "called_first"),
        "wait_p90_s": data.city_p90,
        "no_show_rate": ratio(total("no_show"), total("no_show") + total("served")),
        "answer_rate": ratio(total("calls_answered"), total("calls_offered")),
        "calls_offered": total("calls_offered"),
        "rating_mean": weighted("rating_mean", "ratings"),
        "alerts_fired": total("alerts_fired"),
    }


def headline(data: ReportData) -> str:
    """One sentence on the day: the hall with the longest waits, the busiest hall."""
    if not data.halls:
        return "No hall has data for this day."
    slow = max(
        data.halls, key=lambda h: -1 if math.isnan(h.get("wait_p90_s")) else h.get("wait_p90_s")
    )
    busy = max(data.halls, key=lambda h: h.get("served") if not math.isnan(h.get("served")) else -1)
    text = (
        f"<b>{esc(slow.name)}</b> had the longest waits (9 in 10 called within "
        f"{mins(slow.get('wait_p90_s'))}) and {count(slow.get('alerts_fired'))} alerts; "
        f"<b>{esc(busy.name)}</b> served the most visitors ({count(busy.get('served'))})."
    )
    return text
