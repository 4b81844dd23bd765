"""Staff performance: today's ranking of staff across the selected halls, with the score
and its components.

The score (0-100) follows ``hallkpi report staff``: the weighted mean of percentile ranks
(0-1) among the listed staff of served and rating mean (higher is better) and of handle
time, dissatisfied share and no-show rate (lower is better); a figure a staff member has
no data for counts as the median (0.5). Weights come from
``[report.weights]``. Unlike the report, handle time is the plain mean (the store's
``staff_kpis`` has no per-service handle index) and the period is today.
"""

from __future__ import annotations

from collections.abc import Mapping

from hallkpi.dashboards.panels import (
    Board,
    Column,
    hall_variable_builder,
    new_board,
    table_panel,
)
from hallkpi.dashboards.query import SqlQuery
from hallkpi.dashboards.settings import GrafanaSettings
from hallkpi.dashboards.sql import hall_filter

UID = "hallkpi-staff"
TITLE = "工作人员绩效 Staff performance"
# component -> (figure, higher is better)
COMPONENTS: dict[str, tuple[str, bool]] = {
    "served": ("served", True),
    "handle": ("handle_mean_s", False),
    "rating": ("rating_mean", True),
    "dissatisfied": ("dissatisfied_share", False),
    "no_show": ("no_show_rate", False),
}


def _percentile(figure: str, higher_better: bool) -> str:
    part = f"PARTITION BY isNull({figure})"
    order = "ASC" if higher_better else "DESC"
    n = f"count() OVER ({part})"
    r = f"rank() OVER ({part} ORDER BY {figure} {order})"
    return f"if(isNull({figure}) OR {n} <= 1, 0.5, ({r} - 1) / ({n} - 1))"


def ranking(db: str, weights: Mapping[str, float]) -> SqlQuery:
    """Today's staff of the selected halls, best first, with score components."""
    total = sum(weights.values())
    parts = ",\n    ".join(
        f"{_percentile(fig, up)} AS p_{name}" for name, (fig, up) in COMPONENTS.items()
    )
    score = " + ".join(f"{weights[name]!r} * p_{name}" for name in COMPONENTS)
    figures = "served, handle_mean_s, rating_mean, dissatisfied_share, no_show_rate"
    p_cols = ", ".join(f"round(p_{name}, 3) AS p_{name}" for name in COMPONENTS)
    sql = (
        f"SELECT toUInt32(rank() OVER (ORDER BY score DESC)) AS place, hall, staff, score,\n"
        f"  {figures},\n  {p_cols}\nFROM (\n"
        f"  SELECT *, round(100 * ({score}) / {total!r}, 1) AS score FROM (\n"
        f"   SELECT hall, staff, {figures},\n    {parts}\n   FROM (\n"
        "    SELECT hall, staff, s.1 AS served, s.2 AS handle_mean_s, s.3 AS rating_mean,\n"
        "      if(s.4 = 0, NULL, s.5 / s.4) AS dissatisfied_share,\n"
        "      if(s.1 + s.6 = 0, NULL, s.6 / (s.1 + s.6)) AS no_show_rate\n"
        "    FROM (\n"
        "     SELECT hall, staff,\n"
        "       argMax(tuple(served, handle_mean_s, rating_mean, ratings, dissatisfied, "
        "no_show), ts) AS s\n"
        f"     FROM {db}.staff_kpis\n"
        f"     WHERE $__timeFilter(ts) AND horizon = 'today' AND {hall_filter('multi')}\n"
        "     GROUP BY hall, staff)))\n"
        ")\nORDER BY place, hall, staff"
    )
    columns = ("place", "hall", "staff", "score", *figures.split(", "))
    return SqlQuery(sql, (*columns, *(f"p_{name}" for name in COMPONENTS)))


def build(settings: GrafanaSettings) -> Board:
    db = settings.clickhouse.database
    board = new_board(
        UID,
        TITLE,
        rules=settings.rules,
        timezone=settings.timezone,
        refresh="1m",
        time_from="now/d",
        description="Today's staff ranking with the score and its components "
        "(percentile ranks, 0-1; weights from [report.weights]).",
    )
    board.builder.with_variable(hall_variable_builder(db, multi=True))
    columns = [
        Column("place", "place", title="名次 Rank"),
        Column("hall", "hall", title="大厅 Hall"),
        Column("staff", "staff", title="工作人员 Staff"),
        Column("score", "score", title="得分 Score"),
        Column("served", "served"),
        Column("handle_mean_s", "handle_mean_s"),
        Column("rating_mean", "rating_mean"),
        Column("dissatisfied_share", "dissatisfied_share"),
        Column("no_show_rate", "no_show_rate"),
    ]
    for name in COMPONENTS:
        columns.append(Column(f"p_{name}", f"p_{name}", title=f"分位 p({name})"))
    table_panel(
        board,
        "今日排名 Ranking today",
        ranking(db, settings.staff_weights),
        columns,
        h=20,
    )
    return board
