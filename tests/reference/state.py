"""Per-entity state records of the reference model (tickets, calls, windows, agents,
opinions) and the records it keeps for windowed figures. Plain mutable dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Ticket:
    """State of one ticket key ``(hall, ticket)``."""

    issued_ts: int | None = None  # first applied ticket.issued
    issued_day: int | None = None  # local day of issued_ts
    first_called_ts: int | None = None  # first applied ticket.called (arrival order)
    started_ts: int | None = None
    completed_ts: int | None = None
    completed_staff: str | None = None  # staff of the first applied ticket.completed
    at_window: bool = False  # a call, start, completion or no-show was applied
    cancelled: bool = False
    events: int = 0  # applied events other than ticket.issued (orphans while not issued)
    first_ts: int | None = None  # smallest ts of any event applied to it (for test harnesses)


@dataclass
class Call:
    queued_ts: int | None = None  # first applied call.queued
    finished: bool = False  # answered, abandoned, timed out or completed
    first_ts: int | None = None


@dataclass
class Latest:
    """The event with the largest ts wins (ties: the one applied later)."""

    ts: int
    seq: int
    state: str


@dataclass
class Opinion:
    submitted_ts: int | None = None
    resolved: bool = False
    first_ts: int | None = None


@dataclass
class Applied:
    """One applied event. Late events are kept (for state) but count in no window."""

    seq: int
    event: dict[str, Any]
    late: bool


@dataclass
class Duration:
    """A wait or handle time, recorded in the pane of ``ts`` (its later end)."""

    kind: str  # "wait" or "handle"
    hall: str
    ms: int
    ts: int
    staff: str | None
