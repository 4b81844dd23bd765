"""The service's logic without I/O: what to do with a message and with a clock tick.

``HallService.handle(topic, payload)`` decodes and applies a payload and says what to
store and what to dead-letter; ``tick(now_ms)`` advances the engine clock and says which
alert changes, retained statuses and KPI rows are due. The MQTT and store adapters in
:mod:`hallkpi.ingest.serve` only carry these out, so this file is tested without a
broker and the broker tests test the carrying.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hallkpi.core import Engine, InvalidEvent
from hallkpi.ingest.counters import Counters
from hallkpi.ingest.decode import DEFAULT_MAX_BYTES, deadletter, decode_payload
from hallkpi.ingest.topics import Topics

_encode = msgspec.json.encode

CLOCK_FIELDS = frozenset(
    {
        "longest_wait_s",
        "longest_call_wait_s",
        "quoted_wait_s",  # added by the extra_status hook of hallkpi.ingest.live_advice
        "quoted_wait_p10_s",
        "quoted_wait_p90_s",
    }
)
"""Status fields that change with the clock alone."""


def shard_of(hall: str, shards: int) -> int:
    """Stable shard of a hall (the same on every machine and Python run)."""
    digest = hashlib.blake2b(hall.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass(frozen=True)
class HallFilter:
    """Which halls this worker owns: a list, a hash shard ``index/count``, or all."""

    halls: frozenset[str] | None = None
    shard: tuple[int, int] | None = None

    def owns(self, hall: str) -> bool:
        if self.halls is not None and hall not in self.halls:
            return False
        return self.shard is None or shard_of(hall, self.shard[1]) == self.shard[0]


@dataclass
class Handled:
    """What one message produced; ``hall`` is the topic's hall when events applied."""

    applied: list[dict[str, Any]] = field(default_factory=list)
    deadletters: list[bytes] = field(default_factory=list)
    hall: str | None = None


@dataclass
class Tick:
    """What one clock tick produced: ``(topic, payload, retain)`` messages and KPI rows."""

    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    alert_changes: list[dict[str, Any]] = field(default_factory=list)
    write_kpis: bool = False


class HallService:
    """Engine + topics + counters + status bookkeeping for one worker."""

    def __init__(
        self,
        engine: Engine,
        *,
        topics: Topics | None = None,
        halls: HallFilter | None = None,
        max_payload_bytes: int = DEFAULT_MAX_BYTES,
        kpi_interval_s: float = 10.0,
        status_interval_s: float = 1.0,
        status_refresh_s: float = 5.0,
        extra_status: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.topics = topics or Topics()
        self.halls = halls or HallFilter()
        self.max_payload_bytes = max_payload_bytes
        self.kpi_interval_ms = int(kpi_interval_s * 1000)
        self.status_interval_ms = int(status_interval_s * 1000)
        self.refresh_ms = int(status_refresh_s * 1000)
        self.extra_status = extra_status
        self.counters = Counters()
        self._last_status: dict[str, dict[str, Any]] = {}
        self._status_sent_at: dict[str, int] = {}
        self._last_kpis_ms: int | None = None
        self._late_base: int | None = None

    # --- messages ----------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> Handled:
        """Decodes, checks and applies one MQTT payload of an events topic."""
        out = Handled()
        c = self.counters
        c.messages_received += 1
        parsed = self.topics.parse_events(topic)
        if parsed is None:
            self._reject(out, f"not an events topic: {topic!r}", topic, payload)
            return out
        _, hall = parsed
        if not self.halls.owns(hall):
            c.events_skipped_shard += 1
            return out
        decoded = decode_payload(payload, hall, max_bytes=self.max_payload_bytes)
        c.events_received += len(decoded.events) + sum(
            1 for r in decoded.rejections if r[1] is not None
        )
        for reason, item in decoded.rejections:
            self._reject(out, reason, topic, payload if item is None else _encode(item))
        for event in decoded.events:
            try:
                if self.engine.push(event):
                    out.applied.append(event)
                    c.events_applied += 1
                else:
                    c.events_duplicate += 1
            except InvalidEvent as exc:
                self._reject(out, str(exc), topic, _encode(event))
        if out.applied:
            out.hall = hall
        return out

    def apply_event(self, event: dict[str, Any], source: str) -> Handled:
        """Applies one event from a source other than MQTT (e.g. Asterisk AMI)."""
        out = Handled()
        hall = event.get("hall")
        if isinstance(hall, str) and not self.halls.owns(hall):
            self.counters.events_skipped_shard += 1
            return out
        self.counters.events_received += 1
        try:
            if self.engine.push(event):
                out.applied.append(event)
                out.hall = str(hall)
                self.counters.events_applied += 1
            else:
                self.counters.events_duplicate += 1
        except InvalidEvent as exc:
            self._reject(out, str(exc), source, _encode(event))
        return out

    def _reject(self, out: Handled, reason: str, topic: str, payload: bytes) -> None:
        self.counters.events_rejected += 1
        self.counters.deadletters += 1
        out.deadletters.append(deadletter(reason, topic, payload))

    # --- clock -------------------------------------------------------------------------

    def status(self, hall: str) -> dict[str, Any]:
        """The retained status document of a hall: its ``now`` row plus ``ts``."""
        doc = self.engine.gauges(hall)
        if self.extra_status is not None:
            self.extra_status(hall, doc)
        doc["ts"] = self.engine.now
        return doc

    def tick(self, now_ms: int, wall_ms: int | None = None) -> Tick:
        """Advances the clock to ``now_ms`` and collects what is due; statuses are rate
        limited by ``wall_ms`` (default ``now_ms``), a clock that moves in real time."""
        out = Tick()
        # Late events are counted by the engine; read once a tick, not once a message.
        late = self.engine.diagnostics()["late_events"]
        if self._late_base is None:
            self._late_base = late - self.counters.events_late
        self.counters.events_late = late - self._late_base
        changes = self.engine.advance(now_ms)
        self.counters.alerts += len(changes)
        out.alert_changes = changes
        for change in changes:
            out.messages.append((self.topics.alerts(change["hall"]), _encode(change), False))
        out.messages.extend(self.due_statuses(now_ms if wall_ms is None else wall_ms))
        if self._last_kpis_ms is None or now_ms - self._last_kpis_ms >= self.kpi_interval_ms:
            self._last_kpis_ms = now_ms
            out.write_kpis = True
        return out

    def due_statuses(
        self, now_ms: int, halls: Iterable[str] | None = None
    ) -> list[tuple[str, bytes, bool]]:
        """Retained statuses due at ``now_ms`` (a real-time clock): a hall whose gauges
        changed, at most once per status interval; a change of the waiting times alone
        (they grow with the clock) only every refresh interval."""
        out = []
        for hall in halls if halls is not None else self.engine.halls():
            if not self.halls.owns(hall):
                continue
            sent = self._status_sent_at.get(hall)
            if sent is not None and now_ms - sent < self.status_interval_ms:
                continue
            doc = self.status(hall)
            last = self._last_status.get(hall)
            if last is not None:
                moved = [k for k in doc if k != "ts" and doc[k] != last.get(k)]
                if not moved:
                    continue
                assert sent is not None
                if set(moved) <= CLOCK_FIELDS and now_ms - sent < self.refresh_ms:
                    continue
            self._last_status[hall] = doc
            self._status_sent_at[hall] = now_ms
            self.counters.statuses_published += 1
            out.append((self.topics.status(hall), _encode(doc), True))
        return out
