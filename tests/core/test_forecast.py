"""Forecasting arrivals per half hour and the plan: synthetic seasonal data with a planted
profile and a planted change of level; the forecast recovers them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hallkpi.core.decide.advice import AdviceSettings
from hallkpi.core.decide.erlang import servers_needed
from hallkpi.core.decide.forecast import (
    ForecastSettings,
    backtest,
    forecast,
    parse_iso_week,
    plan,
    week_start,
)
from hallkpi.core.errors import ConfigError

FIRST = dt.date(2026, 10, 5)  # a Monday
SLOTS = range(8 * 60 + 30, 17 * 60, 30)
WEEKDAY_LEVEL = (1.3, 1.0, 1.0, 0.9, 0.8, 0.0, 0.0)  # closed at weekends


def planted(minute: int, weekday: int) -> float:
    """Expected arrivals per half hour: a morning and an afternoon peak."""
    hour = minute / 60
    shape = 8 + 30 * np.exp(-((hour - 10) ** 2) / 1.5) + 22 * np.exp(-((hour - 15) ** 2) / 1.2)
    return float(shape * WEEKDAY_LEVEL[weekday])


def synthetic(weeks: int, recent_level: float, seed: int = 3) -> dict[dt.date, dict[int, int]]:
    rng = np.random.default_rng(seed)
    out: dict[dt.date, dict[int, int]] = {}
    for d in range(7 * weeks):
        day = FIRST + dt.timedelta(days=d)
        level = recent_level if d >= 7 * (weeks - 2) else 1.0
        counts = {m: int(rng.poisson(planted(m, day.weekday()) * level)) for m in SLOTS}
        if any(counts.values()):
            out[day] = counts
    return out


def test_the_forecast_recovers_the_planted_profile_and_level() -> None:
    counts = synthetic(8, recent_level=1.2)
    week = FIRST + dt.timedelta(days=56)
    f = forecast(counts, week)
    # the profile is the mean of 8 weeks: (6 x 1 + 2 x 1.2) / 8 = 1.05 of the planted;
    # the recent level corrects it by 1.2 / 1.05
    assert f.level == pytest.approx(1.2 / 1.05, rel=0.03)
    errors = []
    for wd in range(5):
        want = [planted(m, wd) * 1.2 for m in SLOTS]
        got = [f.values[(wd, m)] for m in SLOTS]
        assert sum(got) == pytest.approx(sum(want), rel=0.05)
        assert abs(int(np.argmax(got)) - int(np.argmax(want))) <= 1  # the peak half hour
        errors += [abs(g - w) / w for g, w in zip(got, want, strict=True)]
    assert float(np.mean(errors)) < 0.10
    assert all(f.values.get((wd, m), 0) == 0 for wd in (5, 6) for m in SLOTS)
    assert f.expected(week, 10 * 60) == f.values[(0, 600)]


def test_without_a_change_of_level_the_level_is_one() -> None:
    f = forecast(synthetic(6, recent_level=1.0, seed=4), FIRST + dt.timedelta(days=42))
    assert f.level == pytest.approx(1.0, abs=0.04)
    flat = forecast(
        synthetic(6, 1.0, 4), FIRST + dt.timedelta(days=42), ForecastSettings(level_weeks=0)
    )
    assert flat.level == 1.0


def test_backtest_error_is_the_noise_and_beats_last_week() -> None:
    counts = synthetic(8, recent_level=1.0, seed=5)
    b = backtest(counts)
    assert b is not None and b.week == FIRST + dt.timedelta(days=49)
    expected = sum(planted(m, wd) for wd in range(7) for m in SLOTS)
    assert b.actual == pytest.approx(expected, rel=0.05)
    # Poisson noise of ~20 arrivals a slot is about 18 %; the naive forecast adds its own
    assert 0.08 < b.wape < 0.25 and abs(b.bias) < 0.05
    assert b.naive_wape > b.wape
    assert backtest({FIRST: {600: 3}}) is None


def test_the_plan_is_erlang_c_at_the_target() -> None:
    counts = synthetic(4, recent_level=1.0)
    week = FIRST + dt.timedelta(days=28)
    f = forecast(counts, week)
    advice = AdviceSettings(target_wait_s=600, target_level=0.8, overhead_s=60)
    rows = plan("yuhua", f, 300.0, advice)
    assert {r.day.weekday() for r in rows} == {0, 1, 2, 3, 4}
    for r in rows:
        per_h = f.expected(r.day, r.start) * 2
        assert r.arrivals_per_h == pytest.approx(per_h) and r.handle_s == 360
        assert r.windows == servers_needed(per_h, 360, target_wait_s=600, target_level=0.8)
        assert r.service_level >= 0.8 and r.end == r.start + 30
    monday = [r.windows for r in rows if r.day == week]
    tuesday = [r.windows for r in rows if r.day == week + dt.timedelta(days=1)]
    assert max(monday) > max(tuesday)  # Mondays are busier


def test_weeks() -> None:
    assert parse_iso_week("2026-W49") == dt.date(2026, 11, 30)
    assert week_start(dt.date(2026, 12, 3)) == dt.date(2026, 11, 30)
    with pytest.raises(ConfigError):
        parse_iso_week("2026-49")
    with pytest.raises(ConfigError):
        ForecastSettings(history_weeks=2, level_weeks=3)
    assert forecast({}, FIRST).values == {}
