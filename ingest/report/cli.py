"""The report room's commands: ``hallkpi trends`` (:mod:`hallkpi.ingest.report.trends`)
and ``hallkpi report staff`` (:mod:`hallkpi.ingest.report.staff`). Argument parsing and
the store options live here, so the report modules stay free of command glue."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hallkpi.core.config import EngineConfig, load_config
from hallkpi.core.errors import CommandError
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.ingest.errors import StoreConfigError, StoreError
from hallkpi.ingest.report import staff, trends
from hallkpi.ingest.report.plot import Series, write_plot
from hallkpi.ingest.store.cli_options import add_store_options, store_from_args

# --- hallkpi trends -------------------------------------------------------------------


def _period(args: argparse.Namespace, tz: str) -> tuple[int, int]:
    if args.until:
        try:
            end = int(args.until) if args.until.isdigit() else _local_ms(args.until, tz)
        except ValueError:
            raise CommandError(f"--until {args.until!r}: give MS or YYYY-MM-DD[THH:MM]") from None
    else:
        end = int(time.time() * 1000)
    return end - args.days * 86_400_000, end


def _local_ms(text: str, tz: str) -> int:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return round(moment.timestamp() * 1000)


def run_trends(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else EngineConfig()
        tz = args.timezone or config.timezone
        ZoneInfo(tz)
        start, end = _period(args, tz)
        req = trends.TrendRequest(
            kpi=args.kpi,
            start_ms=start,
            end_ms=end,
            bucket_s=trends.parse_duration(args.bucket),
            halls=tuple(args.hall or ()),
            by_hall=args.by_hall,
            source=args.source,
            agg=args.agg,
            timezone=tz,
            short_abandon_s=config.short_abandon_s,
            service_level_s=config.service_level_s,
        )
        req.resolved_source()
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise CommandError(str(exc)) from exc
    with store_from_args(args) as store:
        try:
            result = trends.trend(store, req)
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
    print(trends.render(result, args.format))
    if args.plot:
        series = [Series(s.label, s.times, s.values, s.peak, s.valley) for s in result.series]
        try:
            write_plot(args.plot, f"{req.kpi} ({result.source})", series, tz)
        except StoreConfigError as exc:
            raise CommandError(str(exc)) from exc
    return 0


def register_trends(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "trends",
        help="history of a KPI in time buckets, with its peak and valley",
        description=trends.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_store_options(p)
    p.add_argument("--kpi", required=True, help="a KPIS.md name, e.g. wait_mean_s or waiting")
    p.add_argument("--hall", action="append", metavar="H", help="only this hall (repeatable)")
    p.add_argument("--by-hall", action="store_true", help="one curve per hall")
    p.add_argument("--days", type=int, default=30, help="days back from --until (default 30)")
    p.add_argument("--until", metavar="WHEN", help="end: MS or YYYY-MM-DD[THH:MM] (default now)")
    p.add_argument("--bucket", default="1h", help="bucket length: 15m, 1h, 1d (default 1h)")
    p.add_argument("--source", choices=("auto", "events", "kpis"), default="auto")
    p.add_argument(
        "--agg", choices=("avg", "max", "min", "last"), default="avg", help="per bucket, for gauges"
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--plot", metavar="FILE", help="also draw FILE.html (or .svg, .png)")
    p.add_argument("--config", metavar="FILE", help="TOML configuration (timezone, call limits)")
    p.add_argument("--timezone", metavar="TZ", help="IANA time zone of the buckets")
    p.set_defaults(func=run_trends)


# --- hallkpi report staff -------------------------------------------------------------


def run_staff(args: argparse.Namespace) -> int:
    try:
        config = staff.ReportConfig.from_toml(args.config)
        tz = args.timezone or _config_timezone(args.config)
        zone = ZoneInfo(tz)
        day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(zone).date()
        start, end = staff.period_bounds(args.period, day, tz)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise CommandError(str(exc)) from exc
    with store_from_args(args) as store:
        try:
            rows = staff.staff_report(store, start, end, config)
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
    title = f"staff report, {args.period} of {day.isoformat()} ({tz})"
    text = staff.render(rows, args.format, title)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _config_timezone(path: str | None) -> str:
    if path is None:
        return DEFAULT_TIMEZONE
    return load_config(path).timezone


def register_report(subparsers: Any) -> None:
    p = subparsers.add_parser("report", help="reports from the store (staff)")
    sub = p.add_subparsers(dest="report", metavar="REPORT")
    sub.required = True
    s = sub.add_parser(
        "staff",
        help="per-staff figures, weighted score and ranks of a day, week or month",
        description=staff.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_store_options(s)
    s.add_argument("--period", choices=("day", "week", "month"), default="day")
    s.add_argument("--date", metavar="YYYY-MM-DD", help="a day of the period (default today)")
    s.add_argument("--format", choices=("table", "csv", "json", "html"), default="table")
    s.add_argument("--config", metavar="FILE", help="TOML configuration ([report.weights])")
    s.add_argument("--timezone", metavar="TZ", help="IANA time zone of the halls")
    s.set_defaults(func=run_staff)
