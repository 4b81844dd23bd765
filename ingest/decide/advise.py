"""``hallkpi advise``: suggestions with evidence from the store's history.

The figures come from SQL over ``events`` (handle times and ratings per staff member,
arrivals per half hour) and ``hall_kpis`` (window open rate and pressure per snapshot
bucket); the rules that turn them into suggestions are :mod:`hallkpi.core.decide.suggest`,
configured by ``[suggestions]`` (and ``[advice]`` for the staffing target)::

    hallkpi advise --store chdb:///var/lib/hallkpi [--date 2026-11-27] [--format json]

``--date`` is the last day looked at (default: the day of the latest stored event);
training looks at the 14 days up to it, expansion at 28, schedule at 4 weeks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hallkpi.core.config import EngineConfig, load_config
from hallkpi.core.decide.advice import AdviceSettings
from hallkpi.core.decide.suggest import (
    Bucket,
    HandleStats,
    RatingStats,
    SlotArrivals,
    Suggestion,
    SuggestionSettings,
    expansion,
    training,
)
from hallkpi.core.decide.suggest_schedule import schedule
from hallkpi.core.errors import CommandError, ConfigError
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.report.history_sql import row_source
from hallkpi.ingest.report.output import json_text, text_table
from hallkpi.ingest.store.cli_options import add_store_options, store_from_args
from hallkpi.ingest.store.connection import Store

DAY_MS = 86_400_000


def day_start_ms(day: dt.date, timezone: str) -> int:
    """Epoch ms of local midnight at the start of ``day``."""
    return round(dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(timezone)).timestamp() * 1000)


def last_event_day(store: Store, timezone: str) -> dt.date | None:
    """The local day of the latest stored event (None for an empty store)."""
    rows = store.rows(
        f"SELECT toUnixTimestamp64Milli(max(ts)), count() FROM {store.table('events')}"
    )
    if not rows or not rows[0][1]:
        return None
    return dt.datetime.fromtimestamp(int(rows[0][0]) / 1000, ZoneInfo(timezone)).date()


def handle_stats(store: Store, lo: int, hi: int) -> list[HandleStats]:
    """Per hall, staff and service: cases, median, mean, and cases above the hall's
    median of the service (tickets paired as the engine pairs them)."""
    with_sql, from_sql = row_source("handles", store.table("events"), store.table("alerts"))
    sql = (
        f"{with_sql}SELECT x.hall, x.staff, x.service, count(), quantileExact(0.5)(x.v), "
        "avg(x.v), countIf(x.v > m.med), any(m.med), any(m.n)\n"
        f"FROM {from_sql} AS x\nINNER JOIN (SELECT hall, service, quantileExact(0.5)(v) AS med, "
        f"count() AS n FROM {from_sql} WHERE t >= {{lo:Int64}} AND t < {{hi:Int64}} "
        "GROUP BY hall, service) AS m ON x.hall = m.hall AND x.service = m.service\n"
        "WHERE x.t >= {lo:Int64} AND x.t < {hi:Int64} AND x.staff != ''\n"
        "GROUP BY x.hall, x.staff, x.service ORDER BY x.hall, x.staff, x.service"
    )
    return [
        HandleStats(h, st, sv, int(n), float(med), float(mean), int(above), float(hm), int(hn))
        for h, st, sv, n, med, mean, above, hm, hn in store.rows(sql, {"lo": lo, "hi": hi})
    ]


def rating_stats(store: Store, lo: int, hi: int) -> list[RatingStats]:
    """Per hall and staff: ratings and dissatisfied ratings (1-2), with the hall's."""
    where = (
        "type = 'ticket.rated' AND ts >= fromUnixTimestamp64Milli({lo:Int64}) "
        "AND ts < fromUnixTimestamp64Milli({hi:Int64})"
    )
    events = store.table("events")
    params = {"lo": lo, "hi": hi}
    halls = {
        h: (int(n), int(d))
        for h, n, d in store.rows(
            f"SELECT hall, count(), countIf(score IN (1, 2)) FROM {events} FINAL "
            f"WHERE {where} GROUP BY hall",
            params,
        )
    }
    return [
        RatingStats(h, st, int(n), int(d), *halls[h])
        for h, st, n, d in store.rows(
            f"SELECT hall, staff, count(), countIf(score IN (1, 2)) FROM {events} FINAL "
            f"WHERE {where} AND staff != '' GROUP BY hall, staff ORDER BY hall, staff",
            params,
        )
    ]


def buckets(store: Store, lo: int, hi: int, bucket_s: int, timezone: str) -> list[Bucket]:
    """Window open rate, pressure, open and paused windows of ``hall_kpis`` averaged
    per bucket of ``bucket_s`` seconds."""
    zone = ZoneInfo(timezone)
    sql = (
        "SELECT hall, intDiv(toUnixTimestamp64Milli(ts), {bucket_ms:Int64}) * {bucket_ms:Int64} "
        "AS b, avg(window_open_rate), avg(window_pressure), avg(open_windows), "
        f"avg(paused_windows)\nFROM {store.table('hall_kpis')} FINAL\n"
        "WHERE horizon = 'today' AND ts >= fromUnixTimestamp64Milli({lo:Int64}) "
        "AND ts < fromUnixTimestamp64Milli({hi:Int64})\nGROUP BY hall, b ORDER BY hall, b"
    )
    params = {"lo": lo, "hi": hi, "bucket_ms": bucket_s * 1000}
    return [
        Bucket(
            h,
            dt.datetime.fromtimestamp(int(b) / 1000, zone),
            None if rate is None else float(rate),
            float(pressure or 0.0),
            float(open_w or 0.0),
            float(paused or 0.0),
        )
        for h, b, rate, pressure, open_w, paused in store.rows(sql, params)
    ]


def slot_arrivals(
    store: Store, lo: int, hi: int, slot_minutes: int, timezone: str
) -> list[SlotArrivals]:
    """Tickets issued per hall, local day and slot of ``slot_minutes``."""
    sql = (
        "SELECT hall, toDate(toTimeZone(ts, {tz:String})) AS day, "
        "intDiv(toHour(toTimeZone(ts, {tz:String})) * 60 + toMinute(toTimeZone(ts, "
        "{tz:String})), {slot:UInt32}) * {slot:UInt32} AS minute, count()\n"
        f"FROM {store.table('events')} FINAL\nWHERE type = 'ticket.issued' "
        "AND ts >= fromUnixTimestamp64Milli({lo:Int64}) "
        "AND ts < fromUnixTimestamp64Milli({hi:Int64})\n"
        "GROUP BY hall, day, minute ORDER BY hall, day, minute"
    )
    params = {"lo": lo, "hi": hi, "tz": timezone, "slot": slot_minutes}
    return [SlotArrivals(h, d, int(m), int(n)) for h, d, m, n in store.rows(sql, params)]


def hall_handle_means(store: Store, lo: int, hi: int) -> dict[str, float]:
    """Mean handle time per hall over ``[lo, hi)``."""
    with_sql, from_sql = row_source("handles", store.table("events"), store.table("alerts"))
    sql = (
        f"{with_sql}SELECT hall, avg(v) FROM {from_sql} "
        "WHERE t >= {lo:Int64} AND t < {hi:Int64} GROUP BY hall"
    )
    return {h: float(v) for h, v in store.rows(sql, {"lo": lo, "hi": hi})}


@dataclass(frozen=True)
class AdviseResult:
    day: dt.date
    timezone: str
    suggestions: list[Suggestion]


def advise(
    store: Store,
    day: dt.date,
    *,
    timezone: str = "Asia/Shanghai",
    settings: SuggestionSettings | None = None,
    advice: AdviceSettings | None = None,
) -> AdviseResult:
    """Every suggestion for the period ending with local ``day``."""
    s = settings or SuggestionSettings()
    end = day_start_ms(day + dt.timedelta(days=1), timezone)

    def since(days: int) -> int:
        return day_start_ms(day - dt.timedelta(days=days - 1), timezone)

    out = training(
        handle_stats(store, since(s.training_days), end),
        rating_stats(store, since(s.training_days), end),
        s,
    )
    out += expansion(buckets(store, since(s.expansion_days), end, s.bucket_s, timezone), s)
    lo = since(7 * s.schedule_weeks)
    out += schedule(
        buckets(store, lo, end, s.bucket_s, timezone),
        slot_arrivals(store, lo, end, s.slot_minutes, timezone),
        hall_handle_means(store, lo, end),
        s,
        advice,
    )
    order = {"expansion": 0, "schedule": 1, "training": 2}
    out.sort(key=lambda x: (x.hall, order[x.kind], x.subject))
    return AdviseResult(day, timezone, out)


def _evidence(ev: Any) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in ev.items())


def render(result: AdviseResult, fmt: str) -> str:
    title = f"suggestions up to {result.day.isoformat()} ({result.timezone})"
    rows = result.suggestions
    if fmt == "json":
        return json_text(
            {
                "day": result.day.isoformat(),
                "timezone": result.timezone,
                "suggestions": [s.as_dict() for s in rows],
            }
        )
    if fmt == "html":
        esc = html.escape
        body = "\n".join(
            f"<tr><td>{esc(s.kind)}</td><td>{esc(s.hall)}</td><td>{esc(s.subject)}</td>"
            f"<td>{esc(s.text)}</td><td>{esc(_evidence(s.evidence))}</td></tr>"
            for s in rows
        )
        return (
            f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{esc(title)}</title>\n"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}</style></head>\n"
            f"<body><h1>{esc(title)}</h1>\n<table><tr><th>kind</th><th>hall</th>"
            f"<th>subject</th><th>suggestion</th><th>evidence</th></tr>\n{body}\n</table>"
            f"{'' if rows else '<p>No suggestions.</p>'}</body></html>\n"
        )
    if not rows:
        return f"{title}\n\nno suggestions"
    table = text_table(["kind", "hall", "subject"], [[s.kind, s.hall, s.subject] for s in rows])
    details = "\n\n".join(f"* {s.text}\n  evidence: {_evidence(s.evidence)}" for s in rows)
    return f"{title}\n\n{table}\n\n{details}"


def config_of(path: str | None) -> EngineConfig:
    try:
        return load_config(path) if path else EngineConfig()
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc


def resolve_day(store: Store, text: str | None, timezone: str) -> dt.date:
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise CommandError(f"--date {text!r}: use YYYY-MM-DD") from exc
    day = last_event_day(store, timezone)
    if day is None:
        raise CommandError("the store holds no events")
    return day


def run(args: argparse.Namespace) -> int:
    config = config_of(args.config)
    timezone = args.timezone or config.timezone
    try:
        ZoneInfo(timezone)
        settings = SuggestionSettings.from_config(config.raw)
        advice = AdviceSettings.from_config(config.raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    with store_from_args(args) as store:
        try:
            day = resolve_day(store, args.date, timezone)
            result = advise(store, day, timezone=timezone, settings=settings, advice=advice)
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
    text = render(result, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def add_common(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    add_store_options(p)
    p.add_argument("--format", choices=tuple(formats), default=formats[0])
    p.add_argument("--config", metavar="FILE", help="TOML configuration")
    p.add_argument("--timezone", metavar="TZ", help="IANA time zone of the halls")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "advise",
        help="suggestions with evidence: training, hall expansion, schedule changes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--date", metavar="YYYY-MM-DD", help="last day looked at (default: latest)")
    add_common(p, ("table", "json", "html"))
    p.set_defaults(func=run)
