"""``hallkpi schedule``: a staffing plan for a coming week from the store's history.

Per hall: arrivals per half hour forecast from the weeks before ``--week``
(:mod:`hallkpi.core.decide.forecast`: seasonal profile by weekday and half hour, corrected by
the recent level), the forecast's backtest error on the last week of history, and the
windows needed per half hour through Erlang C at the ``[advice]`` target::

    hallkpi schedule --store chdb:///var/lib/hallkpi --week 2026-W49 --format csv
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hallkpi.core.decide.advice import AdviceSettings
from hallkpi.core.decide.forecast import (
    Backtest,
    Counts,
    Forecast,
    ForecastSettings,
    PlanRow,
    backtest,
    forecast,
    parse_iso_week,
    plan,
)
from hallkpi.core.errors import CommandError
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.ingest.decide.history import day_start_ms, hall_handle_means, slot_arrivals
from hallkpi.ingest.decide.options import add_common, config_of
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.report.output import csv_table
from hallkpi.ingest.store.cli_options import store_from_args
from hallkpi.ingest.store.connection import Store

WEEKDAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class HallPlan:
    hall: str
    forecast: Forecast
    backtest: Backtest | None
    handle_s: float
    rows: list[PlanRow]


def history_counts(
    store: Store, week: dt.date, s: ForecastSettings, timezone: str
) -> dict[str, Counts]:
    """Arrivals per hall, day and slot of the ``history_weeks`` weeks before ``week``."""
    lo = day_start_ms(week - dt.timedelta(days=7 * s.history_weeks), timezone)
    hi = day_start_ms(week, timezone)
    out: dict[str, dict[dt.date, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for r in slot_arrivals(store, lo, hi, s.slot_minutes, timezone):
        out[r.hall][r.day][r.minute] = r.issued
    return {h: dict(days) for h, days in out.items()}


def schedule_week(
    store: Store,
    week: dt.date,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    settings: ForecastSettings | None = None,
    advice: AdviceSettings | None = None,
) -> list[HallPlan]:
    """The plan of every hall with arrivals in the history before ``week``."""
    s = settings or ForecastSettings()
    a = advice or AdviceSettings()
    counts = history_counts(store, week, s, timezone)
    lo = day_start_ms(week - dt.timedelta(days=7 * s.history_weeks), timezone)
    handles = hall_handle_means(store, lo, day_start_ms(week, timezone))
    out = []
    for hall in sorted(counts):
        f = forecast(counts[hall], week, s)
        handle = handles.get(hall, a.default_handle_s)
        rows = plan(hall, f, handle, a, s.slot_minutes)
        held = backtest(counts[hall], s, week=week - dt.timedelta(days=7))
        out.append(HallPlan(hall, f, held, handle, rows))
    return out


HEADERS = [
    "hall",
    "date",
    "weekday",
    "start",
    "end",
    "arrivals",
    "arrivals_per_h",
    "handle_s",
    "windows",
    "service_level",
]


def csv_text(plans: Sequence[HallPlan]) -> str:
    rows = [
        [
            r.hall,
            r.day.isoformat(),
            WEEKDAY[r.day.weekday()],
            r.clock(r.start),
            r.clock(r.end),
            round(r.arrivals, 2),
            round(r.arrivals_per_h, 1),
            round(r.handle_s, 1),
            r.windows,
            round(r.service_level, 3),
        ]
        for p in plans
        for r in p.rows
    ]
    return csv_table(HEADERS, rows)


def backtest_line(p: HallPlan) -> str:
    b = p.backtest
    if b is None:
        return f"{p.hall}: no backtest (less than two weeks of history)"
    return (
        f"{p.hall}: level x{p.forecast.level:.2f}; backtest on the week of "
        f"{b.week.isoformat()}: MAE {b.mae:.2f} arrivals per slot, WAPE {b.wape:.1%}, "
        f"bias {b.bias:+.1%} (same slot last week: WAPE {b.naive_wape:.1%})"
    )


def html_text(plans: Sequence[HallPlan], week: dt.date) -> str:
    esc = html.escape
    title = f"staffing plan, week of {week.isoformat()}"
    parts = [
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{esc(title)}</title>\n"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "small{color:#777}</style></head>\n"
        f"<body><h1>{esc(title)}</h1>\n<p>Windows needed per half hour "
        "(forecast arrivals in small print).</p>"
    ]
    for p in plans:
        cells = {(r.day.weekday(), r.start): r for r in p.rows}
        slots = sorted({r.start for r in p.rows})
        days = sorted({r.day.weekday() for r in p.rows})
        head = "".join(f"<th>{WEEKDAY[d]}</th>" for d in days)
        body = []
        for m in slots:
            tds = []
            for d in days:
                r = cells.get((d, m))
                tds.append(
                    f"<td>{r.windows} <small>{r.arrivals:.0f}</small></td>" if r else "<td></td>"
                )
            body.append(f"<tr><th>{PlanRow.clock(m)}</th>{''.join(tds)}</tr>")
        parts.append(
            f"<h2>{esc(p.hall)}</h2>\n<p>{esc(backtest_line(p))}</p>\n"
            f"<table><tr><th></th>{head}</tr>\n" + "\n".join(body) + "\n</table>"
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def run(args: argparse.Namespace) -> int:
    config = config_of(args.config)
    timezone = args.timezone or config.timezone
    try:
        ZoneInfo(timezone)
        week = parse_iso_week(args.week)
        settings = ForecastSettings.from_config(config.raw)
        if args.weeks:
            settings = ForecastSettings(
                args.weeks,
                min(settings.level_weeks, args.weeks),
                settings.level_min,
                settings.level_max,
                settings.slot_minutes,
            )
        advice = AdviceSettings.from_config(config.raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    with store_from_args(args) as store:
        try:
            plans = schedule_week(store, week, timezone=timezone, settings=settings, advice=advice)
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
    if not plans:
        raise CommandError(f"no arrivals in the {settings.history_weeks} weeks before {week}")
    for p in plans:
        print(backtest_line(p), file=sys.stderr)
    text = html_text(plans, week) if args.format == "html" else csv_text(plans)
    sys.stdout.write(text)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "schedule",
        help="a staffing plan for a week: arrivals forecast per half hour, windows needed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--week", required=True, metavar="YYYY-Www", help="ISO week, e.g. 2026-W49")
    p.add_argument("--weeks", type=int, metavar="N", help="weeks of history (default 8)")
    add_common(p, ("csv", "html"))
    p.set_defaults(func=run)
