"""Queue caller events of :class:`~hallkpi.telephony.translate.CallTranslator`: joins,
answers, completions, abandons, timeouts, surveys, and the lookahead decisions.

Two decisions need the events that follow. A ``QueueCallerLeave`` comes just *before*
the ``AgentConnect`` of an answered call: it waits for that connect, and becomes a
``call.timeout`` without one (exit key; older Asterisk timeouts). A
``QueueCallerAbandon`` is ``call.abandoned`` only if the caller's channel hung up
(``HangupRequest``, ``SoftHangupRequest`` or ``Hangup`` with its ``Uniqueid``) before
its ``QueueCallerLeave``; else it is Asterisk 22's way of reporting a queue timeout
(``call.timeout``), the caller's channel going on in the dialplan. A hangup *after*
the Leave does not count: the dialplan may hang up right after a timeout. A waiting
decision is settled by its deciding event, else after ``lookahead_ms`` of event time,
``lookahead_messages`` messages, or (live) ``poll(now_ms)`` of wall-clock time.

One outcome per call: a second one (an answer after a settled timeout) is ignored
and counted in ``stats.conflicts``, so a call is offered once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hallkpi.telephony.members import Handler
from hallkpi.telephony.protocol import Message
from hallkpi.telephony.records import (
    CallRecord,
    Event,
    TranslateOptions,
    TranslateStats,
    fit,
    seconds,
    uniqueid_epoch_us,
)

UNKNOWN_AGENT = "unknown"
"""The agent of an answer whose event names no member (never seen from Asterisk)."""


class CallEventsMixin:
    """The caller half of the translator (a mixin: it shares the translator's state)."""

    if TYPE_CHECKING:
        options: TranslateOptions
        stats: TranslateStats
        _calls: dict[str, CallRecord]
        _pending: dict[str, CallRecord]
        _visits: dict[str, int]
        _seq: int
        _grace_us: int
        _precise: bool
        _survey: str

        def _hall(self, queue: str | None) -> str | None: ...
        def _agent(self, msg: Message) -> str | None: ...
        def _synth(self, ts: int | None, *hints: int | None) -> int | None: ...
        def _new_call(self, uid: str, queue: str, hall: str) -> CallRecord: ...
        def _call_for(self, msg: Message) -> CallRecord | None: ...
        def _call_id(self, uid: str, visit: int) -> str: ...
        def _observe(self, queue: str, which: int) -> None: ...
        def _emit(
            self,
            out: list[Event],
            etype: str,
            rec: CallRecord,
            kind: str,
            ts: int | None,
            **fields: object,
        ) -> None: ...

    def call_handlers(self) -> dict[str, Handler]:
        """Message name -> bound handler, for the translator's dispatch table."""
        return {
            "QueueCallerJoin": self._join,
            "AgentConnect": self._connect,
            "AgentComplete": self._complete,
            "QueueCallerAbandon": self._abandon,
            "QueueCallerLeave": self._leave,
            "HangupRequest": self._hangup,
            "SoftHangupRequest": self._hangup,
            "Hangup": self._hangup,
            "UserEvent": self._user_event,
        }

    # --- lookahead -----------------------------------------------------------------

    def _wait(
        self, rec: CallRecord, kind: str, hold: float, ts: int | None, received: int | None
    ) -> None:
        rec.pending, rec.pend_hold, rec.pend_us = kind, hold, ts
        rec.deadline_us = ts + self._grace_us if ts is not None else None
        lookahead = self.options.lookahead_ms
        rec.deadline_local = received + lookahead if received is not None else None
        rec.deadline_seq = self._seq + self.options.lookahead_messages
        self._pending[rec.uid] = rec

    def _expire(
        self,
        out: list[Event],
        *,
        now_us: int | None = None,
        now_local: int | None = None,
        everything: bool = False,
    ) -> None:
        for rec in list(self._pending.values()):
            if (
                everything
                or self._seq > rec.deadline_seq
                or (now_us is not None and rec.deadline_us is not None and now_us > rec.deadline_us)
                or (
                    now_local is not None
                    and rec.deadline_local is not None
                    and now_local >= rec.deadline_local
                )
            ):
                self._settle(rec, out)

    def _unwait(self, rec: CallRecord) -> None:
        self._pending.pop(rec.uid, None)
        rec.pending = None

    def _settle(self, rec: CallRecord, out: list[Event]) -> None:
        """Decides a waiting call: an abandon whose caller hung up, else a timeout."""
        kind = rec.pending
        self._unwait(rec)
        outcome = "abandoned" if kind == "abandon" and rec.hung_up else "timeout"
        self._end(rec, outcome, rec.pend_hold, rec.pend_us, out)

    def _end(
        self, rec: CallRecord, outcome: str, hold: float, ts: int | None, out: list[Event]
    ) -> None:
        rec.outcome, rec.end_us = outcome, ts
        self._emit(out, f"call.{outcome}", rec, outcome, ts, hold_s=hold)

    # --- handlers ------------------------------------------------------------------

    def _hold(self, msg: Message, rec: CallRecord, ts: int | None, exact: bool) -> float:
        """Seconds in queue: from Timestamps when both ends have one, else HoldTime."""
        if self._precise and exact and rec.join_exact and ts is not None and rec.join_us:
            return max(0, ts - rec.join_us) / 1e6
        hold = seconds(msg.get("HoldTime"))
        if hold is not None:
            return hold
        return max(0, ts - rec.join_us) / 1e6 if ts is not None and rec.join_us else 0.0

    def _join(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        uid, queue = msg.get("Uniqueid"), msg.get("Queue")
        if not uid or not queue:
            return
        rec = self._calls.get(uid)
        if rec is not None:
            if rec.pending:
                self._settle(rec, out)
            elif rec.waiting and rec.queue.lower() == fit(queue).lower():
                return  # the same visit reported twice
        hall = self._hall(queue)
        if hall is None:
            return
        rec = self._new_call(uid, queue, hall)
        rec.join_us = self._synth(ts, uniqueid_epoch_us(uid))
        rec.join_exact = exact
        self._emit(out, "call.queued", rec, "queued", rec.join_us)

    def _connect(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        rec = self._call_for(msg)
        if rec is None:
            return
        if rec.pending:  # the QueueCallerLeave that comes just before an answer
            self._unwait(rec)
        if rec.outcome is not None:
            self.stats.conflicts += 1
            return
        hold = self._hold(msg, rec, ts, exact)
        base = rec.join_us + int(hold * 1e6) if rec.join_us else uniqueid_epoch_us(rec.uid)
        rec.answer_us, rec.answer_exact = self._synth(ts, base), exact
        rec.outcome, rec.agent = "answered", self._agent(msg) or UNKNOWN_AGENT
        self._emit(
            out, "call.answered", rec, "answered", rec.answer_us, agent=rec.agent, hold_s=hold
        )

    def _complete(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        rec = self._call_for(msg)
        if rec is None or rec.completed:
            return
        self._observe(rec.queue, 0)
        header_talk = seconds(msg.get("TalkTime"))
        if rec.pending:
            self._unwait(rec)
        if rec.outcome is None:  # its AgentConnect fell in a gap: it was answered
            hold = self._hold(msg, rec, None, False)
            end = self._synth(ts, uniqueid_epoch_us(rec.uid))
            rec.answer_us = end - int((header_talk or 0) * 1e6) if end is not None else None
            rec.outcome, rec.agent = "answered", self._agent(msg) or UNKNOWN_AGENT
            self._emit(
                out, "call.answered", rec, "answered", rec.answer_us, agent=rec.agent, hold_s=hold
            )
        elif rec.outcome != "answered":
            self.stats.conflicts += 1
        if self._precise and exact and rec.answer_exact and ts is not None and rec.answer_us:
            talk = max(0, ts - rec.answer_us) / 1e6
        elif header_talk is not None:
            talk = header_talk
        else:
            talk = max(0, ts - rec.answer_us) / 1e6 if ts is not None and rec.answer_us else 0.0
        ts = self._synth(ts, rec.answer_us + int(talk * 1e6) if rec.answer_us else None)
        rec.completed, rec.end_us = True, ts
        agent = rec.agent or self._agent(msg) or UNKNOWN_AGENT
        self._emit(out, "call.completed", rec, "completed", ts, agent=agent, talk_s=talk)

    def _abandon(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        rec = self._call_for(msg)
        if rec is None:
            return
        self._observe(rec.queue, 1)
        if rec.outcome is not None:
            self.stats.conflicts += 1
            return
        hold = self._hold(msg, rec, ts, exact)
        ts = self._synth(ts, rec.join_us + int(hold * 1e6) if rec.join_us else None)
        if rec.hung_up or rec.pending == "leave":  # settled now (a Leave first is odd)
            self._unwait(rec)
            self._end(rec, "abandoned" if rec.hung_up else "timeout", hold, ts, out)
        else:  # an abandon if the caller hangs up before the QueueCallerLeave
            self._wait(rec, "abandon", hold, ts, received)

    def _leave(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        rec = self._call_for(msg)
        if rec is None or rec.outcome is not None or rec.completed:
            return
        if rec.pending == "abandon":
            self._settle(rec, out)  # no hangup came before the Leave: a queue timeout
        elif rec.pending is None:  # an AgentConnect follows if answered, else a timeout
            ts = self._synth(ts)
            hold = max(0, ts - rec.join_us) / 1e6 if ts is not None and rec.join_us else 0.0
            self._wait(rec, "leave", hold, ts, received)

    def _hangup(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        uid = msg.get("Uniqueid")
        rec = self._calls.get(uid) if uid else None
        if rec is None or rec.outcome is not None:
            return
        rec.hung_up = True
        if rec.pending == "abandon":
            self._settle(rec, out)

    def _user_event(
        self, msg: Message, ts: int | None, exact: bool, received: int | None, out: list[Event]
    ) -> None:
        if (msg.get("UserEvent") or "").lower() != self._survey:
            return
        uid = msg.get("CallerUniqueid") or msg.get("Uniqueid")
        raw = (msg.get(self.options.score_header) or "").strip()
        if not uid or raw not in ("1", "2", "3", "4", "5"):
            self.stats.bad_surveys += 1
            return
        rec = self._calls.get(uid)
        if rec is None:  # forgotten or never seen: trust the survey's own headers
            queue = msg.get("Queue")
            hall = self._hall(queue)
            if not queue or not hall:
                self.stats.bad_surveys += not queue
                return
            call = self._call_id(uid, self._visits.get(uid, 1))
            rec = CallRecord(uid, call, fit(queue), hall, self._seq)
        agent = rec.agent or self._agent(msg)
        if rec.rated or agent is None:
            self.stats.bad_surveys += agent is None
            return
        rec.rated = True
        self._emit(out, "call.rated", rec, "rated", self._synth(ts), agent=agent, score=int(raw))
