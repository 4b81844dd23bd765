"""Engine configuration: alert rules and the TOML configuration file.

The file (``--config hallkpi.toml``) has these engine sections; other sections belong
to other packages (service, store, Grafana) and are ignored here::

    [engine]
    horizons_s = [300, 900, 3600]   # sliding horizons, seconds
    pane_ms = 1000
    timezone = "Asia/Shanghai"
    short_abandon_s = 5
    service_level_s = 20
    default_handle_s = 600
    opinion_sla_s = 172800
    max_lead_ms = 300000            # reject events this far ahead of advance() (default 0: off)
    max_age_ms = 0                  # reject events this far behind it (0: off)
    seq_grace_ms = 5000             # a hole in a producer's seq is lost after this long
    upstream_alert_s = 900          # events_lost_upstream clears after this without loss
    max_producers = 65536           # tracked (producer, epoch) pairs

    [halls.yuhua]
    windows = 12                    # configured windows (window_open_rate denominator)

    [alerts]
    defaults = true                 # start from the KPIS.md rules (default true)

    [alerts.rules.wait_timeout]     # override a default rule's fields...
    threshold = 1200

    [alerts.rules.long_handle]      # ...or add a rule
    kpi = "handle_mean_s"
    horizon = "1h"
    op = ">"
    threshold = 900
    for_s = 300
    guard = { kpi = "served", horizon = "1h", min = 5 }
    enabled = true
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from hallkpi.core import _engine
from hallkpi.core.errors import ConfigError
from hallkpi.core.timezone import DEFAULT_TIMEZONE


def engine_defaults() -> _engine.Config:
    """A new engine configuration holding the engine's own defaults (``Config`` in
    ``engine.hpp``): Python reads them from there and never restates them."""
    return _engine.Config()


_DEFAULTS = engine_defaults()

Op = Literal[">", ">=", "<", "<="]
_OPS: tuple[str, ...] = (">", ">=", "<", "<=")


@dataclass(frozen=True)
class AlertRule:
    """``kpi op threshold`` held for ``for_s`` seconds, while the optional guard
    ``guard_kpi(guard_horizon) >= guard_min`` holds. ``horizon`` is ``"now"`` for a
    gauge, else a horizon name such as ``"15m"`` or ``"today"``."""

    name: str
    kpi: str
    horizon: str
    op: Op
    threshold: float
    for_s: float = 0.0
    guard: tuple[str, str, float] | None = None

    def __post_init__(self) -> None:
        gauges = set(_engine.kpi_names("gauge"))
        windowed = set(_engine.kpi_names("windowed"))
        where = f"alert rule {self.name!r}"
        if not self.name:
            raise ConfigError("an alert rule needs a name")
        if self.op not in _OPS:
            raise ConfigError(f"{where}: op must be one of {', '.join(_OPS)}, not {self.op!r}")
        if not math.isfinite(self.threshold):
            raise ConfigError(f"{where}: threshold must be a finite number")
        if not (self.for_s >= 0 and math.isfinite(self.for_s)):
            raise ConfigError(f"{where}: for_s must be >= 0 seconds")
        checks = [(self.kpi, self.horizon)]
        if self.guard is not None:
            checks.append((self.guard[0], self.guard[1]))
        for kpi, horizon in checks:
            if kpi in gauges:
                if horizon != "now":
                    raise ConfigError(f"{where}: {kpi} is a gauge; its horizon is 'now'")
            elif kpi in windowed:
                if horizon == "now":
                    raise ConfigError(f"{where}: {kpi} needs a horizon such as '15m' or 'today'")
            else:
                raise ConfigError(f"{where}: unknown KPI {kpi!r}")

    def compiled(self) -> _engine.AlertRule:
        """The form the compiled engine takes."""
        return _engine.AlertRule(
            self.name,
            self.kpi,
            self.horizon,
            self.op,
            float(self.threshold),
            float(self.for_s),
            None if self.guard is None else (self.guard[0], self.guard[1], float(self.guard[2])),
        )


def default_rules() -> list[AlertRule]:
    """The KPIS.md default alert rules (the engine's own, ``alerts.hpp``)."""
    return [
        AlertRule(r.name, r.kpi, r.horizon, _op(r.op, r.name), r.threshold, r.for_s, r.guard)
        for r in _engine.default_rules()
    ]


def _op(op: object, rule: str) -> Op:
    if op in _OPS:
        return cast(Op, op)
    raise ConfigError(f"alert rule {rule!r}: op must be one of {', '.join(_OPS)}, not {op!r}")


@dataclass(frozen=True)
class EngineConfig:
    """Everything an Engine is built from; see :class:`hallkpi.core.Engine`."""

    horizons_s: tuple[int, ...] = tuple(_DEFAULTS.horizons_s)
    pane_ms: int = _DEFAULTS.pane_ms
    timezone: str = DEFAULT_TIMEZONE
    short_abandon_s: float = _DEFAULTS.short_abandon_s
    service_level_s: float = _DEFAULTS.service_level_s
    default_handle_s: float = _DEFAULTS.default_handle_s
    opinion_sla_s: int = _DEFAULTS.opinion_sla_s
    configured_windows: Mapping[str, int] | None = None
    alert_rules: Sequence[AlertRule] | None = None
    halls: tuple[str, ...] = ()
    max_payload_bytes: int = _DEFAULTS.max_payload_bytes
    max_lead_ms: int = _DEFAULTS.max_lead_ms
    max_age_ms: int = _DEFAULTS.max_age_ms
    seq_grace_ms: int = _DEFAULTS.seq_grace_ms
    upstream_alert_s: int = _DEFAULTS.upstream_alert_s
    max_producers: int = _DEFAULTS.max_producers
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`hallkpi.core.Engine`."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.pop("raw")
        return d


_ENGINE_KEYS: dict[str, type | tuple[type, ...]] = {
    "horizons_s": list,
    "pane_ms": int,
    "timezone": str,
    "short_abandon_s": (int, float),
    "service_level_s": (int, float),
    "default_handle_s": (int, float),
    "opinion_sla_s": int,
    "max_payload_bytes": int,
    "max_lead_ms": int,
    "max_age_ms": int,
    "seq_grace_ms": int,
    "upstream_alert_s": int,
    "max_producers": int,
}
_RULE_KEYS = {"kpi", "horizon", "op", "threshold", "for_s", "guard", "enabled"}


def _rule_from(name: str, table: Mapping[str, Any], base: AlertRule | None) -> AlertRule | None:
    unknown = set(table) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"[alerts.rules.{name}]: unknown keys {sorted(unknown)}")
    if table.get("enabled", True) is False:
        return None
    if base is None:
        missing = {"kpi", "horizon", "op", "threshold"} - set(table)
        if missing:
            raise ConfigError(f"[alerts.rules.{name}]: a new rule needs {sorted(missing)}")
    guard: tuple[str, str, float] | None = base.guard if base else None
    if "guard" in table:
        g = table["guard"]
        if g is False or g is None:
            guard = None
        elif isinstance(g, Mapping) and {"kpi", "horizon", "min"} <= set(g):
            guard = (str(g["kpi"]), str(g["horizon"]), float(g["min"]))
        else:
            raise ConfigError(f"[alerts.rules.{name}]: guard = {{kpi, horizon, min}} or false")
    try:
        return AlertRule(
            name=name,
            kpi=str(table.get("kpi", base.kpi if base else "")),
            horizon=str(table.get("horizon", base.horizon if base else "")),
            op=_op(table.get("op", base.op if base else ">"), name),
            threshold=float(table.get("threshold", base.threshold if base else 0)),
            for_s=float(table.get("for_s", base.for_s if base else 0)),
            guard=guard,
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"[alerts.rules.{name}]: {exc}") from exc


def config_from_mapping(doc: Mapping[str, Any], *, source: str = "configuration") -> EngineConfig:
    """Builds an EngineConfig from a parsed TOML document."""
    engine = doc.get("engine", {})
    if not isinstance(engine, Mapping):
        raise ConfigError(f"{source}: [engine] must be a table")
    kwargs: dict[str, Any] = {}
    for key, value in engine.items():
        want = _ENGINE_KEYS.get(key)
        if want is None:
            raise ConfigError(f"{source}: unknown key engine.{key} (known: {sorted(_ENGINE_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, want):
            raise ConfigError(f"{source}: engine.{key} has the wrong type")
        kwargs[key] = (
            tuple(int(v) for v in cast(list[Any], value)) if key == "horizons_s" else value
        )
    halls = doc.get("halls", {})
    if not isinstance(halls, Mapping):
        raise ConfigError(f"{source}: [halls] must be a table of halls")
    windows: dict[str, int] = {}
    for hall, table in halls.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: [halls.{hall}] must be a table")
        if "windows" in table:
            n = table["windows"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ConfigError(f"{source}: halls.{hall}.windows must be an integer >= 0")
            windows[hall] = n
    alerts = doc.get("alerts", {})
    if not isinstance(alerts, Mapping):
        raise ConfigError(f"{source}: [alerts] must be a table")
    rules: dict[str, AlertRule] = {}
    if alerts.get("defaults", True):
        rules = {r.name: r for r in default_rules()}
    for name, table in alerts.get("rules", {}).items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: [alerts.rules.{name}] must be a table")
        rule = _rule_from(name, table, rules.get(name))
        if rule is None:
            rules.pop(name, None)
        else:
            rules[name] = rule
    return EngineConfig(
        **kwargs,
        configured_windows=windows or None,
        alert_rules=list(rules.values()),
        halls=tuple(halls),
        raw=doc,
    )


def load_config(path: str | Path) -> EngineConfig:
    """Reads a TOML configuration file; raises ConfigError with the reason."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    return config_from_mapping(doc, source=str(p))
