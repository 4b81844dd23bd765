"""A quoted wait that tells the truth: what a ticket taken now will wait, with p10/p90.

KPIS.md's ``est_wait_s`` is ``(waiting + 1) x h / max(open_windows, 1)`` with ``h`` the
mean *handle* time. A window spends more than the handle time on each ticket (calling,
walking up, recalls, no-shows, the pause between tickets), and appointments called first
overtake a walk-in; so ``est_wait_s`` quotes too short. The predictor keeps its form but
uses the window's measured **cycle time** per ticket:

    wait = (waiting + 1) x cycle / max(open_windows, 1) x factor

``cycle`` is learned per hall from the engine's own counters, a few times a minute
(:meth:`WaitPredictor.observe`, not per event): over every interval that began with a
queue (all open windows busy), open-window seconds divided by the tickets called first
in it, exponentially weighted (``tau_s``). Until ``min_departures`` tickets were seen
that way, ``cycle = h + overhead_s``. ``factor`` accounts for priority tickets
overtaking (fit it with ``hallkpi backtest-wait --fit``). The spread: the time for
``waiting + 1`` window releases is taken as Gamma-distributed with shape
``(waiting + 1) / dispersion`` (``dispersion`` 1 would be Poisson releases; real
halls are burstier), quantiles by the Wilson-Hilferty approximation.

Quoting costs a few floating-point operations on the status document's own gauges
(``h`` is recovered from ``est_wait_s``), so it runs at status time. Settings::

    [quoted_wait]
    publish = "predictor"    # or "est_wait": which one the status calls quoted_wait_s
    overhead_s = 90
    factor = 1.13
    dispersion = 1.5
    tau_s = 1800
    min_departures = 10
    observe_every_s = 5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hallkpi.core.decide.advice import section_settings
from hallkpi.core.errors import ConfigError

Z10 = -1.2815515655446004  # standard normal quantiles of 0.1 and 0.9
Z90 = 1.2815515655446004


@dataclass(frozen=True)
class QuotedWaitSettings:
    """See the module doc."""

    publish: str = "predictor"
    overhead_s: float = 90.0
    factor: float = 1.13
    dispersion: float = 1.5
    tau_s: float = 1800.0
    min_departures: float = 10.0
    observe_every_s: float = 5.0

    def __post_init__(self) -> None:
        if self.publish not in ("predictor", "est_wait"):
            raise ConfigError("quoted_wait.publish must be 'predictor' or 'est_wait'")
        if not self.overhead_s >= 0:
            raise ConfigError("quoted_wait.overhead_s must be >= 0 seconds")
        for name in ("factor", "dispersion", "tau_s", "observe_every_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"quoted_wait.{name} must be > 0")
        if not self.min_departures >= 0:
            raise ConfigError("quoted_wait.min_departures must be >= 0")

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> QuotedWaitSettings:
        return section_settings(cls, raw, "quoted_wait")


def gamma_quantile(shape: float, z: float) -> float:
    """The quantile of Gamma(shape, 1) at the standard normal quantile ``z``
    (Wilson-Hilferty; within a few per cent for shape >= 1)."""
    if shape <= 0:
        return 0.0
    c = 1.0 / (9.0 * shape)
    v = 1.0 - c + z * math.sqrt(c)
    return shape * max(v, 0.0) ** 3


@dataclass(frozen=True)
class Quote:
    """A quoted wait in seconds with its 10th and 90th percentiles; ``cycle_s`` and
    ``source`` (``measured`` or ``handle+overhead``) say where the cycle came from."""

    wait_s: float
    p10_s: float
    p90_s: float
    cycle_s: float
    source: str


class WaitState:
    """What the predictor keeps per hall between observations (a handful of floats)."""

    __slots__ = (
        "at_ms",
        "busy_s",
        "called",
        "cancelled",
        "departures",
        "left",
        "open",
        "settled",
        "waiting",
    )

    def __init__(self) -> None:
        self.at_ms: int | None = None
        self.called = 0  # tickets called first since local midnight, last seen
        self.waiting = 0
        self.open = 0
        self.busy_s = 0.0  # decayed open-window seconds of intervals that began with a queue
        self.departures = 0.0  # decayed first calls in those intervals
        self.cancelled = 0  # tickets cancelled since local midnight, last seen
        self.left = 0.0  # decayed cancellations (waiting tickets that gave up)
        self.settled = 0.0  # decayed cancellations + first calls

    def observe(
        self,
        now_ms: int,
        *,
        called_today: int,
        cancelled_today: int,
        waiting: int,
        open_windows: int,
        tau_s: float,
    ) -> None:
        """Takes the hall's counters at ``now_ms`` (the ``today`` figures
        ``called_first`` and ``cancelled``, the gauges ``waiting`` and ``open_windows``);
        learns from the interval since the last observation: the cycle time if it began
        with a queue and open windows, and the share of waiting tickets that give up."""
        if self.at_ms is not None and now_ms < self.at_ms:
            return
        same_day = called_today >= self.called and cancelled_today >= self.cancelled
        if self.at_ms is not None and now_ms > self.at_ms and same_day:
            dt = (now_ms - self.at_ms) / 1000.0
            keep = math.exp(-dt / tau_s)
            calls = called_today - self.called
            if self.waiting > 0 and self.open > 0:
                self.busy_s = self.busy_s * keep + self.open * dt
                self.departures = self.departures * keep + calls
            if self.waiting > 0:
                gone = cancelled_today - self.cancelled
                self.left = self.left * keep + gone
                self.settled = self.settled * keep + gone + calls
        self.at_ms = now_ms
        self.called, self.cancelled = called_today, cancelled_today
        self.waiting, self.open = waiting, open_windows

    def cycle_s(self, min_departures: float) -> float | None:
        """The measured window time per ticket, or None while too few were seen."""
        if self.departures < max(min_departures, 1e-9) or self.busy_s <= 0:
            return None
        return self.busy_s / self.departures

    def leave_share(self, min_departures: float) -> float:
        """The share of waiting tickets that gave up lately (0 while too few were seen)."""
        if self.settled < max(min_departures, 1e-9):
            return 0.0
        return min(self.left / self.settled, 0.9)


def handle_from_status(doc: Mapping[str, Any]) -> float:
    """The handle time ``h`` behind a status document's ``est_wait_s`` (KPIS.md)."""
    waiting = int(doc.get("waiting") or 0)
    est = float(doc.get("est_wait_s") or 0.0)
    return est * max(int(doc.get("open_windows") or 0), 1) / (waiting + 1)


def quote(doc: Mapping[str, Any], state: WaitState | None, settings: QuotedWaitSettings) -> Quote:
    """The quote for a ticket taken now, from a hall's gauges (``Engine.gauges``, the
    status document) and its :class:`WaitState`."""
    waiting = int(doc.get("waiting") or 0)
    servers = max(int(doc.get("open_windows") or 0), 1)
    leave = state.leave_share(settings.min_departures) if state is not None else 0.0
    position = waiting * (1.0 - leave) + 1
    if settings.publish == "est_wait":
        mean, cycle, source = float(doc.get("est_wait_s") or 0.0), 0.0, "est_wait"
    else:
        measured = state.cycle_s(settings.min_departures) if state is not None else None
        if measured is not None:
            cycle, source = measured, "measured"
        else:
            cycle, source = handle_from_status(doc) + settings.overhead_s, "handle+overhead"
        mean = position * cycle / servers * settings.factor
    shape = position / settings.dispersion
    p10 = mean * gamma_quantile(shape, Z10) / shape
    p90 = mean * gamma_quantile(shape, Z90) / shape
    return Quote(mean, p10, p90, cycle, source)


class WaitPredictor:
    """The per-hall states and the settings: ``observe`` a few times a minute,
    ``quote`` or ``add_to_status`` whenever a status is built."""

    def __init__(self, settings: QuotedWaitSettings | None = None) -> None:
        self.settings = settings or QuotedWaitSettings()
        self.states: dict[str, WaitState] = {}
        self._next_ms: int | None = None

    def due(self, now_ms: int) -> bool:
        """True once every ``observe_every_s`` of the clock (then observe every hall)."""
        if self._next_ms is not None and now_ms < self._next_ms:
            return False
        self._next_ms = now_ms + int(self.settings.observe_every_s * 1000)
        return True

    def observe(
        self,
        hall: str,
        now_ms: int,
        *,
        called_today: int,
        cancelled_today: int,
        waiting: int,
        open_windows: int,
    ) -> None:
        state = self.states.get(hall)
        if state is None:
            state = self.states[hall] = WaitState()
        state.observe(
            now_ms,
            called_today=called_today,
            cancelled_today=cancelled_today,
            waiting=waiting,
            open_windows=open_windows,
            tau_s=self.settings.tau_s,
        )

    def quote(self, hall: str, doc: Mapping[str, Any]) -> Quote:
        return quote(doc, self.states.get(hall), self.settings)

    def add_to_status(self, hall: str, doc: dict[str, Any]) -> None:
        """The ``extra_status`` hook of the service: ``quoted_wait_s``, ``_p10_s`` and
        ``_p90_s``, rounded to whole seconds."""
        q = self.quote(hall, doc)
        doc["quoted_wait_s"] = round(q.wait_s)
        doc["quoted_wait_p10_s"] = round(q.p10_s)
        doc["quoted_wait_p90_s"] = round(q.p90_s)
