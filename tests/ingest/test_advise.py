"""`hallkpi advise` and `hallkpi schedule` on four simulated weeks with planted causes
(see advice_history.py): each planted cause gives its suggestion with the right
evidence, the well-run hall gets none, and the plan follows the history."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from advice_history import LAST, RUSH_HALL, SLOW, History, history, load_with_snapshots
from hallkpi.core.cli import main
from hallkpi.core.decide.suggest import Suggestion, SuggestionSettings
from hallkpi.ingest.decide.advise import advise
from hallkpi.ingest.decide.history import day_start_ms, last_event_day
from hallkpi.ingest.decide.schedule import schedule_week
from hallkpi.ingest.store.connection import Store

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def planted(
    chdb_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, History, list[tuple[Any, ...]]]]:
    name = "t_" + uuid.uuid4().hex[:12]
    store = Store(f"chdb://{chdb_root}?database={name}")
    h = history()
    snapshots = load_with_snapshots(store, h.events, tmp_path_factory.mktemp("spool"))
    yield store, h, snapshots
    store.command(f"DROP DATABASE IF EXISTS `{name}`")
    store.close()


@pytest.fixture(scope="module")
def suggestions(planted: tuple[Store, History, list[tuple[Any, ...]]]) -> list[Suggestion]:
    store = planted[0]
    assert last_event_day(store, "Asia/Shanghai") == LAST
    return advise(store, LAST).suggestions


def url(store: Store) -> str:
    return f"chdb://{store.url.path}?database={store.database}"


def test_the_well_run_hall_gets_nothing(suggestions: list[Suggestion]) -> None:
    assert [s for s in suggestions if s.hall == "yuhua"] == []


def test_the_slow_clerk_is_found_with_the_numbers(
    planted: tuple[Store, History, list[tuple[Any, ...]]], suggestions: list[Suggestion]
) -> None:
    hall, staff, service = SLOW
    got = [s for s in suggestions if s.kind == "training"]
    assert [(s.hall, s.subject) for s in got] == [(hall, f"{staff} / {service}")]
    ev = got[0].evidence
    slow = sorted(planted[1].slow_handles)
    whole = sorted(planted[1].hall_handles)
    assert ev["cases"] == len(slow) >= 20 and ev["hall_cases"] == len(whole)
    # ClickHouse's exact median of an even count is one of the two middle values
    n, m = len(slow), len(whole)
    assert slow[(n - 1) // 2] - 0.1 <= ev["median_s"] <= slow[n // 2] + 0.1
    assert whole[(m - 1) // 2] - 0.1 <= ev["hall_median_s"] <= whole[m // 2] + 0.1
    assert ev["mean_s"] == pytest.approx(statistics.mean(slow), abs=0.1)
    assert ev["above_hall_median"] == sum(v > ev["hall_median_s"] for v in slow)
    assert ev["ratio"] == pytest.approx(ev["median_s"] / ev["hall_median_s"], abs=1e-3)
    assert 1.6 < ev["ratio"] < 2.3 and ev["p_value"] < 1e-6


def test_the_understaffed_hall_is_told_to_expand(
    planted: tuple[Store, History, list[tuple[Any, ...]]], suggestions: list[Suggestion]
) -> None:
    got = [s for s in suggestions if s.kind == "expansion"]
    assert [s.hall for s in got] == ["jianye"]
    ev = got[0].evidence
    # recomputed from the snapshots written (one per 5-minute bucket)
    s = SuggestionSettings()
    start, end = s.hours()
    rows = [
        r
        for r in planted[2]
        if r[0] == "jianye"
        and start <= r[1].hour * 60 + r[1].minute < end
        and r[1].isoweekday() <= 5
        and r[4] + r[5] > 0
    ]
    both = sum(1 for r in rows if r[2] is not None and r[2] >= 0.95 and r[3] >= 3)
    assert ev["share"] == round(both / len(rows), 4) and ev["share"] >= 0.35
    assert ev["days"] == 20 and ev["business_hours"] == round(len(rows) * 300 / 3600, 1)
    assert ev["share_pressure_high"] == round(sum(r[3] >= 3 for r in rows) / len(rows), 4)


def test_the_monday_rush_is_a_recurring_peak(suggestions: list[Suggestion]) -> None:
    got = [s for s in suggestions if s.kind == "schedule" and s.hall == RUSH_HALL]
    assert [s.evidence["weekday"] for s in got] == ["Monday"]
    ev = got[0].evidence
    assert "09:00" <= ev["start"] <= "10:00" and ev["end"] >= "10:30"
    assert ev["weeks_high"] == ev["weeks"] == 4 and ev["pressure_mean"] >= 3
    assert ev["arrivals_per_h"] >= 30 + 40  # the rush (45 in 90 min) on top of the usual
    assert ev["windows_more"] >= 1 and ev["pressure_typical"] < 1.5
    # jianye's own peaks may show up too, but only on business days
    days = {s.evidence["weekday"] for s in suggestions if s.kind == "schedule"}
    assert days <= {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}


def test_the_command_formats(
    planted: tuple[Store, History, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    store = planted[0]
    assert (
        main(["advise", "--store", url(store), "--date", LAST.isoformat(), "--format", "json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    kinds = {(s["kind"], s["hall"]) for s in doc["suggestions"]}
    assert {("training", "qinhuai"), ("expansion", "jianye"), ("schedule", "qinhuai")} <= kinds
    assert doc["day"] == LAST.isoformat()
    assert main(["advise", "--store", url(store), "--date", LAST.isoformat()]) == 0
    text = capsys.readouterr().out
    assert "train s003 on tax_return" in text and "evidence: rule=handle_time" in text
    assert main(["advise", "--store", url(store), "--date", "2026-09-01", "--format", "html"]) == 0
    assert "No suggestions." in capsys.readouterr().out
    assert main(["advise", "--store", url(store), "--date", "someday"]) == 2


def test_schedule_plans_the_next_week(
    planted: tuple[Store, History, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    store = planted[0]
    week = LAST + dt.timedelta(days=1)  # 2026-W49
    plans = {p.hall: p for p in schedule_week(store, week)}
    assert sorted(plans) == ["jianye", "qinhuai", "yuhua"]
    q = plans[RUSH_HALL]
    assert q.backtest is not None and q.backtest.week == week - dt.timedelta(days=7)
    assert q.backtest.wape < 0.35 and q.backtest.wape < q.backtest.naive_wape
    monday = {r.start: r for r in q.rows if r.day == week}
    tuesday = {r.start: r for r in q.rows if r.day == week + dt.timedelta(days=1)}
    rush = (540, 570, 600)  # 09:00-10:30: 45 more walk-ins on Mondays
    assert sum(monday[m].arrivals - tuesday[m].arrivals for m in rush) > 30
    assert all(monday[m].windows > tuesday[m].windows for m in rush)
    assert main(["schedule", "--store", url(store), "--week", "2026-W49"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].startswith("hall,date,weekday,start,end,arrivals")
    assert any(line.startswith("qinhuai,2026-11-30,Mon,10:00,10:30,") for line in lines)
    assert "backtest on the week of 2026-11-23" in out.err
    assert main(["schedule", "--store", url(store), "--week", "2026-W49", "--format", "html"]) == 0
    assert "<h2>qinhuai</h2>" in capsys.readouterr().out
    assert main(["schedule", "--store", url(store), "--week", "1999-W01"]) == 2


def test_no_value_is_put_into_sql_text(planted: tuple[Store, History, list[Any]]) -> None:
    """The store rule (test_sql_safety) for these modules: only reviewed fragments and
    checked identifiers are interpolated; dates and thresholds are bound."""
    import test_sql_safety
    from test_sql_safety import CALLS, FRAGMENTS, interpolations

    modules = (
        "decide/advise",
        "decide/history",
        "decide/schedule",
        "decide/backtest_wait",
        "service/live_advice",
    )
    saved = test_sql_safety.STORE_MODULES
    test_sql_safety.STORE_MODULES = modules  # type: ignore[assignment]
    try:
        found = interpolations()
    finally:
        test_sql_safety.STORE_MODULES = saved
    assert found and all(e in FRAGMENTS or e.split("(", 1)[0] in CALLS for _, _, e in found)
    store = planted[0]
    store.statements = []
    try:
        advise(store, LAST)
        schedule_week(store, LAST + dt.timedelta(days=1))
    finally:
        sent, store.statements = store.statements, None
    bounds = [
        str(day_start_ms(LAST - dt.timedelta(days=d), "Asia/Shanghai")) for d in range(-8, 70)
    ]
    assert sent and not any(b in sql or "2026" in sql for b in bounds for sql in sent)
