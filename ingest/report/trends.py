"""``hallkpi trends``: the history of one KPI in time buckets, with its peak and valley.

Windowed KPIs (counts, means, percentiles, shares) are computed from ``events`` for
each bucket with the KPIS.md definition, the bucket playing the horizon: exact, and
available for any day ever stored (also days loaded with ``hallkpi load``). Averaging
the sliding-window snapshots of ``hall_kpis`` would not give that (the mean of
fifteen-minute means is not the hour's mean). Gauges (``waiting``, ``est_wait_s``...)
exist only as snapshots: they come from ``hall_kpis`` (``--agg`` per bucket).
``--source kpis`` reads a windowed KPI from ``hall_kpis`` too: the last snapshot in
each bucket of the horizon as long as the bucket (``today`` for days).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from hallkpi.core.engine import GAUGE_KPIS, INTEGER_KPIS, WINDOWED_KPIS
from hallkpi.core.errors import ConfigError
from hallkpi.core.horizons import horizon_name, horizon_seconds
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.report.history_sql import WINDOWED_SQL, row_source
from hallkpi.ingest.report.output import csv_table, json_text, text_table
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.sql import ident

Source = Literal["auto", "events", "kpis"]
Agg = Literal["avg", "max", "min", "last"]
_AGG_SQL = {"avg": "avg({k})", "max": "max({k})", "min": "min({k})", "last": "argMax({k}, ts)"}


def parse_duration(text: str) -> int:
    """``30s``, ``15m``, ``1h``, ``1d`` -> seconds."""
    try:
        return horizon_seconds(text.strip())
    except ConfigError:
        msg = f"bucket {text!r}: use a number and s, m, h or d (15m, 1h, 1d)"
        raise StoreConfigError(msg) from None


@dataclass(frozen=True)
class TrendRequest:
    """What to compute; times in ms, ``bucket_s`` in seconds."""

    kpi: str
    start_ms: int
    end_ms: int
    bucket_s: int = 3600
    halls: tuple[str, ...] = ()
    by_hall: bool = False
    source: Source = "auto"
    agg: Agg = "avg"
    timezone: str = DEFAULT_TIMEZONE
    short_abandon_s: float = 5.0
    service_level_s: float = 20.0

    def resolved_source(self) -> Literal["events", "kpis"]:
        if self.kpi in GAUGE_KPIS:
            if self.source == "events":
                raise StoreConfigError(f"{self.kpi} is a gauge: it exists only in hall_kpis")
            return "kpis"
        if self.kpi not in WINDOWED_KPIS:
            known = ", ".join((*GAUGE_KPIS, *WINDOWED_KPIS))
            raise StoreConfigError(f"unknown KPI {self.kpi!r} (known: {known})")
        return "kpis" if self.source == "kpis" else "events"


@dataclass
class TrendSeries:
    """One curve: bucket starts (ms) and values (NaN when undefined)."""

    label: str
    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def _pick(self, better: Any) -> int | None:
        best = None
        for i, v in enumerate(self.values):
            if not math.isnan(v) and (best is None or better(v, self.values[best])):
                best = i
        return best

    @property
    def peak(self) -> int | None:
        """Index of the highest value (the earliest of equals)."""
        return self._pick(lambda a, b: a > b)

    @property
    def valley(self) -> int | None:
        """Index of the lowest value (the earliest of equals)."""
        return self._pick(lambda a, b: a < b)


@dataclass
class Trend:
    request: TrendRequest
    source: str
    series: list[TrendSeries]


def _bucket_sql(column_ms: str, bucket_s: int) -> str:
    interval = (
        "toIntervalDay({bucket_n:UInt32})"
        if bucket_s % 86400 == 0
        else "toIntervalSecond({bucket_n:UInt32})"
    )
    return (
        f"toUnixTimestamp(toStartOfInterval(fromUnixTimestamp64Milli({column_ms}, {{tz:String}}), "
        f"{interval}, {{tz:String}})) * 1000"
    )


def trend(store: Store, req: TrendRequest) -> Trend:
    """The curve(s) of ``req`` from the store."""
    source = req.resolved_source()
    params: dict[str, Any] = {
        "lo": req.start_ms,
        "hi": req.end_ms,
        "tz": req.timezone,
        "bucket_n": req.bucket_s // 86400 if req.bucket_s % 86400 == 0 else req.bucket_s,
    }
    series_sql = "hall" if req.by_hall or req.halls else "'all'"
    hall_filter = ""
    if req.halls:
        hall_filter = " AND hall IN {halls:Array(String)}"
        params["halls"] = list(req.halls)
    if source == "events":
        spec = WINDOWED_SQL[req.kpi]
        with_sql, from_sql = row_source(spec.rows, store.table("events"), store.table("alerts"))
        if "{bucket_s:" in spec.expr:
            params["bucket_s"] = float(req.bucket_s)
        if "{short_abandon_s:" in spec.expr:
            params["short_abandon_s"] = float(req.short_abandon_s)
        if "{service_level_s:" in spec.expr:
            params["service_level_s"] = float(req.service_level_s)
        sql = (
            f"{with_sql}SELECT {series_sql} AS series, {_bucket_sql('t', req.bucket_s)} AS b, "
            f"{spec.expr} AS value FROM {from_sql} "
            f"WHERE t >= {{lo:Int64}} AND t < {{hi:Int64}}{hall_filter} "
            "GROUP BY series, b ORDER BY series, b"
        )
    else:
        windowed = req.kpi in WINDOWED_KPIS
        params["horizon"] = (
            "today" if not windowed or req.bucket_s == 86400 else horizon_name(req.bucket_s)
        )
        inner = _AGG_SQL["last" if windowed else req.agg].format(k=ident(req.kpi))
        combine = "sum" if req.kpi in INTEGER_KPIS else "avg"
        sql = (
            f"SELECT series, b, {combine}(v) AS value FROM ("
            f"SELECT hall, {series_sql} AS series, "
            f"{_bucket_sql('toUnixTimestamp64Milli(ts)', req.bucket_s)} AS b, {inner} AS v "
            f"FROM {store.table('hall_kpis')} FINAL WHERE horizon = {{horizon:String}} "
            "AND ts >= fromUnixTimestamp64Milli({lo:Int64}) "
            f"AND ts < fromUnixTimestamp64Milli({{hi:Int64}}){hall_filter} "
            "GROUP BY hall, series, b) GROUP BY series, b ORDER BY series, b"
        )
    out: dict[str, TrendSeries] = {}
    for label, b, value in store.rows(sql, params):
        s = out.setdefault(str(label), TrendSeries(str(label)))
        s.times.append(int(b))
        s.values.append(math.nan if value is None else float(value))
    return Trend(req, source, list(out.values()))


def local_time(ms: int, timezone: str) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def render(t: Trend, fmt: str) -> str:
    """The trend as a table (with peak and valley lines), CSV or JSON."""
    tz = t.request.timezone
    if fmt == "json":
        doc = {
            "kpi": t.request.kpi,
            "source": t.source,
            "bucket_s": t.request.bucket_s,
            "timezone": tz,
            "series": [
                {
                    "hall": s.label,
                    "points": [
                        {"ts": ms, "time": local_time(ms, tz), "value": v}
                        for ms, v in zip(s.times, s.values, strict=True)
                    ],
                    **{
                        name: None
                        if i is None
                        else {
                            "ts": s.times[i],
                            "time": local_time(s.times[i], tz),
                            "value": s.values[i],
                        }
                        for name, i in (("peak", s.peak), ("valley", s.valley))
                    },
                }
                for s in t.series
            ],
        }
        return json_text(doc)
    points = [
        (s.label, ms, local_time(ms, tz), None if math.isnan(v) else v)
        for s in t.series
        for ms, v in zip(s.times, s.values, strict=True)
    ]
    if fmt == "csv":
        return csv_table(["hall", "ts", "time", t.request.kpi], points)
    headers = ["hall", "time", t.request.kpi]
    rows = [[label, when, v] for label, _, when, v in points]
    lines = [text_table(headers, rows), ""]
    for s in t.series:
        for name, i in (("peak", s.peak), ("valley", s.valley)):
            if i is not None:
                lines.append(f"{s.label}: {name} {s.values[i]:.4g} at {local_time(s.times[i], tz)}")
    lines.append(f"({t.source}; buckets of {t.request.bucket_s} s, {tz})")
    return "\n".join(lines)
