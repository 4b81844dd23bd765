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
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hallkpi.core.decide.advice import AdviceSettings
from hallkpi.core.decide.suggest import (
    Suggestion,
    SuggestionSettings,
    expansion,
    training,
)
from hallkpi.core.decide.suggest_schedule import schedule
from hallkpi.core.errors import CommandError
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.ingest.decide.history import (
    buckets,
    day_start_ms,
    hall_handle_means,
    handle_stats,
    rating_stats,
    slot_arrivals,
)
from hallkpi.ingest.decide.options import add_common, config_of, resolve_day
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.report.output import json_text, text_table
from hallkpi.ingest.store.cli_options import store_from_args
from hallkpi.ingest.store.connection import Store


@dataclass(frozen=True)
class AdviseResult:
    day: dt.date
    timezone: str
    suggestions: list[Suggestion]


def advise(
    store: Store,
    day: dt.date,
    *,
    timezone: str = DEFAULT_TIMEZONE,
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
