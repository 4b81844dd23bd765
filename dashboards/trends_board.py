"""Trends: 30-day curves per hall (one point per local day: the day's last ``today``
snapshot) with their peak and valley, in the legends and in a table per figure."""

from __future__ import annotations

from hallkpi.dashboards import display
from hallkpi.dashboards.panels import (
    Board,
    Column,
    hall_variable_builder,
    new_board,
    table_panel,
    timeseries_panel,
)
from hallkpi.dashboards.query import SqlQuery
from hallkpi.dashboards.settings import GrafanaSettings
from hallkpi.dashboards.sql import Col, hall_filter, quote, series

UID = "hallkpi-trends"
TITLE = "30天趋势 Trends (30 days)"
DAILY = ("issued", "served", "wait_p90_s", "answer_rate", "rating_mean")


def daily(db: str, kpi: str, timezone: str) -> SqlQuery:
    """One point per hall and local day: the value of the day's last snapshot."""
    day = f"toStartOfDay(ts, {quote(timezone)})"
    sql = (
        f"SELECT {day} AS time, hall, argMax(tuple({kpi}), ts).1 AS {kpi}\n"
        f"FROM {db}.hall_kpis\n"
        f"WHERE $__timeFilter(ts) AND horizon = 'today' AND {hall_filter('multi')}\n"
        "GROUP BY time, hall\nORDER BY time"
    )
    return SqlQuery(sql, ("time", "hall", kpi), "timeseries")


def peak_valley(db: str, kpi: str, timezone: str) -> SqlQuery:
    """Per hall: the peak and valley day of ``kpi`` and their values, and the mean, over
    complete days (the running day is left out: its morning would be every valley)."""
    tz = quote(timezone)
    sql = (
        "SELECT hall, argMax(day, v) AS peak_day, max(v) AS peak,\n"
        "  argMin(day, v) AS valley_day, min(v) AS valley, avg(v) AS mean\nFROM (\n"
        f"  SELECT hall, toStartOfDay(ts, {tz}) AS day, argMax(tuple({kpi}), ts).1 AS v\n"
        f"  FROM {db}.hall_kpis\n"
        f"  WHERE $__timeFilter(ts) AND horizon = 'today' AND {hall_filter('multi')}\n"
        f"    AND ts < toStartOfDay($__toTime, {tz})\n"
        "  GROUP BY hall, day)\nWHERE isNotNull(v)\nGROUP BY hall\nORDER BY hall"
    )
    return SqlQuery(sql, ("hall", "peak_day", "peak", "valley_day", "valley", "mean"))


def build(settings: GrafanaSettings) -> Board:
    db = settings.clickhouse.database
    tz = settings.timezone
    board = new_board(
        UID,
        TITLE,
        rules=settings.rules,
        timezone=tz,
        refresh="5m",
        time_from="now-30d",
        description="Daily curves of the last 30 days per hall, with peaks and valleys.",
    )
    board.builder.with_variable(hall_variable_builder(db, multi=True))
    for kpi in DAILY:
        timeseries_panel(
            board,
            f"{display.label(kpi)}（每日 daily）",
            daily(db, kpi, tz),
            kpi=kpi,
            horizon="today",
            w=12,
            calcs=("max", "min", "mean"),
        )
    timeseries_panel(
        board,
        "排队峰值 Waiting, hourly peak",
        series(db, [Col("waiting")], "multi", agg="max", by_hall=True),
        kpi="waiting",
        w=12,
        calcs=("max", "min", "mean"),
    )
    for kpi in ("issued", "served"):
        columns = [
            Column("hall", "hall", title="大厅 Hall"),
            Column("peak_day", "hall", title="峰值日 Peak day"),
            Column("peak", kpi, "today", title="峰值 Peak"),
            Column("valley_day", "hall", title="谷值日 Valley day"),
            Column("valley", kpi, "today", title="谷值 Valley"),
            Column("mean", kpi, "today", title="均值 Mean"),
        ]
        table_panel(
            board,
            f"峰谷 Peak and valley: {display.label(kpi)}",
            peak_valley(db, kpi, tz),
            columns,
            w=12,
            h=8,
        )
    return board
