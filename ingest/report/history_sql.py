"""SQL over the stored events for history (trends, staff reports): the KPIS.md
definitions evaluated per time bucket instead of per sliding horizon.

Every query takes the parameters ``lo``/``hi`` (ms, the period ``[lo, hi)``) and
``tz`` (IANA zone for day buckets). Ticket instances are built the engine's way: each
call, start and completion joins the latest issue of its ``(hall, ticket)`` at or
before it (ASOF), the first applied (lowest ``ingest_seq``) of each kind counts, a
wait is recorded at the first call, a handle time at the later of start and
completion, and the handle time belongs to the staff of the first completion.
"""

from __future__ import annotations

from dataclasses import dataclass

LOOKBACK_MS = 86_400_000
"""Issues and starts this long before the period still pair with events inside it."""


def tickets_cte(events: str) -> str:
    """CTEs ``issues``, ``steps`` and ``tickets`` (one row per ticket instance: hall,
    ticket, issued, service, called, started, completed, staff; 0 when missing)."""
    window = (
        "ts >= fromUnixTimestamp64Milli({lo:Int64} - "
        f"{LOOKBACK_MS}) AND ts < fromUnixTimestamp64Milli({{hi:Int64}})"
    )
    return f"""
issues AS (
  SELECT hall, ticket, toUnixTimestamp64Milli(ts) AS issued, service
  FROM {events} FINAL WHERE type = 'ticket.issued' AND {window}),
steps AS (
  SELECT hall, ticket, type, toUnixTimestamp64Milli(ts) AS t, staff, ingest_seq
  FROM {events} FINAL
  WHERE type IN ('ticket.called', 'ticket.started', 'ticket.completed') AND {window}),
tickets AS (
  SELECT s.hall AS hall, s.ticket AS ticket, i.issued AS issued, any(i.service) AS service,
    argMinIf(s.t, s.ingest_seq, s.type = 'ticket.called') AS called,
    argMinIf(s.t, s.ingest_seq, s.type = 'ticket.started') AS started,
    argMinIf(s.t, s.ingest_seq, s.type = 'ticket.completed') AS completed,
    argMinIf(s.staff, s.ingest_seq, s.type = 'ticket.completed') AS staff
  FROM steps AS s
  ASOF LEFT JOIN issues AS i ON s.hall = i.hall AND s.ticket = i.ticket AND s.t >= i.issued
  GROUP BY hall, ticket, issued)"""


@dataclass(frozen=True)
class KpiSql:
    """How a windowed KPI is computed over a bucket: ``rows`` names the row source
    (``events``, ``waits``, ``firsts``, ``handles``, ``alerts``) and ``expr`` the
    aggregate over it."""

    rows: str
    expr: str


def _share(cond: str, of: str) -> str:
    return f"countIf({of} AND {cond}) / nullIf(countIf({of}), 0)"


def _mean(value: str, of: str) -> str:
    return f"if(countIf({of}) = 0, NULL, avgIf({value}, {of}))"


def _rank(q: str) -> str:  # nearest rank: the ceil(q*n)-th smallest
    return f"if(count() = 0, NULL, arraySort(groupArray(v))[toUInt64(ceil({q} * count()))])"


_ISSUED = "type = 'ticket.issued'"
_RATED = "type = 'ticket.rated'"
_ANSWERED = "type = 'call.answered'"
_LONG_ABANDON = "(type = 'call.abandoned' AND hold_s >= {short_abandon_s:Float64})"
_OFFERED = f"({_ANSWERED} OR {_LONG_ABANDON} OR type = 'call.timeout')"
_CALL_RATED = "type = 'call.rated'"

WINDOWED_SQL: dict[str, KpiSql] = {
    "issued": KpiSql("events", f"countIf({_ISSUED})"),
    "wechat_share": KpiSql("events", _share("channel IN ('wechat', 'appointment')", _ISSUED)),
    "called_first": KpiSql("firsts", "count()"),
    "wait_mean_s": KpiSql("waits", "if(count() = 0, NULL, avg(v))"),
    "wait_p50_s": KpiSql("waits", _rank("0.5")),
    "wait_p90_s": KpiSql("waits", _rank("0.9")),
    "wait_max_s": KpiSql("waits", "if(count() = 0, NULL, max(v))"),
    "served": KpiSql("events", "countIf(type = 'ticket.completed')"),
    "throughput_per_h": KpiSql(
        "events", "countIf(type = 'ticket.completed') * 3600 / {bucket_s:Float64}"
    ),
    "handle_mean_s": KpiSql("handles", "if(count() = 0, NULL, avg(v))"),
    "handle_p90_s": KpiSql("handles", _rank("0.9")),
    "no_show": KpiSql("events", "countIf(type = 'ticket.no_show')"),
    "cancelled": KpiSql("events", "countIf(type = 'ticket.cancelled')"),
    "no_show_rate": KpiSql(
        "events",
        "countIf(type = 'ticket.no_show') / "
        "nullIf(countIf(type IN ('ticket.no_show', 'ticket.completed')), 0)",
    ),
    "ratings": KpiSql("events", f"countIf({_RATED})"),
    "rating_mean": KpiSql("events", _mean("score", _RATED)),
    "very_satisfied_share": KpiSql("events", _share("score = 5", _RATED)),
    "dissatisfied_share": KpiSql("events", _share("score IN (1, 2)", _RATED)),
    "calls_answered": KpiSql("events", f"countIf({_ANSWERED})"),
    "calls_abandoned": KpiSql("events", f"countIf({_LONG_ABANDON})"),
    "calls_short_abandoned": KpiSql(
        "events", "countIf(type = 'call.abandoned' AND hold_s < {short_abandon_s:Float64})"
    ),
    "calls_timeout": KpiSql("events", "countIf(type = 'call.timeout')"),
    "calls_offered": KpiSql("events", f"countIf({_OFFERED})"),
    "answer_rate": KpiSql("events", f"countIf({_ANSWERED}) / nullIf(countIf({_OFFERED}), 0)"),
    "service_level": KpiSql(
        "events",
        f"countIf({_ANSWERED} AND hold_s <= {{service_level_s:Float64}}) "
        f"/ nullIf(countIf({_OFFERED}), 0)",
    ),
    "asa_s": KpiSql("events", _mean("hold_s", _ANSWERED)),
    "aht_s": KpiSql("events", _mean("talk_s", "type = 'call.completed'")),
    "call_ratings": KpiSql("events", f"countIf({_CALL_RATED})"),
    "call_rating_mean": KpiSql("events", _mean("score", _CALL_RATED)),
    "opinions_submitted": KpiSql("events", "countIf(type = 'opinion.submitted')"),
    "opinions_resolved": KpiSql("events", "countIf(type = 'opinion.resolved')"),
    "alerts_fired": KpiSql("alerts", "countIf(state = 'firing')"),
}
"""Every windowed KPI of KPIS.md as an aggregate over one bucket of rows."""


def row_source(kind: str, events: str, alerts: str) -> tuple[str, str]:
    """(WITH clauses, FROM subquery) of a row source; its rows have ``hall`` and ``t``
    (ms), and ``v`` for waits/handles (handles also have ``staff`` and ``service``);
    filter them on ``t`` for the period."""
    if kind == "events":
        return "", (
            f"(SELECT hall, toUnixTimestamp64Milli(ts) AS t, type, channel, score, hold_s, "
            f"talk_s FROM {events} FINAL WHERE ts >= fromUnixTimestamp64Milli({{lo:Int64}}) "
            "AND ts < fromUnixTimestamp64Milli({hi:Int64}))"
        )
    if kind == "alerts":
        return "", (
            f"(SELECT hall, toUnixTimestamp64Milli(ts) AS t, state FROM {alerts} FINAL "
            "WHERE ts >= fromUnixTimestamp64Milli({lo:Int64}) "
            "AND ts < fromUnixTimestamp64Milli({hi:Int64}))"
        )
    cte = "WITH" + tickets_cte(events) + "\n"
    if kind == "firsts":
        return cte, "(SELECT hall, called AS t FROM tickets WHERE called > 0)"
    if kind == "waits":
        return cte, (
            "(SELECT hall, called AS t, (called - issued) / 1000 AS v FROM tickets "
            "WHERE called > 0 AND issued > 0 AND called >= issued)"
        )
    if kind == "handles":
        return cte, (
            "(SELECT hall, staff, service, greatest(started, completed) AS t, "
            "(completed - started) / 1000 AS v "
            "FROM tickets WHERE started > 0 AND completed > 0 AND completed >= started)"
        )
    raise ValueError(f"unknown row source {kind!r}")
