"""The service's logic without I/O: what to do with a message and with a clock tick.

``HallService.handle(topic, payload)`` decodes and applies a payload and says what to
store and what to dead-letter; ``tick(now_ms)`` advances the engine clock and says which
alert changes, retained statuses and KPI rows are due. The MQTT and store adapters in
:mod:`hallkpi.ingest.service.app` only carry these out, so this file is tested without a
broker and the broker tests test the carrying.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from hallkpi.core import Engine, InvalidEvent
from hallkpi.core.engine import extension_record
from hallkpi.ingest.service.counters import Counters
from hallkpi.ingest.service.decode import (
    DEADLETTER_PAYLOAD_BYTES as DEADLETTER_KEEP,
)
from hallkpi.ingest.service.decode import DEFAULT_MAX_BYTES, deadletter, decode_payload
from hallkpi.ingest.service.extensions import Extensions
from hallkpi.ingest.service.topics import Topics

log = logging.getLogger("hallkpi.ingest.service")

_json = msgspec.json.encode


def _encode(doc: Any) -> bytes:
    """JSON of a decoded item for a dead letter; never raises (a dead letter must go
    out even for what JSON cannot carry, e.g. a lone surrogate from an AMI source)."""
    try:
        return _json(doc)
    except Exception:
        return repr(doc).encode("utf-8", errors="replace")


CLOCK_FIELDS = frozenset(
    {
        "longest_wait_s",
        "longest_call_wait_s",
        "quoted_wait_s",  # added by the extra_status hook of hallkpi.ingest.service.live_advice
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


DAY_MS = 86_400_000


@dataclass(frozen=True)
class Admission:
    """What the service lets into the engine besides the engine's own validation.

    ``max_lead_ms``/``max_age_ms``: an event further ahead of the wall clock, or older,
    is refused (one event dated 2200 would move the engine clock of every hall; one
    from 1971 would make a store block span a hundred monthly partitions). The age
    limit is longer than recovery looks back (today, the longest horizon and 31 days of
    carried-over open state) and short enough that a block spans at most three months.
    ``known``: the configured halls; events of other halls are refused. Without a list
    at most ``max_halls`` distinct halls are taken (a typo or a hostile producer must
    not grow memory, ``/snapshot`` and retained topics without bound)."""

    max_lead_ms: int | None = 300_000
    max_age_ms: int | None = 35 * DAY_MS
    known: frozenset[str] | None = None
    max_halls: int = 1000


@dataclass
class Handled:
    """What one message produced; ``hall`` is the topic's hall when events applied."""

    applied: list[dict[str, Any]] = field(default_factory=list)
    deadletters: list[bytes] = field(default_factory=list)
    # the same rejections as store rows: {"ts", "topic", "reason", "payload"}
    rows: list[dict[str, Any]] = field(default_factory=list)
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
        admission: Admission | None = None,
        wall_ms: Callable[[], int] | None = None,
        extensions: Extensions | None = None,
    ) -> None:
        """``wall_ms``: the wall clock (ms since the epoch) that events may not lead or
        trail by more than the admission limits; None (an event clock) checks neither.
        ``extensions``: where applied extension events go (contract v1.2)."""
        self.extensions = extensions
        self.engine = engine
        self.admission = admission or Admission()
        # Checked here against the wall clock, whether or not the engine checks too
        # (an engine built without limits, or before its first advance(), would not).
        self._wall_ms = wall_ms
        self._seen_halls: set[str] = set(engine.halls())
        self._logged_errors: set[str] = set()
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

    def resync(self) -> None:
        """Takes the engine's halls as seen (after recovery rebuilt the engine)."""
        self._seen_halls = set(self.engine.halls())

    # --- messages ----------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> Handled:
        """Decodes, checks and applies one MQTT payload of an events topic. Never
        raises: whatever goes wrong becomes a dead letter (the message is then
        acknowledged, so it cannot stall the session by being redelivered forever)."""
        try:
            return self._handle(topic, payload)
        except Exception as exc:  # a bug, not bad input: still an answer for the payload
            return self.internal_error(exc, topic, payload)

    def internal_error(self, exc: BaseException, topic: str, payload: bytes) -> Handled:
        """The answer for a payload whose handling raised: a dead letter with reason
        "internal error", counted, logged with its traceback once per kind of error."""
        out = Handled()
        self.counters.internal_errors += 1
        kind = f"{type(exc).__name__}: {str(exc)[:200]}"
        if kind not in self._logged_errors and len(self._logged_errors) < 100:
            self._logged_errors.add(kind)
            log.error("internal error handling a message on %s (logged once)", topic, exc_info=exc)
        self._reject(out, f"internal error: {type(exc).__name__}", topic, payload)
        return out

    def _handle(self, topic: str, payload: bytes) -> Handled:
        out = Handled()
        c = self.counters
        c.messages_received += 1
        parsed = self.topics.parse_events(topic)
        if parsed is None:
            self._reject(out, f"not an events topic: {topic!r}", topic, payload)
            return out
        _, hall = parsed
        refused = self._refuse_hall(hall)
        if refused is not None:
            c.halls_refused += 1
            self._reject(out, refused, topic, payload)
            return out
        if not self.halls.owns(hall):
            c.events_skipped_shard += 1
            return out
        decoded = decode_payload(payload, hall, max_bytes=self.max_payload_bytes)
        c.events_received += decoded.received
        for r in decoded.rejections:
            self._reject(out, r.reason, topic, _encode(r.item) if r.element else payload)
        now = self._wall_ms() if self._wall_ms is not None else None  # once a payload
        for event in decoded.events:
            self._push(out, event, topic, now)
        if out.applied:
            out.hall = hall
            self._seen_halls.add(hall)
        return out

    def _refuse_hall(self, hall: str) -> str | None:
        """Why events of ``hall`` are refused, or None."""
        a = self.admission
        if a.known is not None:
            if hall not in a.known:
                return f"unknown hall {hall!r}: not one of the {len(a.known)} configured halls"
        elif hall not in self._seen_halls and len(self._seen_halls) >= a.max_halls:
            return (
                f"hall {hall!r} refused: {a.max_halls} halls are served already "
                "(configure the halls, or raise [service] max_halls)"
            )
        return None

    def _out_of_clock(self, event: dict[str, Any], now: int | None) -> str | None:
        """Why ``event``'s time is refused (too far ahead of or behind the wall clock
        ``now``; None: an event clock, nothing to check)."""
        if now is None:
            return None
        ts = event.get("ts")
        if not isinstance(ts, int) or isinstance(ts, bool):
            return None  # the engine explains a ts that is no integer
        a = self.admission
        if a.max_lead_ms is not None and ts > now + a.max_lead_ms:
            return (
                f"'ts' {ts} is {(ts - now) / 1000:.0f} s ahead of the service's clock "
                f"(at most {a.max_lead_ms / 1000:.0f} s)"
            )
        if a.max_age_ms is not None and ts < now - a.max_age_ms:
            return (
                f"'ts' {ts} is {(now - ts) / 86_400_000:.1f} days old "
                f"(at most {a.max_age_ms / 86_400_000:.0f} days)"
            )
        return None

    def _push(self, out: Handled, event: dict[str, Any], source: str, now: int | None) -> None:
        c = self.counters
        why = self._out_of_clock(event, now)
        if why is not None:
            c.events_out_of_clock += 1
            self._reject(out, why, source, _encode(event))
            return
        try:
            if self.engine.push(event):
                c.events_applied += 1
                record = extension_record(event)
                if record is None:
                    out.applied.append(event)
                else:  # contract v1.2: stored as a record, routed to its room
                    out.applied.append(record)
                    c.extension_events += 1
                    if self.extensions is not None:
                        self.extensions.dispatch(record)
            else:
                c.events_duplicate += 1
        except InvalidEvent as exc:
            self._reject(out, str(exc), source, _encode(event))

    def apply_event(self, event: dict[str, Any], source: str) -> Handled:
        """Applies one event from a source other than MQTT (e.g. Asterisk AMI)."""
        try:
            out = Handled()
            hall = event.get("hall")
            if isinstance(hall, str):
                refused = self._refuse_hall(hall)
                if refused is not None:
                    self.counters.halls_refused += 1
                    self._reject(out, refused, source, _encode(event))
                    return out
                if not self.halls.owns(hall):
                    self.counters.events_skipped_shard += 1
                    return out
            self.counters.events_received += 1
            self._push(out, event, source, self._wall_ms() if self._wall_ms is not None else None)
            if out.applied:
                out.hall = str(hall)
                self._seen_halls.add(str(hall))
            return out
        except Exception as exc:
            return self.internal_error(exc, source, _encode(event))

    def _reject(self, out: Handled, reason: str, topic: str, payload: bytes) -> None:
        self.counters.events_rejected += 1
        self.counters.deadletters += 1
        out.deadletters.append(deadletter(reason, topic, payload))
        ts = self._wall_ms() if self._wall_ms is not None else self.engine.now
        row = {"ts": ts, "topic": topic, "reason": reason, "payload": payload[:DEADLETTER_KEEP]}
        out.rows.append(row)

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
