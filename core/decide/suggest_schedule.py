"""The schedule rule of :mod:`hallkpi.core.decide.suggest`: recurring peaks.

The same weekday and slot (half hour) had a mean window pressure >=
``schedule_pressure`` in at least ``schedule_min_weeks`` of the weeks looked at, and it
stands out from the hall's usual pressure (>= ``schedule_peak_ratio`` times its
business-hours median). Adjacent slots of a weekday make one suggestion, with the
windows Erlang C wants for the slot's arrivals (the ``[advice]`` target) against those
open on average.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from statistics import median
from typing import Any

from hallkpi.core.decide.advice import AdviceSettings
from hallkpi.core.decide.erlang import servers_needed
from hallkpi.core.decide.suggest import (
    WEEKDAYS,
    Bucket,
    SlotArrivals,
    Suggestion,
    SuggestionSettings,
    business_buckets,
)


def _week(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def schedule(
    buckets: Iterable[Bucket],
    arrivals: Iterable[SlotArrivals],
    handle_s: Mapping[str, float],
    s: SuggestionSettings,
    advice: AdviceSettings | None = None,
) -> list[Suggestion]:
    """Recurring peaks; ``handle_s`` is each hall's mean window time per ticket."""
    a = advice or AdviceSettings()
    rows = business_buckets(buckets, s)
    # (hall, weekday, slot) -> week -> pressures
    cells: dict[tuple[str, int, int], dict[dt.date, list[Bucket]]] = defaultdict(
        lambda: defaultdict(list)
    )
    usual: dict[str, list[float]] = defaultdict(list)
    for b in rows:
        minute = (b.start.hour * 60 + b.start.minute) // s.slot_minutes * s.slot_minutes
        cells[(b.hall, b.start.weekday(), minute)][_week(b.start.date())].append(b)
        usual[b.hall].append(b.pressure)
    issued: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for r in arrivals:
        issued[(r.hall, r.day.weekday(), r.minute)].append(r.issued)
    peaks: dict[tuple[str, int], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for (hall, weekday, minute), weeks in cells.items():
        typical = median(usual[hall])
        means = {w: sum(b.pressure for b in bs) / len(bs) for w, bs in weeks.items()}
        high = [w for w, m in means.items() if m >= s.schedule_pressure]
        mean = sum(means.values()) / len(means)
        if len(high) < s.schedule_min_weeks or mean < s.schedule_peak_ratio * typical:
            continue
        counts = issued.get((hall, weekday, minute), [])
        per_h = (sum(counts) / len(weeks)) * 60 / s.slot_minutes if counts else 0.0
        open_mean = sum(b.open_windows for bs in weeks.values() for b in bs) / sum(
            len(bs) for bs in weeks.values()
        )
        peaks[(hall, weekday)].append(
            (
                minute,
                {
                    "weeks_high": len(high),
                    "weeks": len(weeks),
                    "pressure": mean,
                    "typical": typical,
                    "arrivals_per_h": per_h,
                    "open": open_mean,
                },
            )
        )
    out = []
    for (hall, weekday), slots in sorted(peaks.items()):
        slots.sort()
        runs: list[list[tuple[int, dict[str, Any]]]] = []
        for slot in slots:
            if runs and slot[0] == runs[-1][-1][0] + s.slot_minutes:
                runs[-1].append(slot)
            else:
                runs.append([slot])
        for run in runs:
            out.append(
                _schedule_suggestion(hall, weekday, run=run, handle=handle_s.get(hall), s=s, a=a)
            )
    return out


def _schedule_suggestion(
    hall: str,
    weekday: int,
    *,
    run: Sequence[tuple[int, Mapping[str, Any]]],
    handle: float | None,
    s: SuggestionSettings,
    a: AdviceSettings,
) -> Suggestion:
    first, last = run[0][0], run[-1][0] + s.slot_minutes
    figures = [f for _, f in run]
    peak_rate = max(f["arrivals_per_h"] for f in figures)
    open_mean = sum(f["open"] for f in figures) / len(figures)
    handle_s = (handle or a.default_handle_s) + a.overhead_s
    needed = servers_needed(
        peak_rate, handle_s, target_wait_s=a.target_wait_s, target_level=a.target_level
    )
    more = max(needed - math.floor(open_mean), 0)
    pressure = sum(f["pressure"] for f in figures) / len(figures)
    weeks_high = min(f["weeks_high"] for f in figures)
    weeks = max(f["weeks"] for f in figures)
    subject = f"{WEEKDAYS[weekday]} {_clock(first)}-{_clock(last)}"
    return Suggestion(
        "schedule",
        hall,
        subject,
        f"{hall}: schedule more windows on {WEEKDAYS[weekday]}s {_clock(first)}-"
        f"{_clock(last)}: window pressure >= {s.schedule_pressure:g} in {weeks_high} of "
        f"{weeks} weeks (mean {pressure:.1f} vs {figures[0]['typical']:.1f} usually); "
        f"{peak_rate:.0f} arrivals/h, {open_mean:.1f} windows open, {needed} needed"
        + (f": {more} more" if more else ""),
        {
            "weekday": WEEKDAYS[weekday],
            "start": _clock(first),
            "end": _clock(last),
            "weeks_high": weeks_high,
            "weeks": weeks,
            "pressure_mean": round(pressure, 3),
            "pressure_typical": round(figures[0]["typical"], 3),
            "arrivals_per_h": round(peak_rate, 1),
            "open_mean": round(open_mean, 2),
            "handle_s": round(handle_s, 1),
            "windows_needed": needed,
            "windows_more": more,
        },
    )
