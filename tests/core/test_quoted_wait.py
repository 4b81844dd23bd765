"""The quoted-wait predictor: its quantiles, what its per-hall state learns, the quote."""

from __future__ import annotations

import pytest
from hallkpi.core.decide.quoted_wait import (
    Z10,
    Z90,
    QuotedWaitSettings,
    WaitPredictor,
    WaitState,
    gamma_quantile,
    handle_from_status,
    quote,
)
from hallkpi.core.errors import ConfigError

T0 = 1795741200000


def test_gamma_quantiles_match_the_chi_square_tables() -> None:
    # Gamma(k, 1) = chi-square(2k) / 2; chi2(20): 12.443 (10 %), 28.412 (90 %)
    assert gamma_quantile(10, Z10) == pytest.approx(12.443 / 2, rel=0.005)
    assert gamma_quantile(10, Z90) == pytest.approx(28.412 / 2, rel=0.005)
    # chi2(4): 1.064 and 7.779
    assert gamma_quantile(2, Z10) == pytest.approx(1.064 / 2, rel=0.03)
    assert gamma_quantile(2, Z90) == pytest.approx(7.779 / 2, rel=0.01)
    assert gamma_quantile(0, Z90) == 0.0


def feed(
    state: WaitState, *, minutes: int, windows: int, cycle_s: int, cancel_every_s: int
) -> None:
    """A hall whose ``windows`` are always busy: a first call every cycle/windows seconds,
    a cancellation every ``cancel_every_s``; observed every 5 s."""
    for t in range(0, minutes * 60 + 51, 5):  # ends between two calls
        state.observe(
            T0 + t * 1000,
            called_today=t * windows // cycle_s,
            cancelled_today=t // cancel_every_s,
            waiting=20,
            open_windows=windows,
            tau_s=1800,
        )


def test_the_state_learns_the_cycle_time_and_the_walk_outs() -> None:
    s = WaitState()
    assert s.cycle_s(10) is None and s.leave_share(10) == 0.0
    feed(s, minutes=120, windows=4, cycle_s=400, cancel_every_s=400)
    # (within a few per cent: the calls are whole tickets, the weights favour the last)
    assert s.cycle_s(10) == pytest.approx(400, rel=0.04)
    assert s.leave_share(10) == pytest.approx(0.25 / 1.25, rel=0.1)
    # a new day: the today counters restart; that interval teaches nothing
    before = (s.busy_s, s.departures)
    s.observe(
        T0 + 8 * 3600_000, called_today=0, cancelled_today=0, waiting=0, open_windows=0, tau_s=1800
    )
    assert (s.busy_s, s.departures) == before
    # the clock never goes back
    s.observe(T0, called_today=5, cancelled_today=0, waiting=3, open_windows=1, tau_s=1800)
    assert s.at_ms == T0 + 8 * 3600_000


def test_no_learning_without_a_queue() -> None:
    s = WaitState()
    for t in range(0, 3600, 5):
        s.observe(
            T0 + t * 1000,
            called_today=t // 100,
            cancelled_today=0,
            waiting=0,
            open_windows=4,
            tau_s=1800,
        )
    assert s.cycle_s(1) is None  # idle windows say nothing about the cycle time


def test_the_quote() -> None:
    status = {"waiting": 9, "open_windows": 4, "est_wait_s": 10 * 300 / 4}
    assert handle_from_status(status) == pytest.approx(300)
    settings = QuotedWaitSettings()  # overhead 90 s, factor 1.13
    fresh = quote(status, None, settings)
    assert fresh.source == "handle+overhead" and fresh.cycle_s == pytest.approx(390)
    assert fresh.wait_s == pytest.approx(10 * 390 / 4 * 1.13)
    assert fresh.p10_s < fresh.wait_s < fresh.p90_s
    learned = WaitState()
    feed(learned, minutes=120, windows=4, cycle_s=400, cancel_every_s=400)
    q = quote(status, learned, settings)
    assert q.source == "measured"
    assert q.wait_s == pytest.approx((9 * 0.8 + 1) * 400 / 4 * 1.13, rel=0.05)
    # the band narrows with the number of tickets ahead
    long = quote({"waiting": 99, "open_windows": 4, "est_wait_s": 100 * 75.0}, None, settings)
    assert long.p90_s / long.wait_s < fresh.p90_s / fresh.wait_s
    est = quote(status, learned, QuotedWaitSettings(publish="est_wait"))
    assert est.wait_s == status["est_wait_s"] and est.source == "est_wait"


def test_the_status_hook_and_the_observation_cadence() -> None:
    p = WaitPredictor(QuotedWaitSettings(observe_every_s=5))
    assert p.due(T0) and not p.due(T0 + 4000) and p.due(T0 + 5000)
    doc = {"waiting": 0, "open_windows": 1, "est_wait_s": 300.0}
    p.add_to_status("yuhua", doc)
    assert doc["quoted_wait_s"] == round(390 * 1.13) and isinstance(doc["quoted_wait_p10_s"], int)
    assert doc["quoted_wait_p10_s"] < doc["quoted_wait_s"] < doc["quoted_wait_p90_s"]
    p.observe("yuhua", T0, called_today=1, cancelled_today=0, waiting=1, open_windows=1)
    assert "yuhua" in p.states


def test_settings() -> None:
    s = QuotedWaitSettings.from_config({"quoted_wait": {"factor": 1.2, "publish": "est_wait"}})
    assert s.factor == 1.2 and s.publish == "est_wait"
    for bad in ({"publish": "oracle"}, {"factor": 0}, {"tau": 5}, {"dispersion": "wide"}):
        with pytest.raises(ConfigError):
            QuotedWaitSettings.from_config({"quoted_wait": bad})
