"""No SQL text is built from values: values are bound server-side, only checked
identifiers and constant fragments are ever put into SQL text."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
from hallkpi.core import Engine
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.report.staff import period_bounds, staff_report
from hallkpi.ingest.report.trends import TrendRequest, trend
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.recovery import recover, replay_into
from hallkpi.ingest.store.schema import ensure_schema
from planted import Day, at

INGEST = Path(__file__).resolve().parents[2] / "ingest"
STORE_MODULES = (
    "store/batch", "store/carry_over", "store/cli_options", "store/connection",
    "report/history_sql", "store/jsonl", "store/load", "store/native", "report/output",
    "report/plot", "store/recovery", "report/staff", "store/schema", "store/spool", "store/sql",
    "store/url", "report/trends", "store/writer",
)  # fmt: skip
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|CREATE|ALTER|WHERE|FROM|GROUP BY|ORDER BY|ENGINE|DROP)\b")

# What may be interpolated into SQL text: checked identifiers (ident/qualified/table
# names) and fragments built only from constants and such identifiers. Each entry was
# reviewed; a new one must be reviewed before it is added here.
FRAGMENTS = {
    "_DAY", "_FIRST", "_OLD", "adds", "alerts", "arrived", "bound", "carried", "combine", "cond",
    "db", "engine", "events", "fixed", "from_sql", "group", "hall_filter", "halls", "inner",
    "layout.on_cluster", "name", "old", "query", "series_sql", "spec.expr", "table.shard_key",
    "typ", "union", "where", "window", "with_sql",
}  # fmt: skip
CALLS = {
    "ident", "qualified", "store.table", "self.table", "_bucket_sql", "', '.join", "_where",
    "_carry_over",
}  # fmt: skip


def interpolations() -> list[tuple[str, int, str]]:
    found = []
    for module in STORE_MODULES:
        tree = ast.parse((INGEST / f"{module}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                if SQL_WORDS.search(str(text)):
                    for v in node.values:
                        if isinstance(v, ast.FormattedValue):
                            found.append((module, node.lineno, ast.unparse(v.value)))
            is_str = isinstance(getattr(node, "left", None), ast.Constant) and isinstance(
                node.left.value,
                str,  # type: ignore[attr-defined]
            )
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and is_str:
                found.append((module, node.lineno, "% formatting"))
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "format"
                and isinstance(node.func.value, ast.Name)
            ):
                found += [(module, node.lineno, ast.unparse(kw.value)) for kw in node.keywords]
    return found


def test_sql_text_interpolates_only_identifiers_and_constant_fragments() -> None:
    bad = []
    for module, line, expr in interpolations():
        call = expr.split("(", 1)[0]
        if expr not in FRAGMENTS and call not in CALLS:
            bad.append(f"ingest/{module}.py:{line}: {expr}")
    assert bad == []


def test_values_never_reach_the_sql_text(store: Store, tmp_path: Path) -> None:
    """Run every store path with distinctive values and look for them in the SQL sent."""
    hall = "Hall.Marker-7_Q"
    d = Day()
    for i in range(5):
        d.ticket(hall, at("2026-11-27", 10, i), wait_s=123.25, staff="staff-marker-9", score=4)
    store.statements = []
    ensure_schema(store, ttl_days={"events": 4321})
    d.load(store)
    start, end = at("2026-11-27", 0), at("2026-11-28", 0)
    for kpi in ("wait_p90_s", "answer_rate", "throughput_per_h", "waiting"):
        trend(store, TrendRequest(kpi, start, end, 5400, halls=(hall,), short_abandon_s=7.75))
    staff_report(store, *period_bounds("week", dt.date(2026, 11, 27), "Asia/Shanghai"))
    replay_into(Engine(), store, since_ms=start, halls=[hall])
    recover(Engine(), store, now_ms=end - 1)
    sql = "\n".join(store.statements)
    assert "SELECT" in sql and "CREATE TABLE" in sql
    values = [hall, "staff-marker-9", "4321", "123.25", "7.75", "5400", str(start), str(end)]
    values += [str(end - 1), "Asia/Shanghai", "2026-11"]
    assert [v for v in values if v in sql] == []


def test_a_parameter_without_a_placeholder_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="placeholder"):
        store.rows("SELECT %(x)s", {"x": 1})
    assert store.rows("SELECT {x:String} AS v", {"x": "it's"}) == [("it's",)]
