"""Small builders for hand-written event streams (used by the reference's own tests)."""

from __future__ import annotations

from typing import Any

from reference.model import ReferenceEngine

DAY_MS = 86_400_000
T0 = 1_795_708_800_000  # 2026-11-27 00:00 Asia/Shanghai


def at(h: int = 0, m: int = 0, s: float = 0, *, day: int = 0) -> int:
    """Epoch ms of local time h:m:s on 2026-11-27 (+ ``day`` days), Asia/Shanghai."""
    return T0 + day * DAY_MS + h * 3_600_000 + m * 60_000 + round(s * 1000)


DEFAULTS: dict[str, dict[str, Any]] = {
    "ticket.issued": {"service": "tax", "channel": "kiosk"},
    "ticket.called": {"window": "W1", "staff": "s1"},
    "ticket.started": {"window": "W1", "staff": "s1"},
    "ticket.completed": {"window": "W1", "staff": "s1"},
    "ticket.no_show": {"window": "W1", "staff": "s1"},
    "ticket.rated": {"window": "W1", "staff": "s1", "score": 5},
    "window.opened": {"staff": "s1"},
    "opinion.submitted": {"channel": "web"},
    "call.queued": {"queue": "q1"},
    "call.answered": {"queue": "q1", "agent": "a1", "hold_s": 10},
    "call.abandoned": {"queue": "q1", "hold_s": 10},
    "call.timeout": {"queue": "q1", "hold_s": 10},
    "call.completed": {"queue": "q1", "agent": "a1", "talk_s": 60},
    "call.rated": {"queue": "q1", "agent": "a1", "score": 5},
    "agent.state": {"queue": "q1"},
}


class Feed:
    """Pushes events with fresh ids and the defaults above filled in."""

    def __init__(self, engine: ReferenceEngine, hall: str = "yuhua") -> None:
        self.engine = engine
        self.hall = hall
        self.count = 0

    def event(self, etype: str, ts: int, **fields: Any) -> dict[str, Any]:
        self.count += 1
        ev: dict[str, Any] = {
            "id": f"{self.hall}-{self.count}",
            "type": etype,
            "ts": ts,
            "hall": self.hall,
        }
        ev.update(DEFAULTS.get(etype, {}))
        ev.update(fields)
        return ev

    def __call__(self, etype: str, ts: int, **fields: Any) -> bool:
        return self.engine.push(self.event(etype, ts, **fields))
