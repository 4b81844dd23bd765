"""`hallkpi trends`: peak and valley on data with a planted answer; sources and formats."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from hallkpi.core.cli import main
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.report.trends import TrendRequest, parse_duration, trend
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.native import PackedStrings
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter
from planted import Day, at


def url(store: Store) -> str:
    return f"chdb://{store.url.path}?database={store.database}"


def planted(store: Store) -> None:
    """Three days of two halls; yuhua's waits are 600 s every hour 09-16, except
    1800 s at 10:00 on the 28th (the peak) and 60 s at 14:00 on the 27th (the valley);
    gulou's are 100 s all along."""
    d = Day()
    for day in ("2026-11-27", "2026-11-28", "2026-11-29"):
        for hour in range(9, 17):
            wait = 600.0
            if (day, hour) == ("2026-11-28", 10):
                wait = 1800.0
            if (day, hour) == ("2026-11-27", 14):
                wait = 60.0
            for k in range(3):
                d.ticket("yuhua", at(day, hour, 0, k) - round(wait * 1000) + 600_000, wait_s=wait)
                d.ticket("gulou", at(day, hour, 5, k), wait_s=100)
    d.load(store)


def test_peak_and_valley_of_a_planted_curve(store: Store) -> None:
    planted(store)
    req = TrendRequest(
        "wait_mean_s", at("2026-11-27", 0), at("2026-11-30", 0), bucket_s=3600, halls=("yuhua",)
    )
    t = trend(store, req)
    assert t.source == "events" and len(t.series) == 1
    s = t.series[0]
    assert len(s.times) == 24
    assert s.peak is not None and s.valley is not None
    assert (s.times[s.peak], s.values[s.peak]) == (at("2026-11-28", 10), 1800.0)
    assert (s.times[s.valley], s.values[s.valley]) == (at("2026-11-27", 14), 60.0)
    daily = trend(store, TrendRequest("issued", req.start_ms, req.end_ms, 86400, by_hall=True))
    assert {s.label: s.values for s in daily.series} == {"gulou": [24.0] * 3, "yuhua": [24.0] * 3}
    assert daily.series[0].times == [at(d, 0) for d in ("2026-11-27", "2026-11-28", "2026-11-29")]


def test_the_command_table_json_csv_and_html_plot(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted(store)
    base = ["trends", "--store", url(store), "--kpi", "wait_mean_s", "--until", "2026-11-30"]
    base += ["--days", "3", "--bucket", "1h"]
    html = tmp_path / "wait.html"
    assert main([*base, "--hall", "yuhua", "--format", "json", "--plot", str(html)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (series,) = doc["series"]
    assert series["peak"]["time"] == "2026-11-28 10:00" and series["peak"]["value"] == 1800
    assert series["valley"]["time"] == "2026-11-27 14:00" and series["valley"]["value"] == 60
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "▲" in page
    assert main([*base, "--by-hall"]) == 0
    out = capsys.readouterr().out
    assert "yuhua: peak 1800 at 2026-11-28 10:00" in out
    assert "gulou: peak 100 at 2026-11-27 09:00" in out  # equal values: the earliest
    assert main([*base, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "hall,ts,time,wait_mean_s" and lines[1].startswith("all,")
    png = tmp_path / "wait.png"
    code = main([*base, "--plot", str(png)])
    if importlib.util.find_spec("matplotlib") is None:
        assert code == 2 and "matplotlib" in capsys.readouterr().err and not png.exists()
    else:
        assert code == 0 and png.stat().st_size > 0


def test_gauges_come_from_hall_kpis(store: Store, tmp_path: Path) -> None:
    ensure_schema(store)
    times = np.array([at("2026-11-27", h, m) for h in range(8, 18) for m in (0, 20, 40)])
    waiting = np.full(len(times), 5, np.int64)
    waiting[times == at("2026-11-27", 11, 20)] = 42  # the peak
    waiting[times == at("2026-11-27", 15, 40)] = 0  # the valley
    with StoreWriter(store, Spool(tmp_path)) as w:
        w.add(
            "hall_kpis",
            {
                "ts": times,
                "hall": PackedStrings.from_strs(["yuhua"] * len(times)),
                "horizon": PackedStrings.from_strs(["today"] * len(times)),
                "waiting": waiting,
            },
        )
    req = TrendRequest("waiting", at("2026-11-27", 0), at("2026-11-28", 0), 3600, agg="max")
    (s,) = trend(store, req).series
    assert s.peak is not None and s.valley is not None
    assert (s.times[s.peak], s.values[s.peak]) == (at("2026-11-27", 11), 42.0)
    assert (s.times[s.valley], s.values[s.valley]) == (at("2026-11-27", 8), 5.0)  # ties: first
    low = trend(store, TrendRequest("waiting", req.start_ms, req.end_ms, 3600, agg="min")).series[0]
    assert low.valley is not None and low.times[low.valley] == at("2026-11-27", 15)
    with pytest.raises(StoreConfigError, match="gauge"):
        trend(store, TrendRequest("waiting", req.start_ms, req.end_ms, source="events"))


def test_bucket_and_kpi_names() -> None:
    assert [parse_duration(x) for x in ("30s", "15m", "1h", "2d")] == [30, 900, 3600, 172800]
    for bad in ("0h", "1w", "h", "-1h"):
        with pytest.raises(StoreConfigError):
            parse_duration(bad)
    with pytest.raises(StoreConfigError, match="unknown KPI"):
        TrendRequest("wait_avg", 0, 1).resolved_source()
