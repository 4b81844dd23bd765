"""Service counters, for logs and the Prometheus text at ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass, fields

_HELP = {
    "messages_received": "MQTT messages received on event topics",
    "events_received": "events decoded from payloads",
    "events_applied": "events applied by the engine",
    "events_duplicate": "events ignored as duplicates (same id)",
    "events_rejected": "events and payloads rejected (dead-lettered)",
    "events_late": "applied events older than every horizon",
    "events_skipped_shard": "events of halls another worker owns",
    "events_out_of_clock": "events refused as too far ahead of or behind the wall clock",
    "halls_refused": "payloads refused for their hall (not configured, or over max_halls)",
    "internal_errors": "payloads whose handling raised (dead-lettered as internal error)",
    "deadletters": "dead-letter messages published",
    "alerts": "alert state changes",
    "statuses_published": "retained hall status messages published",
    "spooled": "blocks waiting in the local spool",
    "store_lag_s": "seconds the oldest unwritten row has waited",
    "acks_pending": "messages applied and waiting for the store before their PUBACK",
    "store_healthy": "1 while the store takes writes, else 0",
    "broker_connected": "1 while connected to the MQTT broker, else 0",
    "upstream_lost_events": "events missing from producers' sequences (open gaps)",
    "upstream_gaps": "open gaps in producers' sequences",
    "extension_events": "extension events applied (contract v1.2)",
    "extension_unrouted": "extension events of a family no room registered (stored)",
    "extension_handler_errors": "extension events whose room's handler raised (stored)",
}

GAUGES = frozenset(
    {
        "spooled",
        "store_lag_s",
        "acks_pending",
        "store_healthy",
        "broker_connected",
        "upstream_lost_events",
        "upstream_gaps",
    }
)


@dataclass
class Counters:
    """Monotonic counts (since start, or restored from the store after a restart) and
    the gauges of :data:`GAUGES`."""

    messages_received: int = 0
    events_received: int = 0
    events_applied: int = 0
    events_duplicate: int = 0
    events_rejected: int = 0
    events_late: int = 0
    events_skipped_shard: int = 0
    events_out_of_clock: int = 0
    halls_refused: int = 0
    internal_errors: int = 0
    deadletters: int = 0
    alerts: int = 0
    statuses_published: int = 0
    spooled: int = 0
    store_lag_s: float = 0.0
    acks_pending: int = 0
    store_healthy: int = 1
    broker_connected: int = 0
    upstream_lost_events: int = 0
    upstream_gaps: int = 0
    extension_events: int = 0
    extension_unrouted: int = 0
    extension_handler_errors: int = 0

    def prometheus(self) -> str:
        """Prometheus text exposition format."""
        out = []
        for f in fields(self):
            name = f"hallkpi_{f.name}"
            kind = "gauge" if f.name in GAUGES else "counter"
            if kind == "counter":
                name += "_total"
            out.append(f"# HELP {name} {_HELP[f.name]}")
            out.append(f"# TYPE {name} {kind}")
            out.append(f"{name} {getattr(self, f.name)}")
        return "\n".join(out) + "\n"

    def summary(self) -> str:
        """One log line."""
        return (
            f"received {self.messages_received} msgs / {self.events_received} events, "
            f"applied {self.events_applied}, duplicate {self.events_duplicate}, "
            f"rejected {self.events_rejected}, late {self.events_late}, alerts {self.alerts}, "
            f"spooled {self.spooled}, store lag {self.store_lag_s:.1f} s, "
            f"acks pending {self.acks_pending}, lost upstream {self.upstream_lost_events}"
        )
