"""ReferenceEngine: a slow, obviously-correct model of KPIS.md (with docs/SEMANTICS.md).

It keeps every applied event and every recorded duration in lists and recomputes each
figure from scratch when asked. It has the API of ``hallkpi.core.Engine`` and is the
oracle of the differential tests; it is not meant to be fast.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from reference.alerts import DEFAULT_RULES, AlertRule, AlertState, step
from reference.clock import horizon_name, horizon_seconds, local_day, local_midnight_ms
from reference.gaps import GapModel
from reference.state import Applied, Call, Duration, Latest, Opinion, Ticket
from reference.validate import clock_violation, validate

MAX_PAYLOAD = 262_144

GAUGES = (
    "waiting",
    "longest_wait_s",
    "serving",
    "open_windows",
    "paused_windows",
    "window_open_rate",
    "window_pressure",
    "est_wait_s",
    "calls_waiting",
    "longest_call_wait_s",
    "agents_available",
    "agents_busy",
    "agents_paused",
    "opinions_open",
    "opinions_overdue",
)
# Types whose `staff` field is part of the contract (elsewhere it is an ignored extra).
STAFF_TYPES = frozenset(
    {
        "ticket.called",
        "ticket.started",
        "ticket.completed",
        "ticket.no_show",
        "ticket.rated",
        "window.opened",
    }
)
PERCENTILE_FIELDS = frozenset({"wait_p50_s", "wait_p90_s", "handle_p90_s"})


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _mean(values: Sequence[float]) -> float | None:
    return None if not values else math.fsum(values) / len(values)


def seconds_to_ms(seconds: float) -> float:
    """hold_s/talk_s as whole milliseconds, as the engine sums them (docs/SEMANTICS.md):
    floor(s * 1000 + 0.5) in double arithmetic; from 2**31 ms on, the unrounded product."""
    x = seconds * 1000.0
    return float(math.floor(x + 0.5)) if x < 2.0**31 else x


def _mean_ms(values_ms: Sequence[float]) -> float | None:
    """Mean in seconds of millisecond values: an exact sum divided once, as the engine."""
    if not values_ms:
        return None
    exact = sum(int(v) for v in values_ms if v < 2.0**31)
    return (float(exact) + sum(v for v in values_ms if v >= 2.0**31)) / len(values_ms) / 1000


def nearest_rank(values: Iterable[float], num: int, den: int) -> float | None:
    """The ceil(num/den * n)-th smallest value, with an exact integer rank."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = -(-num * len(ordered) // den)  # ceil without floats
    return ordered[max(rank, 1) - 1]


@dataclass
class PushResult:
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)


class ReferenceEngine:
    """Pure-Python model of the KPI engine. All times are epoch milliseconds."""

    def __init__(
        self,
        *,
        horizons_s: Sequence[int] = (300, 900, 3600),
        pane_ms: int = 1000,
        timezone: str = "Asia/Shanghai",
        short_abandon_s: float = 5,
        service_level_s: float = 20,
        default_handle_s: float = 600,
        opinion_sla_s: float = 172800,
        configured_windows: dict[str, int] | None = None,
        alert_rules: Sequence[Any] | None = None,
        max_lead_ms: int = 0,
        max_age_ms: int = 0,
        seq_grace_ms: int = 5000,
        upstream_alert_s: int = 900,
    ) -> None:
        self.horizons_s = tuple(int(h) for h in horizons_s)
        self.pane_ms = pane_ms
        self.tz = ZoneInfo(timezone)
        self.short_abandon_s = short_abandon_s
        self.service_level_s = service_level_s
        self.default_handle_s = default_handle_s
        self.opinion_sla_s = opinion_sla_s
        self.configured_windows = dict(configured_windows or {})
        rules = DEFAULT_RULES if alert_rules is None else alert_rules
        self.rules: list[AlertRule] = [
            AlertRule(
                r.name,
                r.kpi,
                r.horizon,
                r.op,
                r.threshold,
                r.for_s,
                None if r.guard is None else tuple(r.guard),
            )
            for r in rules
        ]
        for r in self.rules:  # every horizon a rule names must parse
            for h in (r.horizon, *(() if r.guard is None else (r.guard[1],))):
                if h not in ("now", "today"):
                    horizon_seconds(h)
        # "The longest sliding horizon" is read literally: the longest configured one.
        # A horizon kept only for a rule (or the hour of est_wait_s) does not extend it,
        # so a late event adds nothing to those figures either.
        self.longest_s = max(self.horizons_s)
        # What the engine keeps ids and idle producer streams for: every sliding horizon,
        # those of rules and the hour of est_wait_s included.
        kept = [*self.horizons_s, 3600]
        for r in self.rules:
            for h in (r.horizon, *(() if r.guard is None else (r.guard[1],))):
                if h not in ("now", "today"):
                    kept.append(horizon_seconds(h))
        self.kept_ms = max(kept) * 1000
        self.bounds = (max_lead_ms, max_age_ms)
        self.reference: int | None = None  # the latest advance(), for the clock bounds
        self.gaps = GapModel(grace_ms=seq_grace_ms, alert_ms=upstream_alert_s * 1000)
        self.day = local_day(self.tz, 0)

        self.now = 0
        self.halls: dict[str, None] = dict.fromkeys(self.configured_windows)
        self.seen_ids: set[str] = set()
        self.applied: list[Applied] = []
        self.durations: list[Duration] = []
        self.first_calls: list[tuple[str, int]] = []  # (hall, ts), non-late only
        self.fired: list[tuple[str, int]] = []  # (hall, ts) of transitions into firing
        self.tickets: dict[tuple[str, str], Ticket] = {}
        self.calls: dict[tuple[str, str], Call] = {}
        self.windows: dict[tuple[str, str], Latest] = {}
        self.agents: dict[tuple[str, str], Latest] = {}
        self.opinions: dict[tuple[str, str], Opinion] = {}
        self.staff: dict[str, dict[str, None]] = {}
        self.alert_states: dict[tuple[str, str], AlertState] = {}
        self.pending_changes: list[dict[str, Any]] = []
        self.events_applied = 0
        self.duplicate_events = 0
        self.late_events = 0
        self.rejected_events = 0

    # ----------------------------------------------------------------- clock helpers

    def pane(self, ts: int) -> int:
        return ts // self.pane_ms

    def inside(self, ts: int, horizon: str) -> bool:
        """Is an item recorded at ``ts`` inside ``horizon`` ("today" or "15m") now?"""
        if horizon == "today":
            return self.pane(ts) >= self.pane(local_midnight_ms(self.tz, self.now))
        panes = horizon_seconds(horizon) * 1000 // self.pane_ms
        return self.pane(ts) > self.pane(self.now) - panes

    def _is_late(self, ts: int) -> bool:
        panes = self.longest_s * 1000 // self.pane_ms
        outside = self.pane(ts) <= self.pane(self.now) - panes
        before_midnight = self.pane(ts) < self.pane(local_midnight_ms(self.tz, self.now))
        return outside and before_midnight

    # ------------------------------------------------------------------------ input

    def push(self, event: dict[str, Any]) -> bool:
        """Apply one event; False for a duplicate id; ValueError for an invalid event."""
        try:
            validate(event)
            if self.reference is not None:
                clock_violation(event["ts"], self.reference, *self.bounds)
        except ValueError:
            self.rejected_events += 1
            raise
        if event["id"] in self.seen_ids:
            self.duplicate_events += 1
            return False
        self.seen_ids.add(event["id"])
        old_pane = self.pane(self.now)
        self._move(event["ts"])
        late = self._is_late(event["ts"])
        self.events_applied += 1
        self.late_events += late
        hall = event["hall"]
        self.halls.setdefault(hall, None)
        self.applied.append(Applied(len(self.applied), dict(event), late))
        self._update_state(event, late)
        if self.pane(self.now) != old_pane:
            self._evaluate(list(self.halls))
        else:
            self._evaluate([hall])
        if "seq" in event:
            self.gaps.on_event(event, self.now)
        self._check_gaps()
        return True

    def _move(self, ts: int) -> None:
        """The clock to ``ts`` (never back); a new local day forgets idle producer streams
        (as the engine does when it forgets old ids)."""
        self.now = max(self.now, ts)
        day = local_day(self.tz, self.now)
        if day != self.day:
            self.day = day
            cutoff = min(local_midnight_ms(self.tz, self.now), self.now - self.kept_ms)
            self.gaps.forget_idle(cutoff - self.pane_ms)

    def _check_gaps(self) -> None:
        for hall, state, value, detail in self.gaps.check(self.now):
            self.pending_changes.append(
                {
                    "hall": hall,
                    "alert": "events_lost_upstream",
                    "state": state,
                    "value": value,
                    "threshold": 0.0,
                    "ts": self.now,
                    "detail": detail,
                }
            )
            if state == "firing":
                self.fired.append((hall, self.now))

    def producer_gaps(self) -> list[dict[str, Any]]:
        return self.gaps.producer_gaps()

    def drain_gap_changes(self) -> list[dict[str, Any]]:
        return self.gaps.drain_changes()

    def diagnostics(self) -> dict[str, int]:
        return {**self.snapshot()["diagnostics"], **self.gaps.diagnostics()}

    def push_json(self, payload: bytes) -> PushResult:
        result = PushResult()
        self._push_payload(payload, 0, result)
        return result

    def push_jsonl(self, data: bytes) -> PushResult:
        result = PushResult()
        index = 0
        for line in data.split(b"\n"):
            if not line.strip(b" \t\r"):
                continue
            index = self._push_payload(line, index, result)
        return result

    def _push_payload(self, payload: bytes, index: int, result: PushResult) -> int:
        """Push one JSON payload (object or array); return the next event index."""

        def reject(reason: str) -> None:
            result.rejected += 1
            result.rejections.append((index, reason))
            self.rejected_events += 1

        if len(payload) > MAX_PAYLOAD:
            reject("payload too large")
            return index + 1
        try:
            text = payload.decode("utf-8")
            doc = json.loads(text, parse_constant=_reject_constant)
            _check_unicode(doc)
        except (UnicodeError, ValueError, RecursionError) as exc:
            reject(f"invalid JSON: {exc}")
            return index + 1
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            try:
                applied = self.push(item)
            except ValueError as exc:
                # push already counted it in rejected_events
                result.rejected += 1
                result.rejections.append((index, str(exc)))
            else:
                if applied:
                    result.applied += 1
                else:
                    result.duplicates += 1
            index += 1
        return index

    # ------------------------------------------------------------------------ state

    def _record(
        self, kind: str, hall: str, start: int, end: int, *, late: bool, staff: str | None = None
    ) -> None:
        """Record a duration now that both ends are known (``late``: of the completing event)."""
        if end - start < 0:
            self.rejected_events += 1
            return
        if late:
            return
        self.durations.append(Duration(kind, hall, end - start, max(start, end), staff))

    def _update_state(self, ev: dict[str, Any], late: bool) -> None:
        etype: str = ev["type"]
        hall: str = ev["hall"]
        ts: int = ev["ts"]
        if etype in STAFF_TYPES:
            self.staff.setdefault(hall, {}).setdefault(ev["staff"], None)
        kind = etype.split(".", maxsplit=1)[0]
        if kind == "ticket":
            self._ticket(ev, late)
        elif kind == "window":
            key = (hall, ev["window"])
            state = {"opened": "open", "resumed": "open", "paused": "paused", "closed": "closed"}
            self._latest(self.windows, key, ts, state[etype.split(".")[1]])
        elif etype == "agent.state":
            self._latest(self.agents, (hall, ev["agent"]), ts, ev["state"])
        elif kind == "opinion":
            op = self.opinions.setdefault((hall, ev["opinion"]), Opinion())
            op.first_ts = ts if op.first_ts is None else min(op.first_ts, ts)
            if etype == "opinion.submitted":
                if op.submitted_ts is None:
                    op.submitted_ts = ts
            else:
                op.resolved = True
        elif kind == "call":
            call = self.calls.setdefault((hall, ev["call"]), Call())
            call.first_ts = ts if call.first_ts is None else min(call.first_ts, ts)
            if etype == "call.queued":
                if call.queued_ts is None:
                    call.queued_ts = ts
            elif etype in ("call.answered", "call.abandoned", "call.timeout", "call.completed"):
                call.finished = True

    def _latest(
        self, table: dict[tuple[str, str], Latest], key: tuple[str, str], ts: int, state: str
    ) -> None:
        seq = len(self.applied)
        cur = table.get(key)
        if cur is None or ts >= cur.ts:
            table[key] = Latest(ts, seq, state)

    def _ticket(self, ev: dict[str, Any], late: bool) -> None:
        etype: str = ev["type"]
        hall: str = ev["hall"]
        ts: int = ev["ts"]
        key = (hall, ev["ticket"])
        t = self.tickets.get(key)
        if etype == "ticket.issued":
            day = local_day(self.tz, ts)
            if t is not None and t.issued_day is not None and day > t.issued_day:
                t = None  # ticket numbers restart every day: drop the old ticket
            if t is None:
                t = self.tickets[key] = Ticket()
            t.first_ts = ts if t.first_ts is None else min(t.first_ts, ts)
            if t.issued_ts is None:
                t.issued_ts = ts
                t.issued_day = day
                if t.first_called_ts is not None:
                    self._record("wait", hall, ts, t.first_called_ts, late=late)
            return
        if t is None:
            t = self.tickets[key] = Ticket()
        t.first_ts = ts if t.first_ts is None else min(t.first_ts, ts)
        t.events += 1
        if etype in ("ticket.called", "ticket.started", "ticket.completed", "ticket.no_show"):
            t.at_window = True
        if etype == "ticket.called" and t.first_called_ts is None:
            t.first_called_ts = ts
            if not late:
                self.first_calls.append((hall, ts))
            if t.issued_ts is not None:
                self._record("wait", hall, t.issued_ts, ts, late=late)
        elif etype == "ticket.started" and t.started_ts is None:
            t.started_ts = ts
            if t.completed_ts is not None:
                self._record("handle", hall, ts, t.completed_ts, late=late, staff=t.completed_staff)
        elif etype == "ticket.completed" and t.completed_ts is None:
            t.completed_ts = ts
            t.completed_staff = ev["staff"]
            if t.started_ts is not None:
                self._record("handle", hall, t.started_ts, ts, late=late, staff=t.completed_staff)
        elif etype == "ticket.cancelled":
            t.cancelled = True

    # ---------------------------------------------------------------------- figures

    def gauges(self, hall: str) -> dict[str, Any]:
        """The hall's `now` row at the current clock."""
        now = self.now
        waiting_since = [
            t.issued_ts
            for (h, _), t in self.tickets.items()
            if h == hall and t.issued_ts is not None and not t.cancelled and not t.at_window
        ]
        serving = sum(
            1
            for (h, _), t in self.tickets.items()
            if h == hall and t.started_ts is not None and t.completed_ts is None
        )
        win_states = [w.state for (h, _), w in self.windows.items() if h == hall]
        open_windows = win_states.count("open")
        paused_windows = win_states.count("paused")
        if hall in self.configured_windows:
            denominator = self.configured_windows[hall]
        else:
            midnight = local_midnight_ms(self.tz, now)
            denominator = len(
                {
                    a.event["window"]
                    for a in self.applied
                    if a.event["hall"] == hall
                    and a.event["type"] == "window.opened"
                    and a.event["ts"] >= midnight
                }
            )
        hour_panes = 3600 * 1000 // self.pane_ms
        recent = [
            d.ms
            for d in self.durations
            if d.hall == hall
            and d.kind == "handle"
            and self.pane(d.ts) > self.pane(now) - hour_panes
        ]
        h = _mean_ms(recent)
        if h is None:
            h = self.default_handle_s
        calls_since = [
            c.queued_ts
            for (hh, _), c in self.calls.items()
            if hh == hall and c.queued_ts is not None and not c.finished
        ]
        agent_states = [a.state for (hh, _), a in self.agents.items() if hh == hall]
        open_since = [
            o.submitted_ts
            for (hh, _), o in self.opinions.items()
            if hh == hall and o.submitted_ts is not None and not o.resolved
        ]
        sla_ms = self.opinion_sla_s * 1000
        waiting = len(waiting_since)
        return {
            "waiting": waiting,
            "longest_wait_s": (now - min(waiting_since)) / 1000 if waiting_since else 0.0,
            "serving": serving,
            "open_windows": open_windows,
            "paused_windows": paused_windows,
            "window_open_rate": _ratio(open_windows, denominator),
            "window_pressure": waiting / max(open_windows, 1),
            "est_wait_s": (waiting + 1) * h / max(open_windows, 1),
            "calls_waiting": len(calls_since),
            "longest_call_wait_s": (now - min(calls_since)) / 1000 if calls_since else 0.0,
            "agents_available": agent_states.count("available"),
            "agents_busy": agent_states.count("busy"),
            "agents_paused": agent_states.count("paused"),
            "opinions_open": len(open_since),
            "opinions_overdue": sum(1 for s in open_since if now - s > sla_ms),
        }

    def _events_in(self, hall: str, horizon: str) -> list[dict[str, Any]]:
        return [
            a.event
            for a in self.applied
            if not a.late and a.event["hall"] == hall and self.inside(a.event["ts"], horizon)
        ]

    def _throughput_per_h(self, served: int, horizon: str) -> float:
        """``served * 3600 / horizon seconds``; today divides by the time since midnight."""
        if horizon == "today":
            elapsed_ms = max(self.now - local_midnight_ms(self.tz, self.now), self.pane_ms)
            return served * 3_600_000 / elapsed_ms
        return served * 3600 / horizon_seconds(horizon)

    def row(self, hall: str, horizon: str) -> dict[str, Any]:
        """The hall's windowed figures for ``horizon`` ("15m", "today"...)."""
        evs = self._events_in(hall, horizon)

        def of(etype: str) -> list[dict[str, Any]]:
            return [e for e in evs if e["type"] == etype]

        durs = [d for d in self.durations if d.hall == hall and self.inside(d.ts, horizon)]
        waits_ms = [d.ms for d in durs if d.kind == "wait"]
        handles_ms = [d.ms for d in durs if d.kind == "handle"]
        waits = [ms / 1000 for ms in waits_ms]
        handles = [ms / 1000 for ms in handles_ms]
        issued = of("ticket.issued")
        served = len(of("ticket.completed"))
        no_show = len(of("ticket.no_show"))
        scores = [e["score"] for e in of("ticket.rated")]
        answered = of("call.answered")
        abandoned = of("call.abandoned")
        long_abandoned = [e for e in abandoned if e["hold_s"] >= self.short_abandon_s]
        timeouts = len(of("call.timeout"))
        offered = len(answered) + len(long_abandoned) + timeouts
        call_scores = [e["score"] for e in of("call.rated")]
        first_calls = sum(1 for h, ts in self.first_calls if h == hall and self.inside(ts, horizon))
        fired = sum(1 for h, ts in self.fired if h == hall and self.inside(ts, horizon))
        return {
            "issued": len(issued),
            "wechat_share": _ratio(
                sum(1 for e in issued if e["channel"] in ("wechat", "appointment")), len(issued)
            ),
            "called_first": first_calls,
            "wait_mean_s": _mean_ms(waits_ms),
            "wait_p50_s": nearest_rank(waits, 1, 2),
            "wait_p90_s": nearest_rank(waits, 9, 10),
            "wait_max_s": max(waits) if waits else None,
            "served": served,
            "throughput_per_h": self._throughput_per_h(served, horizon),
            "handle_mean_s": _mean_ms(handles_ms),
            "handle_p90_s": nearest_rank(handles, 9, 10),
            "no_show": no_show,
            "cancelled": len(of("ticket.cancelled")),
            "no_show_rate": _ratio(no_show, no_show + served),
            "ratings": len(scores),
            "rating_mean": _mean(scores),
            "very_satisfied_share": _ratio(sum(1 for s in scores if s == 5), len(scores)),
            "dissatisfied_share": _ratio(sum(1 for s in scores if s <= 2), len(scores)),
            "calls_answered": len(answered),
            "calls_abandoned": len(long_abandoned),
            "calls_short_abandoned": len(abandoned) - len(long_abandoned),
            "calls_timeout": timeouts,
            "calls_offered": offered,
            "answer_rate": _ratio(len(answered), offered),
            "service_level": _ratio(
                sum(1 for e in answered if e["hold_s"] <= self.service_level_s), offered
            ),
            "asa_s": _mean_ms([seconds_to_ms(e["hold_s"]) for e in answered]),
            "aht_s": _mean_ms([seconds_to_ms(e["talk_s"]) for e in of("call.completed")]),
            "call_ratings": len(call_scores),
            "call_rating_mean": _mean(call_scores),
            "opinions_submitted": len(of("opinion.submitted")),
            "opinions_resolved": len(of("opinion.resolved")),
            "alerts_fired": fired,
        }

    def staff_row(self, hall: str, staff: str, horizon: str) -> dict[str, Any]:
        evs = [e for e in self._events_in(hall, horizon) if e.get("staff") == staff]
        handles = [
            d.ms
            for d in self.durations
            if d.hall == hall
            and d.kind == "handle"
            and d.staff == staff
            and self.inside(d.ts, horizon)
        ]
        scores = [e["score"] for e in evs if e["type"] == "ticket.rated"]
        return {
            "served": sum(1 for e in evs if e["type"] == "ticket.completed"),
            "handle_mean_s": _mean_ms(handles),
            "ratings": len(scores),
            "rating_mean": _mean(scores),
            "dissatisfied": sum(1 for s in scores if s <= 2),
            "no_show": sum(1 for e in evs if e["type"] == "ticket.no_show"),
        }

    def orphan_events(self) -> int:
        return sum(t.events for t in self.tickets.values() if t.issued_ts is None)

    def snapshot(self) -> dict[str, Any]:
        """Every figure, recomputed from scratch, in the KPIS.md JSON shape."""
        names = [horizon_name(h) for h in self.horizons_s] + ["today"]
        halls: dict[str, Any] = {}
        for hall in self.halls:
            doc: dict[str, Any] = {"now": self.gauges(hall)}
            for name in names:
                doc[name] = self.row(hall, name)
            doc["staff"] = {
                s: {name: self.staff_row(hall, s, name) for name in names}
                for s in self.staff.get(hall, {})
            }
            halls[hall] = doc
        return {
            "now": self.now,
            "halls": halls,
            "diagnostics": {
                "events_applied": self.events_applied,
                "duplicate_events": self.duplicate_events,
                "late_events": self.late_events,
                "orphan_events": self.orphan_events(),
                "rejected_events": self.rejected_events,
                **(self.gaps.diagnostics() if self.gaps.seen else {}),
            },
        }

    # ----------------------------------------------------------------------- alerts

    def advance(self, now_ms: int) -> list[dict[str, Any]]:
        """Move the clock (never back), evaluate every hall, return undrained changes."""
        self.reference = now_ms if self.reference is None else max(self.reference, now_ms)
        self._move(now_ms)
        self._evaluate(list(self.halls))
        self._check_gaps()
        return self.drain_alerts()

    def drain_alerts(self) -> list[dict[str, Any]]:
        out, self.pending_changes = self.pending_changes, []
        return out

    def _evaluate(self, halls: list[str]) -> None:
        for hall in halls:
            self._evaluate_hall(hall)

    def _evaluate_hall(self, hall: str) -> None:
        cache: dict[str, dict[str, Any]] = {}

        def value(kpi: str, horizon: str) -> Any:
            if horizon not in cache:
                cache[horizon] = self.gauges(hall) if horizon == "now" else self.row(hall, horizon)
            return cache[horizon][kpi]

        for rule in self.rules:
            val = value(rule.kpi, rule.horizon)
            guard_ok = True
            if rule.guard is not None:
                g_val = value(rule.guard[0], rule.guard[1])
                guard_ok = g_val is not None and g_val >= rule.guard[2]
            st = self.alert_states.setdefault((hall, rule.name), AlertState())
            new = step(rule, st, val, guard_ok, self.now)
            if new is None:
                continue
            self.pending_changes.append(
                {
                    "hall": hall,
                    "alert": rule.name,
                    "state": new,
                    "value": val,
                    "threshold": rule.threshold,
                    "ts": self.now,
                }
            )
            if new == "firing":
                self.fired.append((hall, self.now))
                cache.clear()  # alerts_fired changed


def _check_unicode(doc: Any) -> None:
    """A lone surrogate escape ("\\ud800") anywhere makes the payload invalid text."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
