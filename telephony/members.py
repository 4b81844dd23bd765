"""Agent states and the ``QueueStatus`` resync, for :class:`CallTranslator`.

Queue member events become ``agent.state`` events, only when an agent's state in a
queue changes. After every (re)connect the client asks ``QueueStatus``; its items
arrive in stream order and rebuild what a disconnection hid:

* ``QueueMember``: each member's state now; members we knew in a listed queue that
  are no longer listed went ``offline``;
* ``QueueEntry``: callers waiting now; one we did not know gets its ``call.queued``
  (at now minus its ``Wait``, with the id its join would have had), and a caller we
  saw waiting who is no longer listed left during the gap: its outcome is unknown,
  so it is closed as ``call.timeout`` marked ``"inferred": "resync"`` (else it would
  wait forever on the wall screens);
* ``QueueParams``: the ``Completed``/``Abandoned`` counters, compared with the
  previous read and with what the stream showed in between: a :class:`GapReport`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from hallkpi.telephony.mapping import QueueMap
from hallkpi.telephony.protocol import Message
from hallkpi.telephony.records import (
    CallRecord,
    Event,
    GapReport,
    TranslateOptions,
    TranslateStats,
    fit,
    seconds,
)

_BUSY = frozenset({"2", "3", "7", "8"})  # AST_DEVICE_INUSE, BUSY, RINGINUSE, ONHOLD
_OFFLINE = frozenset({"4", "5"})  # AST_DEVICE_INVALID, UNAVAILABLE
Handler = Callable[[Message, "int | None", bool, "int | None", list[Event]], None]
"""``(message, time us or None, time came from a Timestamp, received ms or None, out)``."""
MEMBER_EVENTS = ("QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved")


def member_state(status: str | None, paused: str | None, *, removed: bool = False) -> str:
    """EVENTS.md agent state of a queue member from its device ``Status`` and
    ``Paused`` flag (``InCall`` is unreliable on Asterisk 22 and not used): offline
    when removed, invalid or unavailable; busy when in use, busy, ringing while in use
    or on hold; else paused or available."""
    if removed or status in _OFFLINE:
        return "offline"
    if status in _BUSY:
        return "busy"
    return "paused" if (paused or "").lower() in ("1", "true", "yes") else "available"


class _Resync:
    __slots__ = ("entries", "members", "queues", "seq")

    def __init__(self, seq: int) -> None:
        self.seq = seq  # calls that joined before this point must be listed if waiting
        self.queues: set[str] = set()
        self.members: set[tuple[str, str]] = set()
        self.entries: set[str] = set()


class QueueStatusMixin:
    """The member and resync half of :class:`~hallkpi.telephony.translate.CallTranslator`
    (a mixin: it shares the translator's state and helpers)."""

    if TYPE_CHECKING:
        queues: QueueMap
        options: TranslateOptions
        stats: TranslateStats
        _prefix: str
        _calls: dict[str, CallRecord]
        _seq: int

        def _hall(self, queue: str | None) -> str | None: ...
        def _agent(self, msg: Message) -> str | None: ...
        def _synth(self, ts: int | None, *hints: int | None) -> int | None: ...
        def _new_call(self, uid: str, queue: str, hall: str) -> CallRecord: ...
        def _emit(
            self,
            out: list[Event],
            etype: str,
            rec: CallRecord,
            kind: str,
            ts: int | None,
            **fields: object,
        ) -> None: ...
        def _stamp(self, event: Event, ts: int | None, out: list[Event]) -> None: ...

    def _init_queue_status(self) -> None:
        self._agents: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._lists: dict[str, _Resync] = {}
        self._counters: dict[str, tuple[int, int]] = {}
        self._observed: dict[str, list[int]] = {}
        self._gaps: list[GapReport] = []

    def drain_gaps(self) -> list[GapReport]:
        """The gap reports made since the last call (one per queue and resync)."""
        gaps, self._gaps = self._gaps, []
        return gaps

    def _observe(self, queue: str, which: int) -> None:
        """Counts an AgentComplete (0) or a QueueCallerAbandon (1) seen in ``queue``."""
        counts = self._observed.setdefault(queue.lower(), [0, 0])
        counts[which] += 1

    def _set_agent(
        self, who: tuple[str, str, str], state: str, ts: int | None, out: list[Event]
    ) -> None:
        """Emits ``agent.state`` when ``who`` = (queue, hall, agent) changes state."""
        queue, hall, agent = who
        key = (queue.lower(), agent)
        known = self._agents.get(key)
        if known is not None and known[0] == state:
            return
        self._agents[key] = (state, queue, hall)
        ts = self._synth(ts)
        blob = f"{self._prefix}{queue}\x00{agent}\x00{state}\x00{ts}".encode()
        digest = hashlib.blake2b(blob, digest_size=12).hexdigest()
        event: Event = {
            "id": f"ami-{digest}",
            "type": "agent.state",
            "ts": 0,
            "hall": hall,
            "agent": agent,
            "queue": queue,
            "state": state,
        }
        self._stamp(event, ts, out)

    def _member(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        raw = msg.get("Queue")
        agent = self._agent(msg)
        hall = self._hall(raw)
        if not raw or agent is None or hall is None:
            return
        queue = fit(raw)
        if msg.name == "QueueMember":
            resync = self._lists.get(msg.action_id or "")
            if resync is not None:
                resync.members.add((queue.lower(), agent))
        removed = msg.name == "QueueMemberRemoved"
        state = member_state(msg.get("Status"), msg.get("Paused"), removed=removed)
        self._set_agent((queue, hall, agent), state, ts, out)

    def _params(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        raw = msg.get("Queue")
        if not raw:
            return
        queue = fit(raw)
        low = queue.lower()
        self._lists.setdefault(msg.action_id or "", _Resync(self._seq)).queues.add(low)
        try:
            completed = int(msg.get("Completed") or "")
            abandoned = int(msg.get("Abandoned") or "")
        except ValueError:
            return
        previous = self._counters.get(low)
        self._counters[low] = (completed, abandoned)
        seen = self._observed.pop(low, [0, 0])
        if previous is None:
            return  # the first read: the baseline
        restarted = completed < previous[0] or abandoned < previous[1]
        if not restarted:
            completed -= previous[0]
            abandoned -= previous[1]
        when = self._synth(ts) or 0
        hall = self.queues.hall(raw)
        report = GapReport(
            queue, hall, completed, abandoned, seen[0], seen[1], restarted, when // 1000
        )
        self._gaps.append(report)

    def _entry(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        uid, raw = msg.get("Uniqueid"), msg.get("Queue")
        if not uid or not raw:
            return
        resync = self._lists.get(msg.action_id or "")
        if resync is not None:
            resync.entries.add(uid)
        rec = self._calls.get(uid)
        if rec is not None and (rec.waiting or rec.pending):
            return
        hall = self._hall(raw)
        now = self._synth(ts)
        if hall is None or now is None:
            return
        rec = self._new_call(uid, raw, hall)
        rec.join_us = now - int((seconds(msg.get("Wait")) or 0.0) * 1e6)
        self._emit(out, "call.queued", rec, "queued", rec.join_us)

    def _list_complete(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        resync = self._lists.pop(msg.action_id or "", None)
        if resync is None or not resync.queues:
            return
        now = self._synth(ts)
        for rec in list(self._calls.values()):
            if (
                rec.waiting
                and rec.seq < resync.seq
                and rec.queue.lower() in resync.queues
                and rec.uid not in resync.entries
            ):
                hold = max(0, now - rec.join_us) / 1e6 if now and rec.join_us else 0.0
                rec.outcome, rec.end_us = "timeout", now
                self.stats.inferred_timeouts += 1
                self._emit(out, "call.timeout", rec, "timeout", now, hold_s=hold, inferred="resync")
        for key, (state, queue, hall) in list(self._agents.items()):
            if key[0] in resync.queues and state != "offline" and key not in resync.members:
                self._set_agent((queue, hall, key[1]), "offline", ts, out)

    def queue_status_handlers(self) -> dict[str, Handler]:
        """Message name -> bound handler, for the translator's dispatch table."""
        handlers: dict[str, Handler] = dict.fromkeys(MEMBER_EVENTS, self._member)
        handlers.update(
            QueueMember=self._member,
            QueueParams=self._params,
            QueueEntry=self._entry,
            QueueStatusComplete=self._list_complete,
        )
        return handlers
