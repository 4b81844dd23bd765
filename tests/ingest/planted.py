"""Builders of event days with a planted answer, for the history tests."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any
from zoneinfo import ZoneInfo

from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.load import load_stream

TZ = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int, minute: int = 0, second: int = 0) -> int:
    """Epoch ms of a local (Asia/Shanghai) time."""
    d = dt.date.fromisoformat(day)
    return round(
        dt.datetime.combine(d, dt.time(hour, minute, second), tzinfo=TZ).timestamp() * 1000
    )


class Day:
    """Events of tickets (issue, call, start, completion, rating, no-show)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.n = 0

    def add(self, etype: str, ts: int, hall: str, **fields: Any) -> None:
        self.n += 1
        self.events.append({"id": f"p{self.n}", "type": etype, "ts": ts, "hall": hall, **fields})

    def ticket(
        self,
        hall: str,
        issued: int,
        *,
        wait_s: float,
        handle_s: float = 300,
        staff: str = "s1",
        service: str = "invoice",
        score: int | None = None,
        no_show: bool = False,
    ) -> None:
        t = f"T{self.n}"
        self.add("ticket.issued", issued, hall, ticket=t, service=service, channel="kiosk")
        called = issued + round(wait_s * 1000)
        where = {"ticket": t, "window": "w1", "staff": staff}
        self.add("ticket.called", called, hall, **where)
        if no_show:
            self.add("ticket.no_show", called + 60_000, hall, **where)
            return
        self.add("ticket.started", called + 30_000, hall, **where)
        done = called + 30_000 + round(handle_s * 1000)
        self.add("ticket.completed", done, hall, **where)
        if score is not None:
            self.add("ticket.rated", done + 5_000, hall, score=score, **where)

    def load(self, store: Store) -> None:
        self.events.sort(key=lambda e: e["ts"])
        data = "\n".join(json.dumps(e) for e in self.events).encode() + b"\n"
        report = load_stream(store, io.BytesIO(data))
        assert report.rejected == 0, report.rejections[:3]
