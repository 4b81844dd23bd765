"""Hall detail: one hall (the ``hall`` variable) in depth: queue and windows now, wait
percentiles, throughput and handle times, satisfaction, no-shows, opinions, curves of
the day, and the per-staff table of today."""

from __future__ import annotations

from hallkpi.dashboards import display
from hallkpi.dashboards.panels import (
    Board,
    Column,
    hall_variable_builder,
    new_board,
    pick_horizon,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from hallkpi.dashboards.query import SqlQuery
from hallkpi.dashboards.settings import GrafanaSettings
from hallkpi.dashboards.sql import Col, latest_by_hall, series

UID = "hallkpi-hall"
TITLE = "大厅详情 Hall detail"
STAFF_COLUMNS = ("served", "handle_mean_s", "ratings", "rating_mean", "dissatisfied", "no_show")


def staff_today(db: str) -> SqlQuery:
    """Per-staff figures of today for the selected hall (each staff member's latest row)."""
    picked = ", ".join(STAFF_COLUMNS)
    names = ",\n  ".join(f"s.{i} AS {c}" for i, c in enumerate(STAFF_COLUMNS, 1))
    sql = (
        f"SELECT staff,\n  {names}\nFROM (\n"
        f"  SELECT staff, argMax(tuple({picked}), ts) AS s\n  FROM {db}.staff_kpis\n"
        "  WHERE $__timeFilter(ts) AND horizon = 'today' AND hall = ${hall:singlequote}\n"
        "  GROUP BY staff)\nORDER BY served DESC, staff"
    )
    return SqlQuery(sql, ("staff", *STAFF_COLUMNS))


def build(settings: GrafanaSettings) -> Board:
    db = settings.clickhouse.database
    h15 = pick_horizon("15m", settings.horizons)
    h1 = pick_horizon("1h", settings.horizons)
    board = new_board(
        UID,
        TITLE,
        rules=settings.rules,
        timezone=settings.timezone,
        refresh=settings.refresh,
        time_from="now-12h",
        description="One hall: queue, windows, waits, throughput, satisfaction, staff.",
    )
    board.builder.with_variable(hall_variable_builder(db, multi=False))
    tiles = [
        Col("waiting"),
        Col("longest_wait_s"),
        Col("est_wait_s"),
        Col("serving"),
        Col("open_windows"),
        Col("paused_windows"),
        Col("window_open_rate"),
        Col("window_pressure"),
        Col("wait_p50_s", h15),
        Col("wait_p90_s", h15),
        Col("throughput_per_h", h1),
        Col("handle_mean_s", h1),
        Col("handle_p90_s", h1),
        Col("rating_mean", "today"),
        Col("dissatisfied_share", h15),
        Col("no_show", "today"),
        Col("no_show_rate", "today"),
        Col("opinions_open"),
        Col("opinions_overdue"),
    ]
    for col in tiles:
        suffix = "" if col.horizon == "now" else f" {col.horizon}"
        title = display.label(col.kpi) + suffix
        stat_panel(
            board, title, latest_by_hall(db, [col], "one"), kpi=col.kpi, horizon=col.horizon, w=3
        )
    board.grid.newline()
    timeseries_panel(
        board,
        "排队与窗口 Waiting and windows",
        series(db, [Col("waiting"), Col("open_windows")], "one"),
        kpi="waiting",
        w=8,
    )
    timeseries_panel(
        board,
        "等待时间 Waits",
        series(
            db,
            [
                Col("longest_wait_s"),
                Col("wait_p50_s", h15),
                Col("wait_p90_s", h15),
                Col("est_wait_s"),
            ],
            "one",
            agg="max",
        ),
        kpi="longest_wait_s",
        w=8,
    )
    timeseries_panel(
        board,
        f"每小时办结 Throughput/h ({h1})",
        series(db, [Col("throughput_per_h", h1)], "one"),
        kpi="throughput_per_h",
        horizon=h1,
        w=8,
    )
    board.grid.newline()
    columns = [Column("staff", "staff", title="工作人员 Staff")] + [
        Column(c, c, "today", title=display.label(c) if c in display.LABELS else c)
        for c in STAFF_COLUMNS
    ]
    table_panel(
        board, "工作人员（今日）Staff today", staff_today(db), columns, sort_by="办结 Served"
    )
    return board
