"""The SQL the panels and rules send to ClickHouse, on the store schema of
:mod:`hallkpi.ingest.store.schema` (``hall_kpis``: one row per snapshot, hall and horizon,
every gauge repeated on each horizon's row; ``staff_kpis``; ``alerts``).

Grafana fills in the macros: ``$__timeFilter(ts)`` (the dashboard's or the rule's time
range), ``$__timeInterval(ts)`` (buckets), ``$__toTime``, and the ``hall`` variable
(``${hall:singlequote}`` for a multi-value list). Values of one snapshot are taken with
``argMax(tuple(x), ts).1``: plain ``argMax`` skips NULLs and would show a stale value
where the engine says null (KPIS.md: a zero denominator is null).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hallkpi.core.config import AlertRule
from hallkpi.core.engine import GAUGE_KPIS, WINDOWED_KPIS
from hallkpi.dashboards.query import SqlQuery

GAUGE_ROW = "today"
"""The horizon row gauges are read from: every snapshot has it, whatever the horizons."""

HallScope = Literal["all", "multi", "one"]


@dataclass(frozen=True)
class Col:
    """A KPI at a horizon (``now`` for gauges), shown under ``alias``."""

    kpi: str
    horizon: str = "now"
    alias: str = ""

    def __post_init__(self) -> None:
        if self.kpi not in GAUGE_KPIS and self.kpi not in WINDOWED_KPIS:
            raise ValueError(f"unknown KPI {self.kpi!r}")

    @property
    def name(self) -> str:
        return self.alias or self.kpi

    @property
    def row(self) -> str:
        """The ``horizon`` value of the rows holding this KPI."""
        return GAUGE_ROW if self.kpi in GAUGE_KPIS else self.horizon


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def hall_filter(scope: HallScope) -> str:
    """The WHERE condition of the ``hall`` variable (``1`` for every hall)."""
    if scope == "multi":
        return "hall IN (${hall:singlequote})"
    if scope == "one":
        return "hall = ${hall:singlequote}"
    return "1"


def _rows(cols: Sequence[Col]) -> str:
    return ", ".join(quote(r) for r in sorted({c.row for c in cols}))


def _last(col: Col) -> str:
    # k.<kpi>: the table's column, not a same-named alias of the SELECT list
    return f"argMaxIf(tuple(k.{col.kpi}), ts, horizon = {quote(col.row)}).1"


def latest_by_hall(db: str, cols: Sequence[Col], scope: HallScope) -> SqlQuery:
    """One row per hall: each column's value in the hall's latest snapshot."""
    select = ",\n  ".join(f"{_last(c)} AS {c.name}" for c in cols)
    sql = (
        f"SELECT hall,\n  {select}\nFROM {db}.hall_kpis AS k\n"
        f"WHERE $__timeFilter(ts) AND horizon IN ({_rows(cols)}) AND {hall_filter(scope)}\n"
        "GROUP BY hall\nORDER BY hall"
    )
    return SqlQuery(sql, ("hall", *(c.name for c in cols)))


def latest_city(db: str, col: Col, agg: str, scope: HallScope) -> SqlQuery:
    """One value: ``agg`` (sum, max, min, avg) over halls of their latest values."""
    inner = latest_by_hall(db, [col], scope).sql
    sql = f"SELECT {agg}({col.name}) AS {col.name}\nFROM (\n{inner}\n)"
    return SqlQuery(sql, (col.name,))


def series(
    db: str, cols: Sequence[Col], scope: HallScope, *, agg: str = "avg", by_hall: bool = False
) -> SqlQuery:
    """A time series of each column (``agg`` of the snapshots in each bucket); with
    ``by_hall`` one series per hall (a long frame: time, hall, values)."""
    select = ",\n  ".join(f"{agg}If(k.{c.kpi}, horizon = {quote(c.row)}) AS {c.name}" for c in cols)
    hall = "hall, " if by_hall else ""
    sql = (
        f"SELECT $__timeInterval(ts) AS time, {hall}\n  {select}\nFROM {db}.hall_kpis AS k\n"
        f"WHERE $__timeFilter(ts) AND horizon IN ({_rows(cols)}) AND {hall_filter(scope)}\n"
        f"GROUP BY time{', hall' if by_hall else ''}\nORDER BY time"
    )
    columns = ("time", "hall") if by_hall else ("time",)
    return SqlQuery(sql, (*columns, *(c.name for c in cols)), "timeseries")


def alerts_firing_by_hall(db: str) -> str:
    """Subquery: ``hall, alerts_firing`` = rules whose latest state is ``firing``."""
    return (
        "SELECT hall, toUInt32(countIf(state = 'firing')) AS alerts_firing FROM (\n"
        f"  SELECT hall, alert, argMax(state, ts) AS state FROM {db}.alerts\n"
        "  WHERE ts <= $__toTime GROUP BY hall, alert)\nGROUP BY hall"
    )


def rule_query(db: str, rule: AlertRule) -> SqlQuery:
    """The data query ``A`` of a Grafana twin of ``rule``: one row per hall, ``hall``
    (a label) and ``value``, from each hall's latest snapshot in the rule's time range.
    Halls whose value is null or whose guard fails return no row (KPIS.md: the
    condition does not hold), so Grafana resolves their alert as a missing series."""
    value = Col(rule.kpi, rule.horizon)
    cols = [value]
    where = "isNotNull(value)"
    if rule.guard is not None:
        g_kpi, g_horizon, g_min = rule.guard
        guard = Col(g_kpi, g_horizon, "guard_value")
        cols.append(guard)
        where += f" AND guard_value >= {g_min!r}"
    inner = ",\n    ".join(f"{_last(c)} AS {'value' if c is value else c.name}" for c in cols)
    sql = (
        f"SELECT hall, value FROM (\n  SELECT hall,\n    {inner}\n"
        f"  FROM {db}.hall_kpis AS k\n  WHERE $__timeFilter(ts) AND horizon IN ({_rows(cols)})\n"
        f"  GROUP BY hall)\nWHERE {where}\nORDER BY hall"
    )
    return SqlQuery(sql, ("hall", "value"))


def freshness_query(db: str) -> SqlQuery:
    """Seconds since each hall's latest snapshot, at the end of the rule's time range."""
    sql = (
        "SELECT hall, toFloat64(dateDiff('second', max(ts), $__toTime)) AS value\n"
        f"FROM {db}.hall_kpis\nWHERE $__timeFilter(ts)\nGROUP BY hall\nORDER BY hall"
    )
    return SqlQuery(sql, ("hall", "value"))


def hall_variable(db: str) -> str:
    """The values of the ``hall`` variable: halls with a snapshot in the last 7 days."""
    return (
        f"SELECT DISTINCT hall FROM {db}.hall_kpis\n"
        "WHERE ts >= $__toTime - INTERVAL 7 DAY ORDER BY hall"
    )
