"""The KPI engine's Python face: a thin typed subclass of the compiled engine.

Every figure is defined in KPIS.md; the work happens in C++ (``ext/``). ``push`` is the
compiled method itself, so a dict event costs one crossing into C++.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from hallkpi.core import _engine
from hallkpi.core.config import AlertRule, EngineConfig, default_rules, engine_defaults, load_config
from hallkpi.core.errors import ConfigError, InvalidEvent
from hallkpi.core.timezone import DEFAULT_TIMEZONE, tz_segments

_engine._set_invalid_event(InvalidEvent)  # noqa: SLF001 (the extension module is core's own)

GAUGE_KPIS: tuple[str, ...] = tuple(_engine.kpi_names("gauge"))
"""Names of the gauges (the ``now`` row)."""
WINDOWED_KPIS: tuple[str, ...] = tuple(_engine.kpi_names("windowed"))
"""Names of the windowed figures (one row per horizon)."""
STAFF_KPIS: tuple[str, ...] = tuple(_engine.kpi_names("staff"))
"""Names of the per-staff figures."""
INTEGER_KPIS: frozenset[str] = frozenset(_engine.integer_kpis())
"""KPIs that are counts."""
DEFAULT_RULES: tuple[AlertRule, ...] = tuple(default_rules())
EVENT_STRING_FIELDS: tuple[str, ...] = (
    "id",
    "type",
    "hall",
    "ticket",
    "service",
    "channel",
    "window",
    "staff",
    "opinion",
    "call",
    "queue",
    "agent",
    "state",
)
"""The string fields of EVENTS.md, as ``push_columns`` and the store take them."""
EVENT_SEQUENCE_FIELDS: tuple[str, ...] = ("producer", "seq", "epoch")
"""The optional fields of contract v1.1: ``producer`` (string), ``seq``, ``epoch`` (int).
As ``push_columns`` columns: ``producer`` a string column (empty or None: absent), ``seq``
int64 (-1: absent), ``epoch`` int64 (0, the default epoch, also when absent)."""

AlertChange = dict[str, Any]
"""``{"hall", "alert", "state", "value", "threshold", "ts"}``, plus ``"detail"`` (the
producers and missing ranges) for the built-in ``events_lost_upstream`` alert."""
GapChange = dict[str, Any]
"""``{"producer", "epoch", "hall", "first_seq", "last_seq", "missing", "since_ts",
"state", "ts"}`` with ``state`` ``"missing"`` (a hole reported) or ``"filled"`` (seqs of a
reported hole that arrived late; ``missing`` is then how many)."""
UPSTREAM_RULE: str = _engine.UPSTREAM_RULE
"""Name of the built-in alert on events lost upstream (see docs/SEMANTICS.md)."""
ALERT_CLEAR_BELOW: float = _engine.ALERT_CLEAR_BELOW
"""Hysteresis: a firing ``>``/``>=`` alert clears below ``threshold * ALERT_CLEAR_BELOW``."""
ALERT_CLEAR_ABOVE: float = _engine.ALERT_CLEAR_ABOVE
"""Hysteresis: a firing ``<``/``<=`` alert clears above ``threshold * ALERT_CLEAR_ABOVE``."""
_D = engine_defaults()


EXTENSION_TYPES: Mapping[str, tuple[tuple[str, str, bool], ...]] = {
    t: tuple(fields) for t, fields in _engine.extension_types().items()
}
"""Contract v1.2: the extension event types the engine validates, each with its own
fields ``(name, kind, required)``, kind ``string``, ``int`` or ``number``
(``ext/include/hallkpi/extension_events.hpp``; docs/SEMANTICS.md)."""

_EXT_COMMON = ("id", "type", "ts", "hall", "producer", "seq", "epoch")


def extension_family(event_type: str) -> str | None:
    """The family of an extension type (``appointment`` of ``appointment.booked``), or
    None when ``event_type`` is not one."""
    return event_type.split(".", 1)[0] if event_type in EXTENSION_TYPES else None


def extension_record(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The plain record of an extension event the engine applied (its common fields
    and its own fields; other keys dropped), as ``push_json`` returns it; None for an
    event of another type."""
    fields = EXTENSION_TYPES.get(event.get("type"))  # type: ignore[arg-type]
    if fields is None:
        return None
    names = (*_EXT_COMMON, *(f[0] for f in fields))
    return {k: event[k] for k in names if k in event}


@dataclass(frozen=True)
class PushResult:
    """What a payload did: events applied, duplicates ignored, events rejected, and for
    each rejection ``(index, reason)`` where index is the array element (0-based) for
    ``push_json``, the line (1-based) for ``push_jsonl``, the row for ``push_columns``."""

    applied: int
    duplicates: int
    rejected: int
    rejections: tuple[tuple[int, str], ...]
    # contract v1.2: ``(index, record)`` of each applied extension event (see
    # ``extension_record``), the index counted as for the rejections
    extensions: tuple[tuple[int, dict[str, Any]], ...] = ()

    @classmethod
    def _of(cls, t: tuple[Any, ...]) -> PushResult:
        return cls(t[0], t[1], t[2], tuple(t[3]), tuple(t[4]) if len(t) > 4 else ())

    def __add__(self, other: PushResult) -> PushResult:
        return PushResult(
            self.applied + other.applied,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            self.rejections + other.rejections,
            self.extensions + other.extensions,
        )


class Engine(_engine.Engine):
    """The sliding-window KPI engine of KPIS.md, for any number of halls.

    Times are milliseconds since the Unix epoch (UTC); durations in the output are
    seconds. ``horizons_s`` are the sliding horizons in seconds (named ``5m``, ``15m``,
    ``1h``); ``today`` is always added. ``configured_windows`` maps a hall to its number
    of windows. ``alert_rules`` replaces the KPIS.md defaults when given. ``halls`` are
    listed in every snapshot even before their first event.

    Clock bounds (0 = off): once ``advance()`` gave a reference clock, an event with
    ``ts`` more than ``max_lead_ms`` ahead of it, or more than ``max_age_ms`` behind it,
    is rejected. Upstream loss (events with ``producer`` and ``seq``): a hole in a
    producer's sequence is reported after ``seq_grace_ms`` of engine time; the
    ``events_lost_upstream`` alert clears ``upstream_alert_s`` after the last new loss
    (0 turns the alert off); at most ``max_producers`` (producer, epoch) pairs are tracked.
    """

    def __init__(
        self,
        *,
        horizons_s: Sequence[int] = tuple(_D.horizons_s),
        pane_ms: int = _D.pane_ms,
        timezone: str = DEFAULT_TIMEZONE,
        short_abandon_s: float = _D.short_abandon_s,
        service_level_s: float = _D.service_level_s,
        default_handle_s: float = _D.default_handle_s,
        opinion_sla_s: int = _D.opinion_sla_s,
        configured_windows: Mapping[str, int] | None = None,
        alert_rules: Iterable[AlertRule] | None = None,
        halls: Iterable[str] = (),
        max_payload_bytes: int = _D.max_payload_bytes,
        max_lead_ms: int = _D.max_lead_ms,
        max_age_ms: int = _D.max_age_ms,
        seq_grace_ms: int = _D.seq_grace_ms,
        upstream_alert_s: int = _D.upstream_alert_s,
        max_producers: int = _D.max_producers,
    ) -> None:
        if pane_ms <= 0 or 900_000 % pane_ms:
            raise ConfigError(
                "pane_ms must divide 15 minutes (900000 ms), so that local midnight starts a pane"
            )
        if any(h <= 0 for h in horizons_s) or len(set(horizons_s)) != len(horizons_s):
            raise ConfigError("horizons_s must be distinct positive numbers of seconds")
        for name, v in (
            ("short_abandon_s", short_abandon_s),
            ("service_level_s", service_level_s),
            ("default_handle_s", default_handle_s),
            ("opinion_sla_s", opinion_sla_s),
        ):
            if not v >= 0:
                raise ConfigError(f"{name} must be >= 0 seconds")
        if max_payload_bytes <= 0:
            raise ConfigError("max_payload_bytes must be > 0")
        for name, n in (
            ("max_lead_ms", max_lead_ms),
            ("max_age_ms", max_age_ms),
            ("seq_grace_ms", seq_grace_ms),
            ("upstream_alert_s", upstream_alert_s),
        ):
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ConfigError(f"{name} must be an integer >= 0 (0 turns it off), not {n!r}")
        if isinstance(max_producers, bool) or not isinstance(max_producers, int):
            raise ConfigError(f"max_producers must be an integer > 0, not {max_producers!r}")
        if max_producers <= 0:
            raise ConfigError(f"max_producers must be an integer > 0, not {max_producers!r}")
        rules = list(DEFAULT_RULES if alert_rules is None else alert_rules)
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ConfigError("alert rule names must be unique")
        self.timezone = timezone
        self.alert_rules: tuple[AlertRule, ...] = tuple(rules)
        try:
            config = engine_defaults()
            config.horizons_s = [int(h) for h in horizons_s]
            config.pane_ms = int(pane_ms)
            config.tz_segments = list(tz_segments(timezone))
            config.short_abandon_s = float(short_abandon_s)
            config.service_level_s = float(service_level_s)
            config.default_handle_s = float(default_handle_s)
            config.opinion_sla_s = int(opinion_sla_s)
            config.alert_rules = [r.compiled() for r in rules]
            config.configured_windows = sorted((configured_windows or {}).items())
            config.halls = list(halls)
            config.max_payload_bytes = int(max_payload_bytes)
            config.max_lead_ms = max_lead_ms
            config.max_age_ms = max_age_ms
            config.seq_grace_ms = seq_grace_ms
            config.upstream_alert_s = upstream_alert_s
            config.max_producers = max_producers
            super().__init__(config)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    @classmethod
    def from_config(cls, path: str | Path | EngineConfig) -> Engine:
        """An engine built from a TOML configuration file (or a loaded EngineConfig)."""
        config = path if isinstance(path, EngineConfig) else load_config(path)
        return cls(**config.engine_kwargs())

    def push_json(self, payload: bytes | bytearray | memoryview) -> PushResult:
        """Applies one JSON object or a JSON array of objects. Never raises on bad data:
        invalid JSON, an over-size payload or invalid events are counted and explained."""
        return PushResult._of(self._push_json(payload))  # noqa: SLF001 (PushResult's own constructor, this module)

    def push_jsonl(self, data: bytes | bytearray | memoryview) -> PushResult:
        """Applies JSON lines (each non-blank line one object or array)."""
        return PushResult._of(self._push_jsonl(data))  # noqa: SLF001 (PushResult's own constructor, this module)

    def push_columns(
        self,
        columns: Mapping[str, npt.NDArray[Any]],
        *,
        trace: tuple[str, str] | Sequence[tuple[str, str]] | None = None,
    ) -> tuple[PushResult, npt.NDArray[np.float64] | None]:
        """Applies a columnar batch of events (for backfills), row by row in order.

        ``columns`` holds 1-d numpy arrays of one length, named as the event fields:
        ``id``, ``type``, ``hall`` and the other string fields as dtype ``S`` (UTF-8
        bytes; empty means absent) or object (str, None means absent); ``ts`` int64 ms;
        ``score`` int64 (0 means absent); ``hold_s``/``talk_s`` float64 (NaN means
        absent); optionally ``producer``, ``seq``, ``epoch`` (EVENT_SEQUENCE_FIELDS).
        With ``trace=(kpi, horizon)`` it also returns, for every row, that KPI of the
        row's hall right after the row was applied (NaN for a rejected or
        duplicate row); use horizon ``"now"`` for gauges. With a list of such pairs it
        returns them all, one column each (shape ``(rows, len(trace))``): a backfill
        gets every figure it needs from one pass.
        """
        single = trace is not None and len(trace) == 2 and isinstance(trace[0], str)
        given = [] if trace is None else [trace] if single else trace
        pairs = [(str(p[0]), str(p[1])) for p in given]
        result, values = self._push_columns(dict(columns), pairs)
        if single and values is not None:
            values = values[:, 0]
        return PushResult._of(result), values  # noqa: SLF001 (PushResult's own constructor, this module)

    def advance(self, now_ms: int) -> list[AlertChange]:
        """Moves the clock to ``now_ms`` (never back), evaluates every hall's alert
        rules, and returns every alert change not drained yet, oldest first."""
        self._advance(int(now_ms))
        return self.drain_alerts()

    def producer_gaps(self) -> list[dict[str, Any]]:
        """The holes reported missing and still open, sorted by producer, epoch and seq:
        ``{"producer", "epoch", "hall", "first_seq", "last_seq", "missing", "since_ts"}``
        (``hall`` and ``since_ts``: of the event that revealed the hole). Their
        ``missing`` add up to ``diagnostics()["upstream_lost_events"]``."""
        return super().producer_gaps()

    def drain_gap_changes(self) -> list[GapChange]:
        """Holes reported (``state`` ``"missing"``) and late arrivals into reported holes
        (``"filled"``) since the last call, oldest first; for the store and MQTT."""
        return super().drain_gap_changes()
