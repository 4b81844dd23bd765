"""Live staffing advice: how many windows (or phone agents) a hall needs right now.

From the engine's figures of one hall (its KPIS.md document: ``now``, ``15m``, ``1h``)
and a target such as "80 % called within 10 minutes", Erlang C
(:func:`hallkpi.core.decide.erlang.servers_needed`) gives the windows needed for the current
arrival rate and handle time; the advice compares them with the windows open:
"open 2 more windows", "1 window can close" or "staffing is right", with the numbers
(arrival rate, handle time, open, needed, the predicted service level now and with the
advice). The same for the hall's phone queue with agents (available + busy).

Erlang C is a steady-state model: it does not see a queue that has already built up.
So the windows needed are at least those that serve the arrivals *and* clear the
current queue within ``backlog_clear_s`` (``load + waiting x handle / backlog_clear_s``),
and closing is never advised below the windows that would call the next ticket within
the target (``(waiting + 1) x handle / target_wait_s``).

Pure and typed: no I/O; :mod:`hallkpi.ingest.service.live_advice` runs it every minute in the
service, and the demo's wall shows it. Settings come from the ``[advice]`` section::

    [advice]
    target_wait_s = 600          # halls: 80 % called within 10 minutes
    target_level = 0.8
    call_target_wait_s = 20      # phone: 80 % answered within 20 s
    call_target_level = 0.8
    overhead_s = 0               # window time per ticket besides handling (call, walk)
    call_default_handle_s = 180  # when no call was completed in the last hour
    backlog_clear_s = 3600       # the queue already there is cleared within this
    interval_s = 60              # how often the service publishes and stores it
    arrivals_horizon = "15m"
    handle_horizon = "1h"
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from hallkpi.core.decide.erlang import erlang_c_model, servers_needed
from hallkpi.core.errors import ConfigError
from hallkpi.core.horizons import horizon_seconds

Kind = Literal["windows", "agents"]
Action = Literal["open", "close", "ok", "idle"]

T = TypeVar("T")


def section_settings(cls: type[T], raw: Mapping[str, Any], section: str, **base: Any) -> T:
    """A frozen settings dataclass from the TOML section ``[section]`` of ``raw``:
    unknown keys and wrong types are ConfigErrors; ``base`` overrides the defaults."""
    table = raw.get(section, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(table) - set(fields)
    if unknown:
        raise ConfigError(
            f"unknown keys in [{section}]: {sorted(unknown)} (known: {sorted(fields)})"
        )
    values = dict(base)
    for key, given in table.items():
        value = given
        default = fields[key].default
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok, value = number, float(value) if number else value
        elif isinstance(default, int):
            ok = number and isinstance(value, int)
        elif isinstance(default, str):
            ok = isinstance(value, str)
        elif isinstance(default, tuple):
            ok, value = isinstance(value, list), tuple(value) if isinstance(value, list) else value
        else:
            ok = True
        if not ok:
            raise ConfigError(f"{section}.{key} has the wrong type: {value!r}")
        values[key] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"[{section}]: {exc}") from exc


@dataclass(frozen=True)
class AdviceSettings:
    """Targets and inputs of the live advice (see the module doc)."""

    target_wait_s: float = 600.0
    target_level: float = 0.8
    call_target_wait_s: float = 20.0
    call_target_level: float = 0.8
    default_handle_s: float = 600.0  # [engine] default_handle_s
    call_default_handle_s: float = 180.0
    overhead_s: float = 0.0
    backlog_clear_s: float = 3600.0
    interval_s: float = 60.0
    arrivals_horizon: str = "15m"
    handle_horizon: str = "1h"

    def __post_init__(self) -> None:
        for name in ("target_level", "call_target_level"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"advice.{name} must be between 0 and 1 (e.g. 0.8)")
        for name in ("target_wait_s", "call_target_wait_s", "interval_s", "backlog_clear_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"advice.{name} must be > 0 seconds")
        for name in ("default_handle_s", "call_default_handle_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"advice.{name} must be > 0 seconds")
        if not self.overhead_s >= 0:
            raise ConfigError("advice.overhead_s must be >= 0 seconds")
        horizon_seconds(self.arrivals_horizon)
        horizon_seconds(self.handle_horizon)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> AdviceSettings:
        """From a parsed configuration file (``EngineConfig.raw``): ``[advice]``, and
        ``[engine] default_handle_s`` as the fallback handle time of windows."""
        engine = raw.get("engine", {})
        base: dict[str, Any] = {}
        if isinstance(engine, Mapping) and isinstance(engine.get("default_handle_s"), int | float):
            base["default_handle_s"] = float(engine["default_handle_s"])
        return section_settings(cls, raw, "advice", **base)


@dataclass(frozen=True)
class Advice:
    """The advice for one hall's windows or phone agents, with its numbers."""

    kind: Kind
    action: Action
    change: int  # > 0: open that many more; < 0: that many can close
    open: int
    needed: int
    waiting: int
    arrivals_per_h: float
    handle_s: float
    handle_source: str  # the horizon of the handle mean, or "default"
    target_wait_s: float
    target_level: float
    service_level_now: float | None
    service_level_advised: float | None
    erlang_needed: int
    backlog_needed: int  # to serve the arrivals and clear the queue in backlog_clear_s
    queue_needed: int  # for the next ticket to be called within the target

    @property
    def text(self) -> str:
        """One line for a person: what to do, and the numbers behind it."""
        unit = "window" if self.kind == "windows" else "agent"
        if self.action == "idle":
            return "closed: no arrivals, nobody waiting"
        numbers = f"{self.open} open, {self.needed} needed"
        if self.service_level_now is not None and self.service_level_advised is not None:
            target = _minutes(self.target_wait_s)
            numbers += (
                f"; {self.service_level_now:.0%} within {target} now, "
                f"{self.service_level_advised:.0%} advised"
            )
        if self.action == "open":
            n = self.change
            return f"open {n} more {unit}{'s' if n > 1 else ''} ({numbers})"
        if self.action == "close":
            n = -self.change
            return f"{n} {unit}{'s' if n > 1 else ''} can close ({numbers})"
        return f"staffing is right ({numbers})"

    @property
    def short(self) -> str:
        """A few characters for a wall screen: ``+2``, ``-1``, ``ok``."""
        if self.action == "open":
            return f"+{self.change}"
        if self.action == "close":
            return str(self.change)
        return "ok" if self.action == "ok" else "-"

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["text"] = self.text
        return d


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def service_level(servers: int, arrivals_per_h: float, handle_s: float, target_s: float) -> float:
    """Erlang C share served within ``target_s`` (1 with no arrivals, 0 with no servers)."""
    if arrivals_per_h <= 0:
        return 1.0
    if servers < 1:
        return 0.0
    return erlang_c_model(servers, arrivals_per_h, handle_s).service_level(target_s)


def staffing_advice(
    kind: Kind,
    *,
    arrivals_per_h: float,
    handle_s: float,
    servers: int,
    waiting: int,
    target_wait_s: float,
    target_level: float,
    backlog_clear_s: float = 3600.0,
    handle_source: str = "",
) -> Advice:
    """The advice for ``servers`` open windows or agents at ``arrivals_per_h`` arrivals
    and ``handle_s`` mean service time, with ``waiting`` already in the queue."""
    arrivals_per_h = max(float(arrivals_per_h), 0.0)
    if arrivals_per_h == 0 and waiting == 0 and servers == 0:
        return Advice(
            kind, "idle", 0, 0, 0, 0, 0.0, handle_s, handle_source,
            target_wait_s, target_level, None, None, 0, 0, 0,
        )  # fmt: skip
    erlang = servers_needed(
        arrivals_per_h, handle_s, target_wait_s=target_wait_s, target_level=target_level
    )
    load = arrivals_per_h * handle_s / 3600.0
    backlog = math.ceil(load + waiting * handle_s / backlog_clear_s - 1e-9) if waiting else 0
    needed = max(erlang, backlog, 1 if (waiting or arrivals_per_h) else 0)
    # never advise closing while the people already waiting would then wait too long
    queue = math.ceil((waiting + 1) * handle_s / target_wait_s - 1e-9) if waiting else 0
    if needed < servers:
        needed = min(servers, max(needed, queue))
    change = needed - servers
    action: Action = "open" if change > 0 else "close" if change < 0 else "ok"
    return Advice(
        kind=kind,
        action=action,
        change=change,
        open=servers,
        needed=needed,
        waiting=waiting,
        arrivals_per_h=arrivals_per_h,
        handle_s=handle_s,
        handle_source=handle_source,
        target_wait_s=target_wait_s,
        target_level=target_level,
        service_level_now=service_level(servers, arrivals_per_h, handle_s, target_wait_s),
        service_level_advised=service_level(needed, arrivals_per_h, handle_s, target_wait_s),
        erlang_needed=erlang,
        backlog_needed=backlog,
        queue_needed=queue,
    )


@dataclass(frozen=True)
class HallAdvice:
    """Both parts of a hall's advice; ``agents`` is None for a hall without a phone
    queue (no agents logged in and no calls)."""

    hall: str
    ts: int
    windows: Advice
    agents: Advice | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "hall": self.hall,
            "ts": self.ts,
            "windows": self.windows.as_dict(),
            "agents": None if self.agents is None else self.agents.as_dict(),
        }


def _rate(doc: Mapping[str, Any], horizon: str, kpi: str) -> float:
    value = doc.get(horizon, {}).get(kpi)
    return 0.0 if value is None else float(value) * 3600.0 / horizon_seconds(horizon)


def _mean(doc: Mapping[str, Any], horizon: str, kpi: str, default: float) -> tuple[float, str]:
    value = doc.get(horizon, {}).get(kpi)
    if value is None or not value > 0:
        return default, "default"
    return float(value), horizon


def hall_advice(
    hall: str, doc: Mapping[str, Any], settings: AdviceSettings | None = None, *, ts: int = 0
) -> HallAdvice:
    """The advice for one hall from its KPIS.md document (``Engine.hall(name)`` or
    ``snapshot()["halls"][name]``)."""
    s = settings or AdviceSettings()
    now = doc.get("now", {})
    handle, source = _mean(doc, s.handle_horizon, "handle_mean_s", s.default_handle_s)
    windows = staffing_advice(
        "windows",
        arrivals_per_h=_rate(doc, s.arrivals_horizon, "issued"),
        handle_s=handle + s.overhead_s,
        servers=int(now.get("open_windows") or 0),
        waiting=int(now.get("waiting") or 0),
        target_wait_s=s.target_wait_s,
        target_level=s.target_level,
        backlog_clear_s=s.backlog_clear_s,
        handle_source=source,
    )
    agents_on = int(now.get("agents_available") or 0) + int(now.get("agents_busy") or 0)
    calls_rate = _rate(doc, s.arrivals_horizon, "calls_offered")
    calls_waiting = int(now.get("calls_waiting") or 0)
    agents = None
    if agents_on or calls_rate or calls_waiting:
        aht, aht_source = _mean(doc, s.handle_horizon, "aht_s", s.call_default_handle_s)
        agents = staffing_advice(
            "agents",
            arrivals_per_h=calls_rate,
            handle_s=aht,
            servers=agents_on,
            waiting=calls_waiting,
            target_wait_s=s.call_target_wait_s,
            target_level=s.call_target_level,
            backlog_clear_s=s.backlog_clear_s,
            handle_source=aht_source,
        )
    return HallAdvice(hall, ts, windows, agents)
