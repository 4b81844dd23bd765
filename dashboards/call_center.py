"""Call center: each hall's phone line: calls offered, answered, abandoned, answer rate,
service level, ASA, AHT, the call queue and the agents (available, busy, paused)."""

from __future__ import annotations

from hallkpi.dashboards.display import label
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
from hallkpi.dashboards.settings import GrafanaSettings
from hallkpi.dashboards.sql import Col, latest_by_hall, series

UID = "hallkpi-calls"
TITLE = "热线坐席 Call center"


def build(settings: GrafanaSettings) -> Board:
    db = settings.clickhouse.database
    h15 = pick_horizon("15m", settings.horizons)
    board = new_board(
        UID,
        TITLE,
        rules=settings.rules,
        timezone=settings.timezone,
        refresh=settings.refresh,
        time_from="now-6h",
        description="Phone lines: offered, answered, abandoned, answer rate, service level, "
        "ASA, AHT, queue and agents.",
        tags=["wall"],
    )
    board.builder.with_variable(hall_variable_builder(db, multi=True))
    tiles = [
        ("来电排队 Calls waiting", Col("calls_waiting")),
        ("接通率 Answer rate " + h15, Col("answer_rate", h15)),
        ("服务水平 Service level " + h15, Col("service_level", h15)),
    ]
    for title, col in tiles:
        query = latest_by_hall(db, [col], "multi")
        stat_panel(board, title, query, kpi=col.kpi, horizon=col.horizon, w=8, h=6, per_row=True)
    board.grid.newline()
    cols = [
        Col("calls_offered", h15),
        Col("calls_answered", h15),
        Col("calls_abandoned", h15),
        Col("calls_short_abandoned", h15),
        Col("calls_timeout", h15),
        Col("answer_rate", h15),
        Col("service_level", h15),
        Col("asa_s", h15),
        Col("aht_s", h15),
        Col("calls_offered", "today", "calls_offered_today"),
        Col("calls_answered", "today", "calls_answered_today"),
        Col("answer_rate", "today", "answer_rate_today"),
        Col("calls_waiting"),
        Col("longest_call_wait_s"),
        Col("agents_available"),
        Col("agents_busy"),
        Col("agents_paused"),
    ]
    columns = [Column("hall", "hall", title="大厅 Hall")]
    for c in cols:
        suffix = f" ({c.horizon})" if c.horizon != "now" else ""
        columns.append(Column(c.name, c.kpi, c.horizon, title=label(c.kpi) + suffix))
    table_panel(board, "各线路 Lines", latest_by_hall(db, cols, "multi"), columns, h=8)
    timeseries_panel(
        board,
        "来电排队 Calls waiting",
        series(db, [Col("calls_waiting")], "multi", agg="max", by_hall=True),
        kpi="calls_waiting",
        w=8,
    )
    timeseries_panel(
        board,
        f"接通率 Answer rate ({h15})",
        series(db, [Col("answer_rate", h15)], "multi", by_hall=True),
        kpi="answer_rate",
        horizon=h15,
        w=8,
    )
    timeseries_panel(
        board,
        "坐席 Agents",
        series(
            db,
            [Col("agents_available"), Col("agents_busy"), Col("agents_paused")],
            "multi",
            by_hall=True,
        ),
        kpi="agents_available",
        w=8,
    )
    return board
