"""Suggestions with evidence: the rules over plain figures from the store.

Three rules, each giving :class:`Suggestion` objects that carry their numbers:

* **training**: a staff member's median handle time for a service type is at least
  ``training_handle_ratio`` (1.5) times the hall's median for that service over
  ``training_days`` (14) with at least ``training_min_cases`` (20) cases, and a sign
  test says it is no accident (the share of their cases above the hall median, one-sided
  binomial p <= ``training_max_p``); or their share of dissatisfied ratings (1-2) is at
  least ``training_dissatisfied_ratio`` (2) times the hall's, with at least
  ``training_min_ratings`` ratings and binomial p <= ``training_max_p``.
* **expansion** (or renovation): in at least ``expansion_share`` (30 %) of the hall's
  business hours over ``expansion_days`` (28), window open rate >= ``expansion_open_rate``
  (95 %) *and* window pressure >= ``expansion_pressure``: every window is open and the
  queue still stands. Business hours are the snapshot buckets between
  ``business_hours`` (local) in which the hall had a window open or paused.
* **schedule**: the same weekday and half hour had a mean window pressure >=
  ``schedule_pressure`` in at least ``schedule_min_weeks`` of the last
  ``schedule_weeks`` weeks, and stands out from the hall's usual pressure (at least
  ``schedule_peak_ratio`` times its business-hours median). Adjacent half hours are one
  suggestion, with the windows Erlang C wants for the slot's arrivals (target of
  ``[advice]``) against those open on average.

The schedule rule lives in :mod:`hallkpi.core.decide.suggest_schedule`. Settings from
``[suggestions]`` (defaults above; ``business_hours = ["08:30", "17:30"]``,
``business_days = [1, 2, 3, 4, 5]``: Monday to Friday).
The SQL that gathers the figures is :mod:`hallkpi.ingest.decide.advise`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hallkpi.core.decide.advice import section_settings
from hallkpi.core.errors import ConfigError

SuggestionKind = Literal["training", "expansion", "schedule"]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class SuggestionSettings:
    training_days: int = 14
    training_min_cases: int = 20
    training_handle_ratio: float = 1.5
    training_min_ratings: int = 20
    training_dissatisfied_ratio: float = 2.0
    training_max_p: float = 0.01
    expansion_days: int = 28
    expansion_open_rate: float = 0.95
    expansion_pressure: float = 3.0
    expansion_share: float = 0.30
    expansion_min_days: int = 10
    schedule_weeks: int = 4
    schedule_min_weeks: int = 3
    schedule_pressure: float = 3.0
    schedule_peak_ratio: float = 1.5
    slot_minutes: int = 30
    bucket_s: int = 300
    business_hours: tuple[str, ...] = ("08:30", "17:30")
    business_days: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekdays: Monday 1 .. Sunday 7

    def __post_init__(self) -> None:
        for name in ("training_days", "expansion_days", "schedule_weeks", "bucket_s"):
            if getattr(self, name) < 1:
                raise ConfigError(f"suggestions.{name} must be >= 1")
        if not 1 <= self.schedule_min_weeks <= self.schedule_weeks:
            raise ConfigError("suggestions.schedule_min_weeks must be 1..schedule_weeks")
        if self.slot_minutes < 1 or 1440 % self.slot_minutes:
            raise ConfigError("suggestions.slot_minutes must divide a day (e.g. 30)")
        if not 0 < self.training_max_p <= 1 or not 0 < self.expansion_share <= 1:
            raise ConfigError("suggestions: training_max_p and expansion_share are in (0, 1]")
        self.hours()
        if not self.business_days or not set(self.business_days) <= set(range(1, 8)):
            raise ConfigError("suggestions.business_days must be ISO weekdays 1 (Monday) .. 7")

    def hours(self) -> tuple[int, int]:
        """Business hours as minutes after local midnight ``[start, end)``."""
        try:
            start, end = (dt.time.fromisoformat(t) for t in self.business_hours)
        except (TypeError, ValueError):
            raise ConfigError('suggestions.business_hours must be ["HH:MM", "HH:MM"]') from None
        a, b = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        if not a < b:
            raise ConfigError("suggestions.business_hours: the start must be before the end")
        return a, b

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> SuggestionSettings:
        return section_settings(cls, raw, "suggestions")


@dataclass(frozen=True)
class Suggestion:
    kind: SuggestionKind
    hall: str
    subject: str
    text: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "hall": self.hall,
            "subject": self.subject,
            "text": self.text,
            "evidence": dict(self.evidence),
        }


# --- the figures the rules read -------------------------------------------------------


@dataclass(frozen=True)
class HandleStats:
    """One staff member's handle times of one service type in one hall."""

    hall: str
    staff: str
    service: str
    cases: int
    median_s: float
    mean_s: float
    above_hall_median: int  # cases longer than the hall's median of the service
    hall_median_s: float
    hall_cases: int


@dataclass(frozen=True)
class RatingStats:
    hall: str
    staff: str
    ratings: int
    dissatisfied: int
    hall_ratings: int
    hall_dissatisfied: int


@dataclass(frozen=True)
class Bucket:
    """A hall's gauges averaged over one snapshot bucket (``start`` in local time)."""

    hall: str
    start: dt.datetime
    open_rate: float | None
    pressure: float
    open_windows: float
    paused_windows: float


@dataclass(frozen=True)
class SlotArrivals:
    """Tickets issued in one slot of one local day."""

    hall: str
    day: dt.date
    minute: int  # slot start, minutes after local midnight
    issued: int


# --- statistics -------------------------------------------------------------------------


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (stable for large n)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        for i in range(k, n + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


# --- rules ---------------------------------------------------------------------------------


def training(
    handles: Iterable[HandleStats], ratings: Iterable[RatingStats], s: SuggestionSettings
) -> list[Suggestion]:
    out = []
    for h in handles:
        if h.cases < s.training_min_cases or not h.hall_median_s > 0:
            continue
        ratio = h.median_s / h.hall_median_s
        p = binomial_sf(h.above_hall_median, h.cases, 0.5)
        if ratio >= s.training_handle_ratio and p <= s.training_max_p:
            out.append(
                Suggestion(
                    "training",
                    h.hall,
                    f"{h.staff} / {h.service}",
                    f"{h.hall}: train {h.staff} on {h.service}: median handle time "
                    f"{h.median_s:.0f} s vs the hall's {h.hall_median_s:.0f} s "
                    f"({ratio:.2f}x over {h.cases} cases, {h.above_hall_median} of them "
                    f"longer than the hall median)",
                    {
                        "rule": "handle_time",
                        "staff": h.staff,
                        "service": h.service,
                        "cases": h.cases,
                        "median_s": round(h.median_s, 1),
                        "mean_s": round(h.mean_s, 1),
                        "hall_median_s": round(h.hall_median_s, 1),
                        "hall_cases": h.hall_cases,
                        "ratio": round(ratio, 3),
                        "above_hall_median": h.above_hall_median,
                        "p_value": p,
                        "days": s.training_days,
                    },
                )
            )
    for r in ratings:
        if r.ratings < s.training_min_ratings or r.hall_ratings == 0:
            continue
        share = r.dissatisfied / r.ratings
        hall_share = r.hall_dissatisfied / r.hall_ratings
        base = max(hall_share, 0.01)
        p = binomial_sf(r.dissatisfied, r.ratings, base)
        if share >= s.training_dissatisfied_ratio * base and p <= s.training_max_p:
            out.append(
                Suggestion(
                    "training",
                    r.hall,
                    f"{r.staff} / satisfaction",
                    f"{r.hall}: train {r.staff} on service manner: {share:.0%} of "
                    f"{r.ratings} ratings dissatisfied vs the hall's {hall_share:.0%} "
                    f"({share / base:.1f}x, p = {p:.2g})",
                    {
                        "rule": "dissatisfied",
                        "staff": r.staff,
                        "ratings": r.ratings,
                        "dissatisfied": r.dissatisfied,
                        "share": round(share, 4),
                        "hall_share": round(hall_share, 4),
                        "ratio": round(share / base, 3),
                        "p_value": p,
                        "days": s.training_days,
                    },
                )
            )
    return out


def business_buckets(buckets: Iterable[Bucket], s: SuggestionSettings) -> list[Bucket]:
    """The buckets inside business hours and days in which the hall had a window open or
    paused."""
    start, end = s.hours()
    days = set(s.business_days)
    return [
        b
        for b in buckets
        if start <= b.start.hour * 60 + b.start.minute < end
        and b.start.isoweekday() in days
        and b.open_windows + b.paused_windows > 0
    ]


def expansion(buckets: Iterable[Bucket], s: SuggestionSettings) -> list[Suggestion]:
    by_hall: dict[str, list[Bucket]] = defaultdict(list)
    for b in business_buckets(buckets, s):
        by_hall[b.hall].append(b)
    out = []
    for hall, rows in sorted(by_hall.items()):
        days = {b.start.date() for b in rows}
        if len(days) < s.expansion_min_days:
            continue
        full = [b.open_rate is not None and b.open_rate >= s.expansion_open_rate for b in rows]
        high = [b.pressure >= s.expansion_pressure for b in rows]
        both = sum(f and h for f, h in zip(full, high, strict=True))
        share = both / len(rows)
        if share < s.expansion_share:
            continue
        rates = [b.open_rate for b in rows if b.open_rate is not None]
        out.append(
            Suggestion(
                "expansion",
                hall,
                hall,
                f"{hall}: expand the hall or renovate for more windows: all windows open "
                f"(>= {s.expansion_open_rate:.0%}) with window pressure >= "
                f"{s.expansion_pressure:g} during {share:.0%} of business hours over "
                f"{len(days)} days (threshold {s.expansion_share:.0%})",
                {
                    "share": round(share, 4),
                    "share_pressure_high": round(sum(high) / len(rows), 4),
                    "share_all_open": round(sum(full) / len(rows), 4),
                    "open_rate_mean": round(sum(rates) / len(rates), 4) if rates else None,
                    "pressure_mean": round(sum(b.pressure for b in rows) / len(rows), 3),
                    "business_hours": round(len(rows) * s.bucket_s / 3600, 1),
                    "days": len(days),
                    "first_day": min(days).isoformat(),
                    "last_day": max(days).isoformat(),
                    "open_rate_threshold": s.expansion_open_rate,
                    "pressure_threshold": s.expansion_pressure,
                    "share_threshold": s.expansion_share,
                },
            )
        )
    return out
