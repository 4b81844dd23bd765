"""Extension events (contract v1.2) between the engine, the store and their rooms.

- :class:`SplitWriter`: what :class:`~hallkpi.ingest.service.acks.AckPump` gives the
  writer in one round, EVENTS.md events to ``events`` and extension records to
  ``extension_events``, so both are durable before the round's acknowledgements.
- :func:`recover_extensions`: after a restart, the stored extension events of the
  registered families pushed back into the engine (their ids, so a redelivered copy is a
  duplicate) and replayed to their handlers, oldest first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hallkpi.core import Engine, InvalidEvent
from hallkpi.core.engine import EXTENSION_TYPES
from hallkpi.ingest.service.extensions import Extensions
from hallkpi.ingest.store.batch import ArrivalClock
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.extension_store import extension_columns, read_extension_events
from hallkpi.ingest.store.jsonl import events_to_columns
from hallkpi.ingest.store.writer import StoreWriter

DAY_MS = 86_400_000


@dataclass
class Split:
    """One store round's rows: EVENTS.md event columns and extension records."""

    events: dict[str, Any] | None
    extensions: list[dict[str, Any]]


def split_columns(events: Sequence[dict[str, Any]], arrivals: ArrivalClock) -> Split:
    """The AckPump's ``to_columns``: extension records apart from the other events."""
    ext = [e for e in events if e.get("type") in EXTENSION_TYPES]
    plain = [e for e in events if e.get("type") not in EXTENSION_TYPES] if ext else events
    return Split(events_to_columns(plain, arrivals) if plain else None, ext)


class SplitWriter:
    """The writer as the AckPump sees it: ``add_events`` of a :class:`Split`."""

    def __init__(self, writer: StoreWriter, arrivals: ArrivalClock) -> None:
        self.writer = writer
        self.arrivals = arrivals  # ingest_seq of both tables, in arrival order

    def add_events(self, split: Split) -> None:
        if split.events is not None:
            self.writer.add_events(split.events)
        if split.extensions:
            self.writer.add("extension_events", extension_columns(split.extensions, self.arrivals))

    def flush(self, timeout: float | None = None) -> None:
        self.writer.flush(timeout)


def recover_extensions(
    engine: Engine,
    store: Store,
    extensions: Extensions,
    *,
    since_ms: int,
    now_ms: int,
    halls: Sequence[str] | None = None,
) -> int:
    """Replays the stored events of the registered families since the earlier of
    ``since_ms`` (the engine's recovery start) and ``now_ms`` minus the families' look
    back; returns how many. The engine takes those its clock bounds allow."""
    families = sorted(extensions.families)
    if not families:
        return 0
    since = min(since_ms, now_ms - extensions.lookback_days() * DAY_MS)
    records = read_extension_events(store, since_ms=since, families=families, halls=halls)
    for record in records:
        with contextlib.suppress(InvalidEvent):  # older than the engine's age bound:
            engine.push(dict(record))  # the handler still gets it
        extensions.dispatch(record, recovered=True)
    return len(records)
