"""Panel factories shared by the boards (stat tiles, time series, tables), each on one
:class:`~hallkpi.dashboards.query.SqlQuery`, with units and rule thresholds from
:mod:`hallkpi.dashboards.display`, and a grid that places panels left to right.

Every query a board uses is recorded in its :class:`Board` (``queries``), so the tests
can run each against the store schema and compare the columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hallkpi.core.config import AlertRule
from hallkpi.dashboards import display
from hallkpi.dashboards.query import ClickHouseQueryBuilder, SqlQuery, datasource_ref
from hallkpi.dashboards.sdk import (
    common,
    common_builder,
    dashboard,
    dashboard_builder,
    stat,
    table,
    timeseries,
)
from hallkpi.dashboards.sql import hall_variable

GRID_WIDTH = 24
TEXT_COLUMNS = frozenset({"hall", "staff"})


@dataclass
class Grid:
    """Places panels in rows of 24 columns, wrapping when a row is full."""

    x: int = 0
    y: int = 0
    row_height: int = 0

    def place(self, w: int, h: int) -> dashboard.GridPos:
        if self.x + w > GRID_WIDTH:
            self.newline()
        pos = dashboard.GridPos(h=h, w=w, x=self.x, y=self.y)
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def newline(self) -> None:
        if self.x:
            self.y += self.row_height
        self.x, self.row_height = 0, 0


@dataclass
class Board:
    """A dashboard being built: its builder, grid, rules and recorded queries."""

    uid: str
    builder: dashboard_builder.Dashboard
    rules: Sequence[AlertRule]
    grid: Grid = field(default_factory=Grid)
    queries: list[tuple[str, SqlQuery]] = field(default_factory=list)

    def target(self, title: str, query: SqlQuery, ref_id: str = "A") -> ClickHouseQueryBuilder:
        self.queries.append((title, query))
        return ClickHouseQueryBuilder().ref_id(ref_id).sql(query)


def new_board(
    uid: str,
    title: str,
    *,
    rules: Sequence[AlertRule],
    timezone: str,
    refresh: str,
    time_from: str,
    description: str,
    tags: Sequence[str] = (),
) -> Board:
    """A read-only dashboard with our uid, time zone and refresh."""
    builder = (
        dashboard_builder.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["hallkpi", *tags])
        .timezone(timezone)
        .refresh(refresh)
        .time(time_from, "now")
        .readonly()
        .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
    )
    return Board(uid, builder, rules)


def hall_variable_builder(db: str, *, multi: bool) -> dashboard_builder.QueryVariable:
    """The ``hall`` template variable (all halls, or one)."""
    var = (
        dashboard_builder.QueryVariable("hall")
        .label("大厅 Hall")
        .datasource(datasource_ref())
        .query(hall_variable(db))
        .refresh(dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
        .allow_custom_value(False)
    )
    return var


def stat_panel(
    board: Board,
    title: str,
    query: SqlQuery,
    *,
    kpi: str,
    horizon: str = "now",
    w: int = 4,
    h: int = 4,
    per_row: bool = False,
) -> None:
    """A coloured tile of ``kpi`` (the query's column named ``kpi``); with ``per_row``
    one tile per row of the query (per hall), named by the row's hall."""
    reduce = common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(per_row)
    reduce = reduce.fields(f"/^{query.columns[-1]}$/")
    panel = (
        stat.Panel()
        .title(title)
        .datasource(datasource_ref())
        .with_target(board.target(title, query))
        .grid_pos(board.grid.place(w, h))
        .unit(display.unit(kpi))
        .thresholds(display.thresholds(kpi, horizon, board.rules))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(
            common.BigValueTextMode.VALUE_AND_NAME if per_row else common.BigValueTextMode.VALUE
        )
        .reduce_options(reduce)
        .no_value("–")
    )
    board.builder.with_panel(panel)


def timeseries_panel(
    board: Board,
    title: str,
    query: SqlQuery,
    *,
    kpi: str,
    horizon: str = "now",
    w: int = 12,
    h: int = 8,
    calcs: Sequence[str] = ("lastNotNull", "max", "min"),
) -> None:
    """Curves of the query's value columns; the rule thresholds drawn as lines."""
    legend = (
        common_builder.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .calcs(list(calcs))
    )
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(datasource_ref())
        .with_target(board.target(title, query))
        .grid_pos(board.grid.place(w, h))
        .unit(display.unit(kpi))
        .thresholds(display.thresholds(kpi, horizon, board.rules))
        .thresholds_style(
            common_builder.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
                if display.rules_for(kpi, horizon, board.rules)
                else common.GraphThresholdsStyleMode.OFF
            )
        )
        .legend(legend)
        .span_nulls(True)
    )
    board.builder.with_panel(panel)


@dataclass(frozen=True)
class Column:
    """A table column: the query's column ``name`` showing ``kpi`` at ``horizon``."""

    name: str
    kpi: str
    horizon: str = "now"
    title: str = ""


def table_panel(
    board: Board,
    title: str,
    query: SqlQuery,
    columns: Sequence[Column],
    *,
    w: int = 24,
    h: int = 9,
    sort_by: str | None = None,
    descending: bool = True,
) -> None:
    """A table; columns with a rule get that rule's colours as cell backgrounds."""
    panel = (
        table.Panel()
        .title(title)
        .datasource(datasource_ref())
        .with_target(board.target(title, query))
        .grid_pos(board.grid.place(w, h))
        .cell_height(common.TableCellHeight.SM)
    )
    for col in columns:
        props = [
            dashboard.DynamicConfigValue(
                id_val="displayName", value=col.title or display.label(col.kpi)
            )
        ]
        if col.kpi not in TEXT_COLUMNS:
            props.append(dashboard.DynamicConfigValue(id_val="unit", value=display.unit(col.kpi)))
        if display.rules_for(col.kpi, col.horizon, board.rules):
            props += [
                dashboard.DynamicConfigValue(
                    id_val="thresholds",
                    value=display.thresholds_value(col.kpi, col.horizon, board.rules),
                ),
                dashboard.DynamicConfigValue(
                    id_val="custom.cellOptions",
                    value={"type": "color-background", "mode": "basic"},
                ),
            ]
        panel = panel.override_by_name(col.name, props)
    if sort_by is not None:
        panel = panel.sort_by(
            [common_builder.TableSortByFieldState().display_name(sort_by).desc(descending)]
        )
    board.builder.with_panel(panel)


def pick_horizon(wanted: str, horizons: Sequence[str]) -> str:
    """``wanted`` if the engine computes it, else ``today`` (always there)."""
    return wanted if wanted in horizons else "today"
