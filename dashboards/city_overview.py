"""The city overview wall screen: every hall at a glance, coloured by the alert rules.

Top row: city figures (total waiting, the worst hall's longest wait and window
pressure, calls waiting, overdue opinions, alerts firing). Middle: one tile per hall for
the figures the halls are judged on. Bottom: one table row per hall with every figure
of the issue (waiting, longest wait, pressure, open windows and rate, estimated wait,
answer rate, satisfaction, alerts firing), and the latest live staffing advice of each
hall (table ``advice``, written by ``hallkpi serve`` once a minute).
"""

from __future__ import annotations

from hallkpi.dashboards.panels import (
    Board,
    Column,
    hall_variable_builder,
    new_board,
    pick_horizon,
    stat_panel,
    table_panel,
)
from hallkpi.dashboards.query import SqlQuery
from hallkpi.dashboards.settings import GrafanaSettings
from hallkpi.dashboards.sql import Col, alerts_firing_by_hall, latest_by_hall, latest_city

UID = "hallkpi-city"
TITLE = "全市大厅总览 City overview"


def build(settings: GrafanaSettings) -> Board:
    db = settings.clickhouse.database
    h15 = pick_horizon("15m", settings.horizons)
    board = new_board(
        UID,
        TITLE,
        rules=settings.rules,
        timezone=settings.timezone,
        refresh=settings.refresh,
        time_from="now-1h",
        description="Wall screen: every hall's queue, windows, phone line and satisfaction.",
        tags=["wall"],
    )
    board.builder.with_variable(hall_variable_builder(db, multi=True))
    city = [
        ("排队总数 Waiting, city", Col("waiting"), "sum"),
        ("最长等待 Longest wait, worst hall", Col("longest_wait_s"), "max"),
        ("窗口压力 Window pressure, worst hall", Col("window_pressure"), "max"),
        ("来电排队 Calls waiting, worst hall", Col("calls_waiting"), "max"),
        ("超期意见 Opinions overdue, city", Col("opinions_overdue"), "sum"),
    ]
    for title, col, agg in city:
        stat_panel(
            board, title, latest_city(db, col, agg, "multi"), kpi=col.kpi, horizon=col.horizon
        )
    firing = SqlQuery(
        "SELECT toUInt32(sum(alerts_firing)) AS alerts_firing FROM (\n"
        f"{alerts_firing_by_hall(db)}\n) WHERE hall IN (${{hall:singlequote}})",
        ("alerts_firing",),
    )
    stat_panel(board, "告警 Alerts firing", firing, kpi="alerts_firing")
    board.grid.newline()
    tiles = [
        ("最长等待 Longest wait", Col("longest_wait_s")),
        ("窗口压力 Window pressure", Col("window_pressure")),
        ("接通率 Answer rate " + h15, Col("answer_rate", h15)),
        ("不满意率 Dissatisfied " + h15, Col("dissatisfied_share", h15)),
    ]
    for title, col in tiles:
        query = latest_by_hall(db, [col], "multi")
        stat_panel(board, title, query, kpi=col.kpi, horizon=col.horizon, w=6, h=7, per_row=True)
    board.grid.newline()
    cols = [
        Col("waiting"),
        Col("longest_wait_s"),
        Col("window_pressure"),
        Col("open_windows"),
        Col("window_open_rate"),
        Col("est_wait_s"),
        Col("answer_rate", h15),
        Col("rating_mean", "today"),
        Col("dissatisfied_share", h15),
        Col("calls_waiting"),
        Col("opinions_overdue"),
    ]
    latest = latest_by_hall(db, cols, "multi")
    names = ", ".join(f"k.{c.name} AS {c.name}" for c in cols)
    sql = (
        f"SELECT k.hall AS hall, {names}, a.alerts_firing AS alerts_firing\n"
        f"FROM (\n{latest.sql}\n) AS k\nLEFT JOIN (\n{alerts_firing_by_hall(db)}\n) AS a "
        "ON a.hall = k.hall\nORDER BY hall"
    )
    query = SqlQuery(sql, (*latest.columns, "alerts_firing"))
    columns = [Column("hall", "hall", title="大厅 Hall")] + [
        Column(c.name, c.kpi, c.horizon) for c in cols
    ]
    columns.append(Column("alerts_firing", "alerts_firing"))
    table_panel(board, "各大厅 Halls", query, columns, h=10)
    advice_panel(board, db)
    return board


def advice_panel(board: Board, db: str) -> None:
    """Each hall's latest advice (windows and phone agents) with its numbers."""
    last = "argMaxIf(tuple({c}), ts, kind = {k}).1 AS {a}"
    fields = [
        ("text", "'windows'", "windows"),
        ("open", "'windows'", "open"),
        ("needed", "'windows'", "needed"),
        ("arrivals_per_h", "'windows'", "arrivals_per_h"),
        ("handle_s", "'windows'", "handle_s"),
        ("service_level_now", "'windows'", "service_level_now"),
        ("service_level_advised", "'windows'", "service_level_advised"),
        ("text", "'agents'", "agents"),
    ]
    select = ",\n    ".join(last.format(c=c, k=k, a=a) for c, k, a in fields)
    names = ", ".join(f"a.{a} AS {a}" for _, _, a in fields)
    sql = (
        f"SELECT h.hall AS hall, {names}\nFROM (\n  SELECT DISTINCT hall FROM {db}.hall_kpis\n"
        "  WHERE $__timeFilter(ts) AND hall IN (${hall:singlequote})) AS h\nLEFT JOIN (\n"
        f"  SELECT hall,\n    {select}\n  FROM {db}.advice\n  WHERE $__timeFilter(ts)\n"
        "  GROUP BY hall) AS a ON a.hall = h.hall\nORDER BY hall"
    )
    query = SqlQuery(sql, ("hall", *(a for _, _, a in fields)))
    columns = [
        Column("hall", "hall", title="大厅 Hall"),
        Column("windows", "windows", "advice", title="窗口建议 Windows advice"),
        Column("open", "open_windows", "advice", title="开放 Open"),
        Column("needed", "open_windows", "advice", title="需要 Needed"),
        Column("arrivals_per_h", "throughput_per_h", "advice", title="到达/小时 Arrivals/h"),
        Column("handle_s", "aht_s", "advice", title="办理时长 Handle"),
        Column("service_level_now", "service_level", "advice", title="当前达标 Level now"),
        Column("service_level_advised", "service_level", "advice", title="建议后 Advised"),
        Column("agents", "agents", "advice", title="坐席建议 Agents advice"),
    ]
    table_panel(board, "人员建议 Staffing advice", query, columns, h=8)
