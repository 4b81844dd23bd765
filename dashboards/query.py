"""The ClickHouse dataquery: grafana-foundation-sdk 0.0.21 has no ClickHouse query type,
so this is a small one in the SDK's own shape (a ``Dataquery`` variant and its
``Builder``), plus :class:`SqlQuery`, the SQL text with the columns it must return.

The JSON is the plugin's SQL-editor query model (grafana-clickhouse-datasource v4):
``{"refId", "datasource", "editorType": "sql", "queryType": "table" | "timeseries",
"format": 1 | 0, "rawSql"}``; the plugin's backend reads ``format`` (sqlds: 0 = time
series, 1 = table) and ``rawSql`` with its macros (``$__timeFilter(ts)``...).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from hallkpi.dashboards.sdk import cogbuilder, cogvariants, common

PLUGIN_ID = "grafana-clickhouse-datasource"
"""Plugin id of Grafana's ClickHouse data source."""
DATASOURCE_UID = "hallkpi-clickhouse"
"""Fixed uid of our data source: every panel and rule names it."""

Shape = Literal["table", "timeseries"]
_FORMAT: dict[Shape, int] = {"timeseries": 0, "table": 1}


def datasource_ref() -> common.DataSourceRef:
    """The reference to our ClickHouse data source."""
    return common.DataSourceRef(type_val=PLUGIN_ID, uid=DATASOURCE_UID)


@dataclass(frozen=True)
class SqlQuery:
    """One SQL text (with Grafana macros) and the columns it returns, in order. Time
    series put the time column first; alert queries return ``hall`` and ``value``."""

    sql: str
    columns: tuple[str, ...]
    shape: Shape = "table"


class ClickHouseQuery(cogvariants.Dataquery):
    """A SQL-editor query of the ClickHouse plugin."""

    ref_id: str
    raw_sql: str
    shape: Shape
    hide: bool | None

    def __init__(self, ref_id: str = "A", raw_sql: str = "", shape: Shape = "table") -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.shape = shape
        self.hide = None

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": {"type": PLUGIN_ID, "uid": DATASOURCE_UID},
            "editorType": "sql",
            "queryType": self.shape,
            "format": _FORMAT[self.shape],
            "rawSql": self.raw_sql,
        }
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        shape: Shape = "timeseries" if data.get("format") == 0 else "table"
        query = cls(str(data.get("refId", "A")), str(data.get("rawSql", "")), shape)
        if "hide" in data:
            query.hide = bool(data["hide"])
        return query


class ClickHouseQueryBuilder(cogbuilder.Builder[ClickHouseQuery]):
    """Builds a :class:`ClickHouseQuery`, in the style of the SDK's builders::

    ClickHouseQueryBuilder().ref_id("A").sql(query)
    """

    _internal: ClickHouseQuery

    def __init__(self) -> None:
        self._internal = ClickHouseQuery()

    def build(self) -> ClickHouseQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        self._internal.ref_id = ref_id
        return self

    def raw_sql(self, raw_sql: str) -> typing.Self:
        self._internal.raw_sql = raw_sql
        return self

    def shape(self, shape: Shape) -> typing.Self:
        """``table`` (format 1) or ``timeseries`` (format 0: long frames by time)."""
        self._internal.shape = shape
        return self

    def hide(self, hide: bool) -> typing.Self:
        self._internal.hide = hide
        return self

    def sql(self, query: SqlQuery) -> typing.Self:
        """Takes the text and the shape of ``query``."""
        return self.raw_sql(query.sql).shape(query.shape)
