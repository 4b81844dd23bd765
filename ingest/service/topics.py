"""The MQTT topics of EVENTS.md under a configurable prefix (default ``hallkpi/v1``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

HALL_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
Kind = Literal["halls", "calls"]


@dataclass(frozen=True)
class Topics:
    """Topic names; ``prefix`` has no leading or trailing slash."""

    prefix: str = "hallkpi/v1"

    def __post_init__(self) -> None:
        if not self.prefix or self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError(f"bad topic prefix {self.prefix!r}: no leading or trailing '/'")
        if any(c in self.prefix for c in "+#"):
            raise ValueError(f"bad topic prefix {self.prefix!r}: no wildcards")

    @property
    def subscriptions(self) -> tuple[str, str]:
        """Event topics for every hall: ticket flow and calls."""
        return (f"{self.prefix}/halls/+/events", f"{self.prefix}/calls/+/events")

    def events(self, hall: str, kind: Kind = "halls") -> str:
        return f"{self.prefix}/{kind}/{hall}/events"

    def status(self, hall: str) -> str:
        return f"{self.prefix}/halls/{hall}/status"

    def alerts(self, hall: str) -> str:
        return f"{self.prefix}/halls/{hall}/alerts"

    def advice(self, hall: str) -> str:
        return f"{self.prefix}/halls/{hall}/advice"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}/deadletter"

    def presence(self, client_id: str) -> str:
        return f"{self.prefix}/service/{client_id}"

    def parse_events(self, topic: str) -> tuple[Kind, str] | None:
        """``(kind, hall)`` of an events topic, or None when it is not one."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) != 3 or parts[2] != "events" or parts[0] not in ("halls", "calls"):
            return None
        kind: Kind = "halls" if parts[0] == "halls" else "calls"
        return kind, parts[1]
