"""`hallkpi report staff` on a planted day whose ranking is computed by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hallkpi.core.cli import main
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.report.staff import (
    ReportConfig,
    percentile_ranks,
    period_bounds,
    staff_report,
)
from hallkpi.ingest.store.connection import Store
from planted import Day, at

DAY = "2026-11-27"


def planted(store: Store) -> None:
    """yuhua: s1 serves 10 hard tickets (1200 s, the hard service's usual time) rated 5;
    s2 serves 10 easy ones (300 s) rated 3, two of them 2; s3 serves 5 easy ones at twice
    the usual time, rated 4, and has 3 no-shows. gulou: s4 serves 12 easy ones rated 5."""
    d = Day()
    t = at(DAY, 9)
    for i in range(10):
        d.ticket(
            "yuhua", t + i * 60_000, wait_s=60, handle_s=1200, staff="s1", service="hard", score=5
        )
        d.ticket(
            "yuhua",
            t + i * 60_000,
            wait_s=60,
            handle_s=300,
            staff="s2",
            service="easy",
            score=2 if i < 2 else 3,
        )
    for i in range(5):
        d.ticket(
            "yuhua", t + i * 60_000, wait_s=60, handle_s=600, staff="s3", service="easy", score=4
        )
    for i in range(3):
        d.ticket("yuhua", t + i * 60_000, wait_s=60, staff="s3", no_show=True)
    for i in range(12):
        d.ticket(
            "gulou", t + i * 60_000, wait_s=60, handle_s=300, staff="s4", service="easy", score=5
        )
    d.load(store)


def test_ranking_with_a_known_answer(store: Store) -> None:
    planted(store)
    rows = staff_report(store, *period_bounds("day", dt.date(2026, 11, 27), "Asia/Shanghai"))
    got = {r.staff: r for r in rows}
    assert [r.staff for r in rows] == ["s4", "s1", "s2", "s3"]
    assert [(r.hall, r.rank_hall, r.rank_city) for r in rows] == [
        ("gulou", 1, 1),
        ("yuhua", 1, 2),
        ("yuhua", 2, 3),
        ("yuhua", 3, 4),
    ]
    # the hand computation: weighted percentile ranks (see report_staff's docstring)
    assert got["s4"].score == pytest.approx(
        100 * (0.3 * 1 + 0.25 * 2 / 3 + 0.25 * 5 / 6 + 0.2 * 2 / 3)
    )
    assert got["s1"].score == pytest.approx(
        100 * (0.3 * 0.5 + 0.25 * 2 / 3 + 0.25 * 5 / 6 + 0.2 * 2 / 3)
    )
    assert got["s2"].score == pytest.approx(100 * (0.3 * 0.5 + 0.25 * 2 / 3 + 0.1 * 2 / 3))
    assert got["s3"].score == pytest.approx(100 * (0.25 * 1 / 3 + 0.1 * 2 / 3))
    s1, s3 = got["s1"], got["s3"]
    assert (s1.served, s1.handle_mean_s, s1.handle_index, s1.ratings, s1.rating_mean) == (
        10,
        1200.0,
        1.0,
        10,
        5.0,
    )
    assert (s3.served, s3.no_show, s3.handle_index, got["s2"].dissatisfied) == (5, 3, 2.0, 2)


def test_without_service_normalisation_hard_work_counts_against_s1(
    store: Store, tmp_path: Path
) -> None:
    planted(store)
    bounds = (at(DAY, 0), at(DAY, 0) + 86_400_000)
    flat = staff_report(store, *bounds, ReportConfig(handle_by_service=False))
    assert {r.staff: r.handle_index for r in flat}["s1"] > 1.5
    only_rating = ReportConfig(
        {"served": 0, "handle": 0, "rating": 1, "dissatisfied": 0, "no_show": 0}
    )
    ranked = [r.staff for r in staff_report(store, *bounds, only_rating)]
    assert ranked[-1] == "s2" and set(ranked[:2]) == {"s1", "s4"}


def test_the_command_and_its_weights_file(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted(store)
    cfg = tmp_path / "hallkpi.toml"
    cfg.write_text(
        "[report.weights]\nserved = 1\nhandle = 0\nrating = 0\ndissatisfied = 0\nno_show = 0\n"
    )
    url = f"chdb://{store.url.path}?database={store.database}"
    args = ["report", "staff", "--store", url, "--period", "week", "--date", "2026-11-29"]
    assert main([*args, "--format", "json", "--config", str(cfg)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["staff"] for s in doc["staff"]] == ["s4", "s1", "s2", "s3"]  # by served alone
    assert main([*args, "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!doctype html>") and "<td>s4</td>" in page
    assert main([*args, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("rank_city,rank_hall,hall,staff")
    assert main([*args]) == 0
    assert "week of 2026-11-29" in capsys.readouterr().out
    cfg.write_text("[report.weights]\nspeed = 1\n")
    assert main([*args, "--config", str(cfg)]) == 2
    assert "unknown [report.weights]" in capsys.readouterr().err


def test_periods_and_percentile_ranks() -> None:
    day = dt.date(2026, 11, 27)  # a Friday
    assert period_bounds("day", day, "Asia/Shanghai") == (at(DAY, 0), at("2026-11-28", 0))
    assert period_bounds("week", day, "Asia/Shanghai") == (at("2026-11-23", 0), at("2026-11-30", 0))
    assert period_bounds("month", day, "Asia/Shanghai") == (
        at("2026-11-01", 0),
        at("2026-12-01", 0),
    )
    nan = float("nan")
    assert percentile_ranks([3, 1, 2, nan], higher_is_better=True) == [1.0, 0.0, 0.5, 0.5]
    assert percentile_ranks([3, 1, 1], higher_is_better=False) == [0.0, 0.75, 0.75]
    assert percentile_ranks([7], higher_is_better=True) == [0.5]
    with pytest.raises(StoreConfigError):
        ReportConfig.from_toml("/nonexistent/hallkpi.toml")
