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
    "deadletters": "dead-letter messages published",
    "alerts": "alert state changes",
    "statuses_published": "retained hall status messages published",
    "spooled": "blocks waiting in the local spool",
    "store_lag_s": "seconds the oldest unwritten row has waited",
}


@dataclass
class Counters:
    """Monotonic counts since start (store_lag_s and spooled are gauges)."""

    messages_received: int = 0
    events_received: int = 0
    events_applied: int = 0
    events_duplicate: int = 0
    events_rejected: int = 0
    events_late: int = 0
    events_skipped_shard: int = 0
    deadletters: int = 0
    alerts: int = 0
    statuses_published: int = 0
    spooled: int = 0
    store_lag_s: float = 0.0

    def prometheus(self) -> str:
        """Prometheus text exposition format."""
        out = []
        for f in fields(self):
            name = f"hallkpi_{f.name}"
            kind = "gauge" if f.name in ("spooled", "store_lag_s") else "counter"
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
            f"spooled {self.spooled}, store lag {self.store_lag_s:.1f} s"
        )
