"""``hallkpi report staff``: per-staff figures of a day, week or month, a weighted score
and the rank of each staff member within the hall and the city.

Figures (attributed as KPIS.md attributes them): ``served`` (completions), handle time
(mean, and the *handle index*: each ticket's handle time divided by the city median of
its service type, averaged, so staff serving hard services are not punished; 1.0 is
typical, lower is faster), ratings and their mean, dissatisfied ratings (score 1-2),
no-shows. The score (0-100) is the weighted mean of percentile ranks among the city's
staff: served (more is better), handle index, rating mean (higher better),
dissatisfied share and no-show rate (lower better); a figure a staff member has no data
for counts as the median. Weights come from the configuration file::

    [report]
    handle_by_service = true     # false: handle index = own mean / city mean

    [report.weights]
    served = 0.30
    handle = 0.25
    rating = 0.25
    dissatisfied = 0.10
    no_show = 0.10
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from hallkpi.core.errors import ConfigError
from hallkpi.core.staff_score import HIGHER_IS_BETTER, STAFF_WEIGHTS, staff_weights
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.report.history_sql import row_source
from hallkpi.ingest.report.output import csv_table, html_table, json_text, text_table
from hallkpi.ingest.store.connection import Store

Period = Literal["day", "week", "month"]


@dataclass(frozen=True)
class ReportConfig:
    weights: Mapping[str, float] = field(default_factory=lambda: dict(STAFF_WEIGHTS))
    handle_by_service: bool = True

    @classmethod
    def from_toml(cls, path: str | Path | None) -> ReportConfig:
        """The ``[report]`` section of a configuration file (defaults without a file)."""
        if path is None:
            return cls()
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise StoreConfigError(f"cannot read configuration {path}: {exc}") from exc
        section = doc.get("report", {})
        try:
            weights = staff_weights(section)
        except ConfigError as exc:
            raise StoreConfigError(f"{path}: {exc}") from exc
        return cls(weights, bool(section.get("handle_by_service", True)))


def period_bounds(period: Period, day: dt.date, timezone: str) -> tuple[int, int]:
    """[start, end) in ms of the local day, ISO week (Monday first) or month of ``day``."""
    if period == "day":
        first, last = day, day + dt.timedelta(days=1)
    elif period == "week":
        first = day - dt.timedelta(days=day.weekday())
        last = first + dt.timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1)
    zone = ZoneInfo(timezone)

    def ms(d: dt.date) -> int:
        return round(dt.datetime.combine(d, dt.time(0), tzinfo=zone).timestamp() * 1000)

    return ms(first), ms(last)


@dataclass
class StaffRow:
    hall: str
    staff: str
    served: int = 0
    handled: int = 0
    handle_mean_s: float = math.nan
    handle_index: float = math.nan
    ratings: int = 0
    rating_mean: float = math.nan
    dissatisfied: int = 0
    no_show: int = 0
    score: float = math.nan
    rank_hall: int = 0
    rank_city: int = 0

    def metric(self, name: str) -> float:
        if name == "served":
            return float(self.served)
        if name == "handle":
            return self.handle_index
        if name == "rating":
            return self.rating_mean
        if name == "dissatisfied":
            return self.dissatisfied / self.ratings if self.ratings else math.nan
        done = self.no_show + self.served
        return self.no_show / done if done else math.nan


_COUNTS_SQL = """
SELECT hall, staff,
  countIf(type = 'ticket.completed') AS served,
  countIf(type = 'ticket.rated') AS ratings,
  if(countIf(type = 'ticket.rated') = 0, NULL, avgIf(score, type = 'ticket.rated')) AS rating_mean,
  countIf(type = 'ticket.rated' AND score IN (1, 2)) AS dissatisfied,
  countIf(type = 'ticket.no_show') AS no_show
FROM {events} FINAL
WHERE type IN ('ticket.completed', 'ticket.rated', 'ticket.no_show') AND staff != ''
  AND ts >= fromUnixTimestamp64Milli({{lo:Int64}}) AND ts < fromUnixTimestamp64Milli({{hi:Int64}})
GROUP BY hall, staff"""


def staff_report(
    store: Store, start_ms: int, end_ms: int, config: ReportConfig | None = None
) -> list[StaffRow]:
    """Per-staff rows of ``[start_ms, end_ms)``, scored and ranked (best first)."""
    config = config or ReportConfig()
    params: dict[str, Any] = {"lo": start_ms, "hi": end_ms}
    rows: dict[tuple[str, str], StaffRow] = {}
    for hall, staff, served, ratings, mean, dissatisfied, no_show in store.rows(
        _COUNTS_SQL.format(events=store.table("events")), params
    ):
        rows[(hall, staff)] = StaffRow(
            hall,
            staff,
            int(served),
            ratings=int(ratings),
            rating_mean=math.nan if mean is None else float(mean),
            dissatisfied=int(dissatisfied),
            no_show=int(no_show),
        )
    with_sql, from_sql = row_source("handles", store.table("events"), store.table("alerts"))
    handles = store.rows(
        f"{with_sql}SELECT hall, staff, service, count(), sum(v) FROM {from_sql} "
        "WHERE t >= {lo:Int64} AND t < {hi:Int64} AND staff != '' GROUP BY hall, staff, service",
        params,
    )
    group = "service" if config.handle_by_service else "''"
    medians = dict(
        store.rows(
            f"{with_sql}SELECT {group}, "
            f"quantileExact(0.5)(v) FROM {from_sql} "
            "WHERE t >= {lo:Int64} AND t < {hi:Int64} GROUP BY 1",
            params,
        )
    )
    city_mean = _city_mean(handles)
    ratio: dict[tuple[str, str], float] = {}
    for hall, staff, service, n, total in handles:
        row = rows.setdefault((hall, staff), StaffRow(hall, staff))
        row.handled += int(n)
        row.handle_mean_s = (0.0 if math.isnan(row.handle_mean_s) else row.handle_mean_s) + total
        typical = medians.get(service if config.handle_by_service else "") or 0.0
        if not config.handle_by_service:
            typical = city_mean
        if typical > 0:
            ratio[(hall, staff)] = ratio.get((hall, staff), 0.0) + float(total) / typical
    for key, row in rows.items():
        if row.handled:
            row.handle_mean_s /= row.handled
            if key in ratio:
                row.handle_index = ratio[key] / row.handled
    _score(list(rows.values()), config.weights)
    return _rank(list(rows.values()))


def _city_mean(handles: Sequence[tuple[Any, ...]]) -> float:
    n = sum(int(r[3]) for r in handles)
    return float(sum(float(r[4]) for r in handles) / n) if n else 0.0


def percentile_ranks(values: Sequence[float], *, higher_is_better: bool) -> list[float]:
    """Each value's rank among the non-NaN values scaled to 0..1 (1 = best; ties share
    their mean rank); NaN and a lone value get 0.5."""
    known = sorted((v for v in values if not math.isnan(v)), reverse=not higher_is_better)
    if len(known) < 2:
        return [0.5] * len(values)
    first: dict[float, int] = {}
    last: dict[float, int] = {}
    for i, v in enumerate(known):
        first.setdefault(v, i)
        last[v] = i
    n = len(known) - 1
    return [0.5 if math.isnan(v) else (first[v] + last[v]) / 2 / n for v in values]


def _score(rows: list[StaffRow], weights: Mapping[str, float]) -> None:
    total = sum(weights.values())
    parts = {
        name: percentile_ranks([r.metric(name) for r in rows], higher_is_better=better)
        for name, better in HIGHER_IS_BETTER.items()
    }
    for i, row in enumerate(rows):
        row.score = 100 * sum(weights[n] * parts[n][i] for n in parts) / total


def _rank(rows: list[StaffRow]) -> list[StaffRow]:
    ordered = sorted(rows, key=lambda r: (-r.score, -r.served, r.hall, r.staff))
    per_hall: dict[str, int] = {}
    for i, row in enumerate(ordered, 1):
        row.rank_city = i
        per_hall[row.hall] = per_hall.get(row.hall, 0) + 1
        row.rank_hall = per_hall[row.hall]
    return ordered


HEADERS = [
    "rank_city",
    "rank_hall",
    "hall",
    "staff",
    "served",
    "handle_mean_s",
    "handle_index",
    "ratings",
    "rating_mean",
    "dissatisfied",
    "no_show",
    "score",
]


def render(rows: Sequence[StaffRow], fmt: str, title: str) -> str:
    table = [[getattr(r, h) for h in HEADERS] for r in rows]
    table = [[None if isinstance(v, float) and math.isnan(v) else v for v in r] for r in table]
    if fmt == "csv":
        return csv_table(HEADERS, table)
    if fmt == "json":
        return json_text(
            {"title": title, "staff": [dict(zip(HEADERS, r, strict=True)) for r in table]}
        )
    if fmt == "html":
        return html_table(title, HEADERS, table)
    return f"{title}\n\n{text_table(HEADERS, table)}"
