"""How a KPI is shown: its Grafana unit, a bilingual label, and colour thresholds that
are exactly the alert rules' thresholds (red where the engine's condition holds).

For a ``>``/``>=`` rule the steps are green, then red from the threshold; for a
``<``/``<=`` rule red, then green from the threshold. Grafana colours a value equal to a
step with that step's colour, so at exactly the threshold a ``>`` rule shows red one
value early and a ``<=`` rule one value late: the boundary value itself is the only
difference from the engine. A KPI with no rule gets a neutral single step.
"""

from __future__ import annotations

from collections.abc import Sequence

from hallkpi.core.config import AlertRule
from hallkpi.core.engine import GAUGE_KPIS, INTEGER_KPIS
from hallkpi.dashboards.sdk import dashboard, dashboard_builder

OK = "green"
ALERT = "red"
NEUTRAL = "blue"

_SECONDS = {k for k in (*GAUGE_KPIS,) if k.endswith("_s")} | {
    "wait_mean_s",
    "wait_p50_s",
    "wait_p90_s",
    "wait_max_s",
    "handle_mean_s",
    "handle_p90_s",
    "asa_s",
    "aht_s",
}
_SHARES = {
    "window_open_rate",
    "wechat_share",
    "no_show_rate",
    "very_satisfied_share",
    "dissatisfied_share",
    "answer_rate",
    "service_level",
}

LABELS: dict[str, str] = {
    "waiting": "排队 Waiting",
    "longest_wait_s": "最长等待 Longest wait",
    "serving": "办理中 Serving",
    "open_windows": "开放窗口 Open windows",
    "paused_windows": "暂停窗口 Paused windows",
    "window_open_rate": "窗口开放率 Open rate",
    "window_pressure": "窗口压力 Window pressure",
    "est_wait_s": "预计等待 Est. wait",
    "calls_waiting": "来电排队 Calls waiting",
    "longest_call_wait_s": "来电最长等待 Longest call wait",
    "agents_available": "坐席空闲 Agents available",
    "agents_busy": "坐席忙 Agents busy",
    "agents_paused": "坐席暂停 Agents paused",
    "opinions_open": "未办结意见 Opinions open",
    "opinions_overdue": "超期意见 Opinions overdue",
    "issued": "取号 Issued",
    "wait_p50_s": "等待P50 Wait p50",
    "wait_p90_s": "等待P90 Wait p90",
    "wait_mean_s": "平均等待 Mean wait",
    "served": "办结 Served",
    "throughput_per_h": "每小时办结 Throughput/h",
    "handle_mean_s": "平均办理 Handle mean",
    "handle_p90_s": "办理P90 Handle p90",
    "no_show": "过号 No-shows",
    "no_show_rate": "过号率 No-show rate",
    "ratings": "评价数 Ratings",
    "rating_mean": "满意度均分 Rating mean",
    "dissatisfied": "不满意 Dissatisfied",
    "dissatisfied_share": "不满意率 Dissatisfied",
    "calls_offered": "呼入 Offered",
    "calls_answered": "接通 Answered",
    "calls_abandoned": "放弃 Abandoned",
    "calls_short_abandoned": "短时放弃 Short abandons",
    "calls_timeout": "超时 Timeouts",
    "answer_rate": "接通率 Answer rate",
    "service_level": "服务水平 Service level",
    "asa_s": "平均应答 ASA",
    "aht_s": "平均通话 AHT",
    "alerts_firing": "告警 Alerts firing",
}


def unit(kpi: str) -> str:
    """Grafana's unit id of a KPI (``s``, ``percentunit``, ``short``, ``none``)."""
    if kpi in _SECONDS:
        return "s"
    if kpi in _SHARES:
        return "percentunit"
    if kpi in INTEGER_KPIS or kpi == "alerts_firing":
        return "none"
    return "short"


def label(kpi: str) -> str:
    """The bilingual label of a KPI (Chinese, then English)."""
    return LABELS.get(kpi, kpi)


def rules_for(kpi: str, horizon: str, rules: Sequence[AlertRule]) -> list[AlertRule]:
    """The rules on ``kpi`` at ``horizon`` (``now`` for gauges)."""
    return [r for r in rules if r.kpi == kpi and r.horizon == horizon]


def threshold_steps(
    kpi: str, horizon: str, rules: Sequence[AlertRule]
) -> list[dashboard.Threshold]:
    """Colour steps from the rules on this KPI: their thresholds, nothing invented."""
    mine = rules_for(kpi, horizon, rules)
    if not mine:
        return [dashboard.Threshold(value=None, color=NEUTRAL)]
    low = any(r.op in ("<", "<=") for r in mine)
    high = any(r.op in (">", ">=") for r in mine)
    if low and high:  # a band: red below the lowest floor, green, red from the ceiling
        floor = max(r.threshold for r in mine if r.op in ("<", "<="))
        ceiling = min(r.threshold for r in mine if r.op in (">", ">="))
        return [
            dashboard.Threshold(value=None, color=ALERT),
            dashboard.Threshold(value=floor, color=OK),
            dashboard.Threshold(value=ceiling, color=ALERT),
        ]
    if low:
        floor = max(r.threshold for r in mine)
        return [
            dashboard.Threshold(value=None, color=ALERT),
            dashboard.Threshold(value=floor, color=OK),
        ]
    ceiling = min(r.threshold for r in mine)
    return [
        dashboard.Threshold(value=None, color=OK),
        dashboard.Threshold(value=ceiling, color=ALERT),
    ]


def thresholds(
    kpi: str, horizon: str, rules: Sequence[AlertRule]
) -> dashboard_builder.ThresholdsConfig:
    """The thresholds builder of :func:`threshold_steps`."""
    return (
        dashboard_builder.ThresholdsConfig()
        .mode(dashboard.ThresholdsMode.ABSOLUTE)
        .steps(threshold_steps(kpi, horizon, rules))
    )


def thresholds_value(
    kpi: str, horizon: str, rules: Sequence[AlertRule]
) -> dashboard.ThresholdsConfig:
    """The thresholds as a model (for field overrides)."""
    return thresholds(kpi, horizon, rules).build()
