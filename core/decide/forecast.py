"""Arrival forecasts per half hour and the windows they need: the staffing plan.

The forecast of a hall's arrivals in one slot (weekday x half hour) of a coming week is
a **seasonal profile** -- the mean count of that weekday and slot over the last
``history_weeks`` weeks -- times a **recent level**: the arrivals of the last
``level_weeks`` weeks over what the profile expected for them (clipped to
``[level_min, level_max]``), so a hall that got busier lately is planned busier.

:func:`backtest` holds out the last week of the history, forecasts it from the weeks
before, and reports the error per slot (MAE, WAPE = sum |error| / sum actual, bias),
next to the naive forecast "same slot last week".

:func:`plan` turns the forecast into windows per slot with Erlang C at the target of
``[advice]`` (``servers_needed`` with the slot's arrival rate and the hall's mean
handle time plus ``overhead_s``). Settings from ``[schedule]``::

    [schedule]
    history_weeks = 8
    level_weeks = 2
    level_min = 0.5
    level_max = 2.0
    slot_minutes = 30
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hallkpi.core.decide.advice import AdviceSettings, section_settings, service_level
from hallkpi.core.decide.erlang import servers_needed
from hallkpi.core.errors import ConfigError

Counts = Mapping[dt.date, Mapping[int, int]]
"""Arrivals of one hall: local day -> slot start (minutes after midnight) -> count.
A day of the history that is absent counts as a day with no arrivals."""
Profile = dict[tuple[int, int], float]
"""(weekday 0 = Monday, slot start minute) -> expected arrivals."""


@dataclass(frozen=True)
class ForecastSettings:
    history_weeks: int = 8
    level_weeks: int = 2
    level_min: float = 0.5
    level_max: float = 2.0
    slot_minutes: int = 30

    def __post_init__(self) -> None:
        if self.history_weeks < 1 or not 0 <= self.level_weeks <= self.history_weeks:
            raise ConfigError("schedule: need history_weeks >= 1 and 0 <= level_weeks <= it")
        if not 0 < self.level_min <= 1 <= self.level_max:
            raise ConfigError("schedule: need 0 < level_min <= 1 <= level_max")
        if self.slot_minutes < 1 or 1440 % self.slot_minutes:
            raise ConfigError("schedule.slot_minutes must divide a day (e.g. 30)")

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> ForecastSettings:
        return section_settings(cls, raw, "schedule")


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def parse_iso_week(text: str) -> dt.date:
    """``2026-W49`` -> the Monday of that ISO week."""
    try:
        year, week = text.upper().split("-W")
        return dt.date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise ConfigError(f"not an ISO week: {text!r} (e.g. 2026-W49)") from None


def _weeks_before(start: dt.date, n: int) -> list[dt.date]:
    return [start - dt.timedelta(days=7 * k) for k in range(n, 0, -1)]


def _slots(counts: Counts) -> set[int]:
    return {m for day in counts.values() for m in day}


def seasonal_profile(counts: Counts, weeks: Sequence[dt.date], slots: set[int]) -> Profile:
    """Mean count of each weekday and slot over ``weeks`` (their Mondays)."""
    out: Profile = {}
    for wd in range(7):
        for m in slots:
            total = sum(counts.get(w + dt.timedelta(days=wd), {}).get(m, 0) for w in weeks)
            out[(wd, m)] = total / len(weeks)
    return out


@dataclass(frozen=True)
class Forecast:
    week: dt.date  # Monday of the forecast week
    profile: Profile  # seasonal profile, before the level
    level: float
    values: Profile  # the forecast: profile x level

    def expected(self, day: dt.date, minute: int) -> float:
        return self.values.get((day.weekday(), minute), 0.0)


def forecast(counts: Counts, week: dt.date, settings: ForecastSettings | None = None) -> Forecast:
    """The forecast of the ISO week starting ``week`` from the history before it (only
    whole weeks before ``week`` are used; at most ``history_weeks``)."""
    s = settings or ForecastSettings()
    known = [d for d in counts if d < week]
    if not known:
        return Forecast(week, {}, 1.0, {})
    first = week_start(min(known))
    available = (week - first).days // 7
    weeks = _weeks_before(week, max(1, min(s.history_weeks, available)))
    slots = _slots(counts)
    profile = seasonal_profile(counts, weeks, slots)
    level = 1.0
    recent = weeks[-s.level_weeks :] if s.level_weeks else []
    if recent and len(weeks) > len(recent):
        actual = sum(
            counts.get(w + dt.timedelta(days=wd), {}).get(m, 0)
            for w in recent
            for wd in range(7)
            for m in slots
        )
        expected = sum(profile.values()) * len(recent)
        if expected > 0:
            level = min(max(actual / expected, s.level_min), s.level_max)
    return Forecast(week, profile, level, {k: v * level for k, v in profile.items()})


@dataclass(frozen=True)
class Backtest:
    week: dt.date  # the held-out week
    slots: int  # slots compared (with a forecast or an arrival)
    actual: int
    mae: float  # mean absolute error per slot, arrivals
    wape: float  # sum |error| / sum actual
    bias: float  # sum error / sum actual
    naive_wape: float  # the same for "same slot last week"


def backtest(
    counts: Counts, settings: ForecastSettings | None = None, *, week: dt.date | None = None
) -> Backtest | None:
    """Forecast the week starting ``week`` (default: the week of the last day with
    arrivals) from the weeks before it and compare; None without a week before it."""
    s = settings or ForecastSettings()
    if not counts:
        return None
    held = week if week is not None else week_start(max(counts))
    if held - week_start(min(counts)) < dt.timedelta(days=7):
        return None
    f = forecast(counts, held, s)
    errors, naive, actual = [], [], 0
    for wd in range(7):
        day = held + dt.timedelta(days=wd)
        before = day - dt.timedelta(days=7)
        for m in _slots(counts):
            a = counts.get(day, {}).get(m, 0)
            p = f.expected(day, m)
            if a == 0 and p == 0:
                continue
            errors.append(p - a)
            naive.append(counts.get(before, {}).get(m, 0) - a)
            actual += a
    if not errors:
        return None
    denominator = max(actual, 1)
    return Backtest(
        held,
        len(errors),
        actual,
        sum(abs(e) for e in errors) / len(errors),
        sum(abs(e) for e in errors) / denominator,
        sum(errors) / denominator,
        sum(abs(e) for e in naive) / denominator,
    )


@dataclass(frozen=True)
class PlanRow:
    hall: str
    day: dt.date
    start: int  # minutes after local midnight
    end: int
    arrivals: float  # forecast arrivals in the slot
    arrivals_per_h: float
    handle_s: float
    windows: int
    service_level: float  # predicted, with those windows

    @staticmethod
    def clock(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"


def plan(
    hall: str,
    f: Forecast,
    handle_s: float,
    advice: AdviceSettings | None = None,
    slot_minutes: int = 30,
) -> list[PlanRow]:
    """Windows needed per slot of the forecast week at the ``[advice]`` target."""
    a = advice or AdviceSettings()
    cycle = handle_s + a.overhead_s
    rows = []
    slots = sorted({m for _, m in f.values})
    for wd in range(7):
        day = f.week + dt.timedelta(days=wd)
        for m in slots:
            n = f.values.get((wd, m), 0.0)
            if n <= 0:
                continue
            per_h = n * 60.0 / slot_minutes
            windows = servers_needed(
                per_h, cycle, target_wait_s=a.target_wait_s, target_level=a.target_level
            )
            level = service_level(windows, per_h, cycle, a.target_wait_s)
            rows.append(PlanRow(hall, day, m, m + slot_minutes, n, per_h, cycle, windows, level))
    return rows
