"""The suggestion rules on hand-made figures: thresholds, significance, evidence."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hallkpi.core.decide.suggest import (
    Bucket,
    HandleStats,
    RatingStats,
    SlotArrivals,
    SuggestionSettings,
    binomial_sf,
    business_buckets,
    expansion,
    training,
)
from hallkpi.core.decide.suggest_schedule import schedule
from hallkpi.core.errors import ConfigError

S = SuggestionSettings()


def test_binomial_tail() -> None:
    assert binomial_sf(0, 10, 0.3) == 1.0 and binomial_sf(11, 10, 0.3) == 0.0
    assert binomial_sf(10, 10, 0.5) == pytest.approx(0.5**10)
    assert binomial_sf(8, 10, 0.5) == pytest.approx((45 + 10 + 1) / 1024)
    assert 0 < binomial_sf(900, 1000, 0.5) < 1e-100  # no overflow


def handle(staff: str, cases: int, median: float, above: int) -> HandleStats:
    return HandleStats("yuhua", staff, "tax_return", cases, median, median * 1.1, above, 500, 800)


def test_training_needs_a_slow_median_many_cases_and_significance() -> None:
    got = training(
        [
            handle("slow", 40, 800, 36),  # 1.6x, 36 of 40 above the median: train
            handle("few", 19, 900, 19),  # too few cases
            handle("mild", 200, 700, 110),  # 1.4x: below the ratio
            handle("lucky", 20, 760, 14),  # 1.52x but 14 of 20 above: p = 0.058
        ],
        [],
        S,
    )
    assert [g.subject for g in got] == ["slow / tax_return"]
    ev = got[0].evidence
    assert ev["ratio"] == 1.6 and ev["cases"] == 40 and ev["above_hall_median"] == 36
    assert ev["p_value"] == pytest.approx(binomial_sf(36, 40, 0.5))
    assert "800 s vs the hall's 500 s" in got[0].text


def test_training_on_dissatisfied_ratings() -> None:
    got = training(
        [],
        [
            RatingStats("gulou", "rude", 50, 12, 1000, 60),  # 24 % vs 6 %: 4x, p tiny
            RatingStats("gulou", "unlucky", 30, 4, 1000, 60),  # 13 % (2.2x) but p = 0.11
            RatingStats("gulou", "new", 10, 5, 1000, 60),  # too few ratings
        ],
        S,
    )
    assert [g.evidence["staff"] for g in got] == ["rude"]
    assert got[0].evidence["share"] == 0.24 and got[0].evidence["hall_share"] == 0.06
    assert got[0].evidence["ratio"] == 4.0


def bucket(hall: str, day: int, minute: int, rate: float | None, pressure: float) -> Bucket:
    start = dt.datetime(2026, 11, 2) + dt.timedelta(days=day, minutes=minute)
    return Bucket(hall, start, rate, pressure, 5.0, 0.0)


def test_expansion_share_of_business_hours() -> None:
    rows = []
    for day in range(28):
        for i, minute in enumerate(range(9 * 60, 17 * 60, 60)):  # 8 buckets a business day
            full = i < 3  # 3 of 8 = 37.5 % saturated
            rows.append(bucket("jianye", day, minute, 1.0 if full else 0.8, 5.0 if full else 1.0))
            rows.append(bucket("yuhua", day, minute, 1.0 if i < 2 else 0.8, 4.0))  # 25 %
        rows.append(bucket("jianye", day, 20 * 60, 1.0, 9.0))  # after hours: ignored
    got = expansion(rows, S)
    assert [g.hall for g in got] == ["jianye"]
    ev = got[0].evidence
    assert ev["share"] == 0.375 and ev["days"] == 20 and ev["business_hours"] == 13.3
    assert ev["first_day"] == "2026-11-02" and ev["last_day"] == "2026-11-27"
    assert len(business_buckets(rows, S)) == 2 * 20 * 8
    closed = [Bucket("x", b.start, b.open_rate, b.pressure, 0, 0) for b in rows[:50]]
    assert business_buckets(closed, S) == []


def test_recurring_peaks_become_one_suggestion_per_run_of_slots() -> None:
    rows, arrivals = [], []
    for week in range(4):
        for wd in range(5):
            day = week * 7 + wd
            date = dt.date(2026, 11, 2) + dt.timedelta(days=day)
            for minute in range(9 * 60, 17 * 60, 5):
                slot = minute // 30 * 30
                peak = wd == 0 and 9 * 60 <= slot < 10 * 60 + 30 and week != 2
                rows.append(bucket("qinhuai", day, minute, 0.9, 6.0 if peak else 0.8))
            for slot in range(9 * 60, 17 * 60, 30):
                rush = wd == 0 and 9 * 60 <= slot < 10 * 60 + 30
                arrivals.append(SlotArrivals("qinhuai", date, slot, 40 if rush else 10))
    got = schedule(rows, arrivals, {"qinhuai": 300.0}, S)
    assert [(g.subject, g.evidence["weeks_high"]) for g in got] == [("Monday 09:00-10:30", 3)]
    ev = got[0].evidence
    assert ev["arrivals_per_h"] == 80 and ev["open_mean"] == 5.0 and ev["weeks"] == 4
    assert ev["windows_needed"] > 5 and ev["windows_more"] == ev["windows_needed"] - 5
    assert math.isclose(ev["pressure_typical"], 0.8)


def test_settings() -> None:
    s = SuggestionSettings.from_config({"suggestions": {"business_hours": ["09:00", "17:00"]}})
    assert s.hours() == (540, 1020)
    for bad in (
        {"business_hours": ["17:00", "09:00"]},
        {"business_days": [0, 8]},
        {"schedule_min_weeks": 9},
        {"slot_minutes": 7},
        {"training_ratio": 2},
    ):
        with pytest.raises(ConfigError):
            SuggestionSettings.from_config({"suggestions": bad})
