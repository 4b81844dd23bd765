"""Asterisk queue events to EVENTS.md call events, without IO.

:class:`CallTranslator` takes AMI messages in stream order (live events and the items
of the client's ``QueueStatus``) and returns EVENTS.md events:

=========================================  ===========================================
AMI                                        event
=========================================  ===========================================
``QueueCallerJoin``                        ``call.queued``
``AgentConnect``                           ``call.answered`` (hold from Timestamps, else
                                           ``HoldTime``)
``AgentComplete``                          ``call.completed`` (talk time); also
                                           ``call.answered`` when its connect was missed
``QueueCallerAbandon``                     ``call.abandoned`` when the caller's channel
                                           hung up before it, else ``call.timeout``
                                           (Asterisk 22 reports queue timeouts so)
``QueueCallerLeave`` without an answer     ``call.timeout`` (timeout, exit key)
``UserEvent: PostCallSurvey``              ``call.rated``
``QueueMemberStatus/Pause/Added/Removed``  ``agent.state`` (on change)
``QueueParams/QueueMember/QueueEntry``     resync: agent states, waiting callers,
                                           :class:`GapReport` from the counters
=========================================  ===========================================

This module is the driver (clock, dispatch, call records, output); the callers'
events and the lookahead decisions they need are in :mod:`hallkpi.telephony.calls`,
members and the resync in :mod:`hallkpi.telephony.members`. Offline, the result
depends only on the byte stream, never on how it was split or how fast it was read.

Times: ``ts`` is the event's ``Timestamp`` header (``timestampevents=yes``), else the
receive time given live, else (an offline capture without timestamps) the latest time
known or one derived from the ``Uniqueid`` and Asterisk's durations: approximate.

Ids: a call is its caller channel's ``Uniqueid`` (``#2``, ``#3``... for later visits to
a queue by the same channel); an event id is ``<call>/<kind>`` (``kpitest-1795739480.0
/answered``), so translating the same capture twice yields the same ids and the
engine drops the repeat. Agent states use a hash of (queue, agent, state, time).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hallkpi.telephony.calls import CallEventsMixin
from hallkpi.telephony.mapping import QueueMap
from hallkpi.telephony.members import Handler, QueueStatusMixin
from hallkpi.telephony.protocol import AmiParser, Message
from hallkpi.telephony.records import (
    CallRecord,
    Event,
    TranslateOptions,
    TranslateStats,
    fit,
    parse_timestamp_us,
)

_OPEN_CALL_US = 8 * 3600 * 1_000_000  # an unfinished call is forgotten after 8 hours
_HANGUPS = frozenset({"HangupRequest", "SoftHangupRequest", "Hangup"})


class CallTranslator(CallEventsMixin, QueueStatusMixin):
    """Stateful AMI -> EVENTS.md translation for one Asterisk server (sans-IO).

    ``feed(msg, received_ms=...)`` returns the events a message settles (live, give
    the wall-clock receive time in ms: it stamps messages without ``Timestamp`` and
    starts wall-clock lookahead deadlines); ``poll(now_ms)`` settles live decisions
    whose time is up; ``flush()`` settles all of them at the end of an offline
    stream. ``drain_gaps()`` returns a :class:`~hallkpi.telephony.records.GapReport`
    per queue and resync; ``stats`` counts what happened.
    """

    def __init__(self, queues: QueueMap, options: TranslateOptions | None = None) -> None:
        self.queues = queues
        self.options = opts = options or TranslateOptions()
        self.stats = TranslateStats()
        self._grace_us = opts.lookahead_ms * 1000
        self._prefix = opts.id_prefix
        self._survey = opts.survey_event.lower()
        self._precise = opts.hold_from == "timestamps"
        self._calls: dict[str, CallRecord] = {}
        self._pending: dict[str, CallRecord] = {}
        self._visits: dict[str, int] = {}
        self._unstamped: list[Event] = []
        self._clock = 0  # microseconds: the latest time known
        self._offset = 0  # us: Asterisk's Timestamp minus our receive time, last seen
        self._seq = 0
        self._init_queue_status()
        self._handlers: dict[str, Handler] = {
            **self.call_handlers(),
            **self.queue_status_handlers(),
        }

    # --- driving -------------------------------------------------------------------

    def feed(self, msg: Message, *, received_ms: int | None = None) -> list[Event]:
        """The events ``msg`` settles (often none), in order."""
        self._seq += 1
        self.stats.messages += 1
        out: list[Event] = []
        handler = self._handlers.get(msg.name)
        if not self._pending and self._clock:  # nothing waits for a deadline
            if handler is None:
                return out  # the bulk of the stream: Newchannel, Cdr, VarSet...
            if msg.name in _HANGUPS:  # frequent; they only mark a caller, time unneeded
                handler(msg, None, False, received_ms, out)
                return out
        ts, exact = self._time(msg, received_ms)
        if self._unstamped and self._clock:
            self._stamp_buffered(out)
        if self._pending:
            self._expire(out, now_us=ts if exact else None)
        if handler is not None:
            handler(msg, ts, exact, received_ms, out)
            if not self._seq & 1023:
                self._collect()
        return out

    def poll(self, now_ms: int) -> list[Event]:
        """Live: settles decisions whose ``lookahead_ms`` of wall time has passed."""
        out: list[Event] = []
        if self._pending:
            self._expire(out, now_local=now_ms)
        return out

    def flush(self) -> list[Event]:
        """End of input: settles every waiting decision (offline translation)."""
        out: list[Event] = []
        self._expire(out, everything=True)
        self.stats.unstamped += len(self._unstamped)
        self._unstamped.clear()
        return out

    @property
    def waiting_decisions(self) -> int:
        """Calls whose outcome waits for a lookahead."""
        return len(self._pending)

    # --- time ----------------------------------------------------------------------

    def _time(self, msg: Message, received_ms: int | None) -> tuple[int | None, bool]:
        """The message's time in us on Asterisk's clock, and whether it came from its
        own ``Timestamp``. Live messages without one (the resync's list items) get
        their receive time moved onto Asterisk's clock by the offset last seen, so
        that a PBX clock ahead of or behind ours does not reorder agent states."""
        raw = msg.get("Timestamp")
        us = parse_timestamp_us(raw) if raw else None
        exact = us is not None
        if received_ms is not None:
            if us is not None:
                self._offset = us - received_ms * 1000
            else:
                us = received_ms * 1000 + self._offset
        if us is not None and us > self._clock:
            self._clock = us
        return us, exact

    def _synth(self, ts: int | None, *hints: int | None) -> int | None:
        """``ts``, else the best time known: the clock or a derived time (a join plus
        its hold...), whichever is later; None before any time is known."""
        if ts is not None:
            return ts
        best = max([self._clock, *(h for h in hints if h)])
        if best <= 0:
            return None
        self._clock = best
        return best

    def _stamp_buffered(self, out: list[Event]) -> None:
        for event in self._unstamped:
            event["ts"] = self._clock // 1000
            self._count(event, out)
        self._unstamped.clear()

    # --- call records --------------------------------------------------------------

    def _hall(self, queue: str | None) -> str | None:
        if not queue:
            return None
        hall = self.queues.hall(queue)
        if hall is None:
            self.stats.unmapped[queue] += 1
        return hall

    def _call_id(self, uid: str, visit: int) -> str:
        return fit(f"{self._prefix}{uid}" + (f"#{visit}" if visit > 1 else ""))

    def _new_call(self, uid: str, queue: str, hall: str) -> CallRecord:
        visit = self._visits[uid] = self._visits.get(uid, 0) + 1
        rec = CallRecord(uid, self._call_id(uid, visit), fit(queue), hall, self._seq)
        self._calls.pop(uid, None)  # re-insert: the dict stays oldest-first
        self._calls[uid] = rec
        if len(self._calls) > self.options.max_calls:
            self._forget(next(iter(self._calls)))
            self.stats.evicted += 1
        return rec

    def _forget(self, uid: str) -> None:
        self._calls.pop(uid, None)
        self._pending.pop(uid, None)
        while len(self._visits) > 2 * self.options.max_calls:
            self._visits.pop(next(iter(self._visits)))

    def _call_for(self, msg: Message) -> CallRecord | None:
        """The caller's record; a new one when its join was not seen (a gap)."""
        uid = msg.get("Uniqueid")
        if not uid:
            return None
        rec = self._calls.get(uid)
        if rec is not None:
            return rec
        queue = msg.get("Queue")
        hall = self._hall(queue)
        return self._new_call(uid, queue, hall) if queue and hall else None

    def _agent(self, msg: Message) -> str | None:
        get = msg.get
        iface = get("Interface") or get("Location") or get("StateInterface")
        name = get("MemberName") or get("Name") or get("Agent")
        agent = (iface or name) if self.options.agent_key == "interface" else (name or iface)
        return fit(agent) if agent else None

    # --- output --------------------------------------------------------------------

    def _emit(
        self,
        out: list[Event],
        etype: str,
        rec: CallRecord,
        kind: str,
        ts: int | None,
        **fields: object,
    ) -> None:
        event: Event = {
            "id": fit(f"{rec.call}/{kind}"),
            "type": etype,
            "ts": 0,
            "hall": rec.hall,
            "call": rec.call,
            "queue": rec.queue,
            **fields,
        }
        self._stamp(event, ts, out)

    def _stamp(self, event: Event, ts: int | None, out: list[Event]) -> None:
        if ts is None:  # no time known yet (a capture without Timestamp so far)
            self._unstamped.append(event)
            return
        event["ts"] = ts // 1000
        self._count(event, out)

    def _count(self, event: Event, out: list[Event]) -> None:
        self.stats.events[event["type"]] += 1
        out.append(event)

    def _collect(self) -> None:
        """Forgets finished calls after ``keep_ended_ms`` and unfinished ones after 8 h."""
        keep = self.options.keep_ended_ms * 1000
        for uid, rec in list(self._calls.items()):
            if rec.pending:
                continue
            done = rec.completed or rec.outcome in ("abandoned", "timeout")
            start = rec.join_us or rec.answer_us or 0
            if (done and (rec.end_us or 0) + keep < self._clock) or (
                start + _OPEN_CALL_US < self._clock
            ):
                self._forget(uid)


def translate_stream(
    chunks: Iterable[bytes], queues: QueueMap, options: TranslateOptions | None = None
) -> Iterator[Event]:
    """Translates a recorded AMI byte stream (a capture: banner optional, any chunk
    boundaries) into EVENTS.md events, settling every decision at the end."""
    translator = CallTranslator(queues, options)
    yield from translate_with(translator, chunks)


def translate_with(translator: CallTranslator, chunks: Iterable[bytes]) -> Iterator[Event]:
    """Like :func:`translate_stream` with a translator of your own (to read its
    ``stats`` and gap reports afterwards)."""
    parser = AmiParser(banner="optional")
    for chunk in chunks:
        for msg in parser.feed(chunk):
            yield from translator.feed(msg)
    for msg in parser.finish():
        yield from translator.feed(msg)
    yield from translator.flush()
