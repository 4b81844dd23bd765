"""`hallkpi backtest-wait` on clean simulated days: the predictor's quotes are closer to
the waits that followed than KPIS.md's est_wait_s, and its p10..p90 band holds about
80 % of them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from advice_history import store_events
from hallkpi.core.cli import main
from hallkpi.core.decide.quoted_wait import QuotedWaitSettings
from hallkpi.core.sim.simulate import simulate
from hallkpi.ingest.decide.backtest_wait import fit, replay_quotes, scores
from hallkpi.ingest.decide.history import day_start_ms
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter

FIRST = dt.date(2026, 11, 23)
TZ = "Asia/Shanghai"


@pytest.fixture
def days(store: Store, tmp_path: Path) -> Store:
    ensure_schema(store)
    events = simulate(halls=3, date=FIRST, days=3, seed=2, tickets_per_hall=1000)
    with StoreWriter(store, Spool(tmp_path / "spool")) as writer:
        store_events(writer, events)
    return store


def test_the_predictor_beats_est_wait(days: Store) -> None:
    lo, hi = day_start_ms(FIRST, TZ), day_start_ms(FIRST + dt.timedelta(days=3), TZ)
    obs = replay_quotes(days, lo, hi, QuotedWaitSettings())
    est, pred = scores(obs)
    assert est.n == pred.n > 5000 and obs.not_called > 0
    assert pred.mae_s < 0.85 * est.mae_s
    assert abs(pred.bias_s) < abs(est.bias_s) and pred.within_5min > est.within_5min
    assert pred.band is not None and 0.7 < pred.band < 0.9
    for hall in ("yuhua", "gulou", "jianye"):
        e, p = scores(obs, hall)
        assert p.mae_s < e.mae_s, hall
    fitted = fit(obs, QuotedWaitSettings())
    assert 1.0 <= fitted.factor <= 1.3 and 0.5 <= fitted.dispersion <= 4
    # the published quote with est_wait_s: the same as est_wait_s
    same = replay_quotes(days, lo, hi, QuotedWaitSettings(publish="est_wait"))
    assert same.predicted == same.est


def test_the_command(days: Store, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"chdb://{days.url.path}?database={days.database}"
    args = ["backtest-wait", "--store", url, "--days", "2", "--format", "json", "--fit"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["last_day"] == (FIRST + dt.timedelta(days=2)).isoformat()
    est, pred = doc["all"]
    assert est["quote"] == "est_wait_s" and pred["quote"] == "predictor"
    assert pred["mae_min"] < est["mae_min"] and set(doc["halls"]) == {"yuhua", "gulou", "jianye"}
    assert "factor" in doc["fit"]
    assert main(["backtest-wait", "--store", url, "--hall", "gulou", "--days", "1"]) == 0
    text = capsys.readouterr().out
    assert "gulou" in text and "yuhua" not in text and "never called" in text
