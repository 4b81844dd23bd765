"""What ``/healthz``, ``/metrics`` and ``/gaps`` of a running service say.

Health is one reason or None (healthy), checked in order: the start stage (waiting for
the store, draining the spool, recovering); the broker connection (lost, refused,
unreachable); the call-event source; the store (refusing writes, spool disk full, or
unreachable while spooling). Events lost upstream (gaps in producers' sequences) do
not make the service unhealthy, it is working; they are notes on the ``200`` answer,
counted in ``/metrics`` and listed at ``/gaps``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from hallkpi.core import Engine
from hallkpi.ingest.store.native import PackedStrings

if TYPE_CHECKING:
    from hallkpi.ingest.service.app import Service


class Health:
    """The health and metrics of one :class:`~hallkpi.ingest.service.app.Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.stage: str | None = "starting"
        self.detail: str | None = None
        self.calls_error: str | None = None

    def waiting(self, reason: str) -> None:
        """What the current start stage waits for (told by each failed attempt)."""
        self.detail = reason

    def store_problem(self) -> str | None:
        writer = self.service.writer
        if writer is None:
            return None
        health = getattr(writer, "health", None)
        if health is not None:  # the writer's own verdict (refusals, full spool disk)
            verdict: str | None = health()
            if verdict is not None:
                return verdict
        acks = self.service.acks
        waiting = getattr(acks, "last_error", None) if acks is not None else None
        if waiting:  # a store round keeps failing: nothing is acknowledged meanwhile
            return f"the store does not take writes, acknowledgements wait: {waiting}"
        if writer.stats.last_error and len(writer.spool):
            return f"store unreachable, spooling: {writer.stats.last_error}"
        return None

    def problem(self) -> str | None:
        if self.stage is not None:
            return self.stage + (f" ({self.detail})" if self.detail else "")
        link = self.service.link
        if link is not None and not link.connected.is_set():
            return link.problem or "not connected to the MQTT broker"
        if self.calls_error is not None:
            return self.calls_error
        return self.store_problem()

    def gaps(self) -> list[dict[str, Any]]:
        """The open gaps of producers' sequences (``engine.producer_gaps()``)."""
        return list(self.service.engine.producer_gaps())

    def notes(self) -> list[str]:
        c = self.refresh()
        if not c.upstream_lost_events:
            return []
        return [
            f"{c.upstream_lost_events} events lost upstream in {c.upstream_gaps} gaps "
            "(see /gaps and the events_lost_upstream alert)"
        ]

    def refresh(self) -> Any:
        """Updates the counters' gauges; returns the counters."""
        s = self.service
        c = s.core.counters
        pending = getattr(s.acks, "pending", None) if s.acks is not None else None
        c.acks_pending = int(getattr(pending, "messages", 0))
        c.broker_connected = int(s.link is not None and s.link.connected.is_set())
        c.store_healthy = int(s.writer is not None and self.store_problem() is None)
        d = s.engine.diagnostics()
        c.upstream_lost_events = int(d.get("upstream_lost_events", 0))
        c.upstream_gaps = int(d.get("upstream_gaps", 0))
        c.extension_unrouted = s.extensions.unrouted
        c.extension_handler_errors = s.extensions.errors
        return c

    def metrics(self) -> str:
        text: str = self.refresh().prometheus()
        return text


def gap_rows(engine: Engine, now_ms: int) -> dict[str, Any] | None:
    """``upstream_gaps`` columns of the engine's gap changes since the last call, or
    None when there is none."""
    from hallkpi.ingest.store.schema import TABLES

    changes = engine.drain_gap_changes()
    if not changes:
        return None
    table = TABLES["upstream_gaps"]
    out: dict[str, Any] = {}
    for name, typ in table.columns:
        if name == "ts" and not any("ts" in ch for ch in changes):
            out["ts"] = np.full(len(changes), now_ms, np.int64)
        elif all(name in ch for ch in changes):
            values = [ch[name] for ch in changes]
            if "String" in typ:
                out[name] = PackedStrings.from_strs([str(v) for v in values])
            else:
                out[name] = np.array(values, np.int64)
    return out
