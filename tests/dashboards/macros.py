"""Grafana's SQL macros replaced by concrete SQL, as the ClickHouse plugin's backend does
(grafana/clickhouse-datasource pkg/macros) and as Grafana interpolates the ``hall``
variable, so the panels' and rules' SQL can run on chDB."""

from __future__ import annotations

import re
from collections.abc import Sequence


def _quoted(halls: Sequence[str]) -> str:
    return ",".join("'" + h.replace("'", "\\'") + "'" for h in halls)


def expand(sql: str, *, start_s: int, end_s: int, interval_s: int, halls: Sequence[str]) -> str:
    """``sql`` with ``$__timeFilter(col)``, ``$__timeInterval(col)``, ``$__fromTime``,
    ``$__toTime``, ``$__interval_s`` and ``${hall:singlequote}``/``${hall}`` replaced;
    raises ValueError if a ``$`` is left."""
    out = re.sub(
        r"\$__timeFilter\(([^)]*)\)",
        lambda m: f"{m[1]} >= toDateTime({start_s}) AND {m[1]} <= toDateTime({end_s})",
        sql,
    )
    out = re.sub(
        r"\$__timeInterval\(([^)]*)\)",
        lambda m: f"toStartOfInterval(toDateTime({m[1]}), INTERVAL {interval_s} second)",
        out,
    )
    out = out.replace("$__fromTime", f"toDateTime({start_s})")
    out = out.replace("$__toTime", f"toDateTime({end_s})")
    out = out.replace("$__interval_s", str(interval_s))
    out = out.replace("${hall:singlequote}", _quoted(halls))
    out = out.replace("${hall}", ",".join(halls))
    if "$" in out:
        raise ValueError(f"unexpanded macro in: {out}")
    return out
