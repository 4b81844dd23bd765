"""Grafana-managed alert rules: one twin per engine alert rule, plus a data-freshness rule.

Each twin has data ``A`` (the ClickHouse query of :func:`hallkpi.dashboards.sql.rule_query`:
one row per hall, so one alert instance per hall with a ``hall`` label), ``B`` (reduce,
last: a no-op on the numbers a table query gives, kept so ``C`` always reads a reduced
value) and ``C`` (threshold with the engine's operator and threshold; its recovery
threshold is the engine's 10 % hysteresis), ``condition: C``, pending period = the rule's
``for_s``. No data (no hall has a value, or every guard fails) is OK; a query error is
Grafana's ``Error`` state (a ``DatasourceError`` alert). The freshness rule fires when a
hall's latest snapshot is older than two minutes, and on no data at all: the store
stopped receiving KPI rows.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from hallkpi.core.config import AlertRule
from hallkpi.core.engine import ALERT_CLEAR_ABOVE, ALERT_CLEAR_BELOW
from hallkpi.dashboards.query import DATASOURCE_UID, ClickHouseQueryBuilder, SqlQuery
from hallkpi.dashboards.sdk import alerting_builder as alerting
from hallkpi.dashboards.sdk import alerting_model, cogbuilder, common
from hallkpi.dashboards.sdk import expr_builder as expr
from hallkpi.dashboards.settings import GrafanaSettings
from hallkpi.dashboards.sql import freshness_query, rule_query

FOLDER_UID = "hallkpi"
GROUP = "hallkpi"
EXPR_UID = "__expr__"
WINDOW_S = 600
"""Rule queries look at the last 10 minutes: a hall with no newer snapshot drops out."""
FRESHNESS_RULE = "data_freshness"
FRESHNESS_MAX_S = 120.0

Comparison = Literal["gt", "gte", "lt", "lte"]
_OPS: dict[str, Comparison] = {
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
}


def duration(seconds: float) -> str:
    """Prometheus-style duration text, as Grafana prints it back: ``0s``, ``2m``, ``1m30s``."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out + (f"{ms}ms" if ms else "")


def rule_uid(name: str) -> str:
    """The fixed uid of a rule's twin (at most 40 characters, Grafana's limit)."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    uid = f"hallkpi-{clean}"
    if len(uid) <= 40:
        return uid
    return uid[:31] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def recovery(rule: AlertRule) -> tuple[Comparison, float]:
    """Grafana's recovery threshold for the engine's hysteresis (KPIS.md: a firing alert
    resolves below ``threshold * 0.9`` for ``>``/``>=`` rules, above ``* 1.1`` else;
    the factors are the engine's own, ``ALERT_CLEAR_BELOW``/``ABOVE``)."""
    if rule.op in (">", ">="):
        return "lt", rule.threshold * ALERT_CLEAR_BELOW
    return "gt", rule.threshold * ALERT_CLEAR_ABOVE


def _data(
    query: SqlQuery,
    condition: tuple[Comparison, float],
    unload: tuple[Comparison, float] | None,
    window: int,
) -> list[cogbuilder.Builder[alerting_model.Query]]:
    relative = alerting_model.RelativeTimeRange(from_val=window, to=0)
    a = (
        alerting.Query("A")
        .datasource_uid(DATASOURCE_UID)
        .relative_time_range(relative)
        .model(ClickHouseQueryBuilder().ref_id("A").sql(query))
    )
    expr_ref = common.DataSourceRef(type_val=EXPR_UID, uid=EXPR_UID)
    b = (
        alerting.Query("B")
        .datasource_uid(EXPR_UID)
        .model(expr.TypeReduce().ref_id("B").expression("A").reducer("last").datasource(expr_ref))
    )
    op, value = condition
    cond = expr.ExprTypeThresholdConditions().evaluator(
        expr.ExprTypeThresholdConditionsEvaluator().type(op).params([value])
    )
    if unload is not None:
        cond = cond.unload_evaluator(
            expr.ExprTypeThresholdConditionsUnloadEvaluator().type(unload[0]).params([unload[1]])
        )
    c = (
        alerting.Query("C")
        .datasource_uid(EXPR_UID)
        .model(
            expr.TypeThreshold().ref_id("C").expression("B").conditions([cond]).datasource(expr_ref)
        )
    )
    queries: list[cogbuilder.Builder[alerting_model.Query]] = [a, b, c]
    return queries


def _rule(title: str, uid: str, settings: GrafanaSettings) -> alerting.Rule:
    return (
        alerting.Rule(title)
        .uid(uid)
        .folder_uid(FOLDER_UID)
        .rule_group(GROUP)
        .org_id(1)
        .condition("C")
        .exec_err_state("Error")
        .is_paused(False)
    )


def twin(rule: AlertRule, settings: GrafanaSettings) -> alerting.Rule:
    """The Grafana twin of an engine rule."""
    db = settings.clickhouse.database
    where = "" if rule.horizon == "now" else f"({rule.horizon})"
    guard = ""
    if rule.guard is not None:
        g_kpi, g_horizon, g_min = rule.guard
        guard = f", when {g_kpi}({g_horizon}) >= {g_min:g}"
    text = f"{rule.kpi}{where} {rule.op} {rule.threshold:g}{guard}"
    held = f" for {duration(rule.for_s)}" if rule.for_s else ""
    severity = settings.severity_of(rule.name)
    return (
        _rule(f"hallkpi {rule.name}", rule_uid(rule.name), settings)
        .queries(
            _data(rule_query(db, rule), (_OPS[rule.op], rule.threshold), recovery(rule), WINDOW_S)
        )
        .for_val(duration(rule.for_s))
        .no_data_state("OK")
        .labels(
            {
                "source": "hallkpi",
                "engine_rule": rule.name,
                "kpi": rule.kpi,
                "severity": severity,
            }
        )
        .annotations(
            {
                "summary": f"{{{{ $labels.hall }}}}: {rule.name}, {text}{held} "
                "(now {{ $values.B.Value }})",
                "summary_zh": f"{{{{ $labels.hall }}}}大厅：{rule.name}，{text}{held}"
                "（当前 {{ $values.B.Value }}）",
                "description": f"Grafana twin of the hallkpi engine rule {rule.name!r}; "
                "it resolves past the engine's 10 % hysteresis.",
            }
        )
    )


def freshness(settings: GrafanaSettings) -> alerting.Rule:
    """A hall's KPI rows stopped (or all rows stopped: no data)."""
    db = settings.clickhouse.database
    return (
        _rule("hallkpi data freshness", rule_uid(FRESHNESS_RULE), settings)
        .queries(_data(freshness_query(db), ("gt", FRESHNESS_MAX_S), None, 3600))
        .for_val(duration(60))
        .no_data_state("Alerting")
        .labels(
            {
                "source": "hallkpi",
                "engine_rule": FRESHNESS_RULE,
                "severity": settings.severity_of(FRESHNESS_RULE),
            }
        )
        .annotations(
            {
                "summary": "{{ $labels.hall }}: no KPI snapshot for {{ $values.B.Value }} s",
                "summary_zh": "{{ $labels.hall }}大厅：{{ $values.B.Value }} 秒没有新的指标快照",
                "description": "The store stopped receiving hall_kpis rows: is hallkpi serve "
                "running and writing?",
            }
        )
    )


def rule_group(settings: GrafanaSettings) -> alerting.RuleGroup:
    """The rule group ``hallkpi``: every engine rule's twin and the freshness rule."""
    rules = [twin(r, settings) for r in settings.rules]
    return (
        alerting.RuleGroup(GROUP)
        .folder_uid(FOLDER_UID)
        .interval(settings.evaluate_every_s)
        .rules([*rules, freshness(settings)])
    )


_FILE_RULE_KEYS = (
    "uid",
    "title",
    "condition",
    "data",
    "noDataState",
    "execErrState",
    "for",
    "annotations",
    "labels",
    "isPaused",
)


def file_group(api_group: dict[str, Any], folder_title: str) -> dict[str, Any]:
    """The rule group in the provisioning-file form (``groups:`` of an alerting file)."""
    return {
        "orgId": 1,
        "name": api_group["title"],
        "folder": folder_title,
        "interval": duration(int(api_group["interval"])),
        "rules": [
            {k: rule[k] for k in _FILE_RULE_KEYS if k in rule} for rule in api_group["rules"]
        ],
    }
