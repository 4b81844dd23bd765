"""Alert rules and the per-(hall, rule) state machine of KPIS.md, "Alerts"."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class AlertRule:
    """``value(kpi, horizon) op threshold`` held for ``for_s`` seconds.

    ``horizon`` is "now" for a gauge, else a horizon name ("15m", "today").
    ``guard`` is ``(kpi, horizon, minimum)``: the rule only holds while that figure is
    at least ``minimum``.
    """

    name: str
    kpi: str
    horizon: str
    op: str
    threshold: float
    for_s: float = 0
    guard: tuple[str, str, float] | None = None


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("wait_timeout", "longest_wait_s", "now", ">", 1800),
    AlertRule("dissatisfaction", "dissatisfied_share", "15m", ">=", 0.2, 0, ("ratings", "15m", 5)),
    AlertRule("congestion", "window_pressure", "now", ">=", 8, 120),
    AlertRule("low_answer_rate", "answer_rate", "15m", "<", 0.8, 0, ("calls_offered", "15m", 10)),
    AlertRule("call_queue", "calls_waiting", "now", ">=", 10, 60),
    AlertRule("opinion_overdue", "opinions_overdue", "now", ">=", 1, 0),
)


@dataclass
class AlertState:
    state: str = "ok"  # "ok", "pending" or "firing"
    pending_since: int = 0  # ms


def step(
    rule: AlertRule,
    st: AlertState,
    value: Any,
    guard_holds: bool,
    now: int,
) -> str | None:
    """Advance one (hall, rule) state at an evaluation; return the new state if changed."""
    holds = guard_holds and value is not None and OPS[rule.op](value, rule.threshold)
    if st.state == "ok":
        if not holds:
            return None
        if rule.for_s == 0:
            st.state = "firing"
        else:
            st.state = "pending"
            st.pending_since = now
        return st.state
    if st.state == "pending":
        if not holds:
            st.state = "ok"
            return st.state
        if now - st.pending_since >= rule.for_s * 1000:
            st.state = "firing"
            return st.state
        return None
    # firing: resolve on a failed guard, a null value, or past the hysteresis margin.
    if not guard_holds or value is None:
        st.state = "ok"
        return st.state
    if rule.op in (">", ">="):
        resolved = value < rule.threshold * 0.9
    else:
        resolved = value > rule.threshold * 1.1
    if resolved:
        st.state = "ok"
        return st.state
    return None
