"""Small value types of the translation: options, counters, gap reports, ids, times.

Kept apart from :mod:`hallkpi.telephony.translate` (the state machine) so that the
service can import them without the machinery.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Event = dict[str, Any]
"""An EVENTS.md event (``id``, ``type``, ``ts``, ``hall`` and the type's fields)."""

AgentKey = Literal["interface", "name"]
HoldFrom = Literal["timestamps", "holdtime"]


@dataclass(frozen=True)
class TranslateOptions:
    """How AMI events become call events.

    ``survey_event``/``score_header``: the UserEvent of the post-call survey and the
    header holding its 1..5 score. ``agent_key``: an agent is its queue member
    interface (``Local/agent1@agents/n``, unique; default) or its member name.
    ``hold_from``: ``"timestamps"`` computes hold and talk times from the events'
    ``Timestamp`` headers when ``timestampevents=yes`` (sub-second), falling back to
    Asterisk's whole-second ``HoldTime``/``TalkTime``; ``"holdtime"`` always uses those.
    ``lookahead_ms``: how long a decision waits for the event that settles it (a
    ``QueueCallerLeave`` waits for the ``AgentConnect`` that follows an answer; a
    ``QueueCallerAbandon`` for the ``QueueCallerLeave`` that tells an abandon from a
    timeout), in event time, or ``lookahead_messages`` messages when the stream has no
    timestamps. ``keep_ended_ms``: how long a finished call is remembered for its
    late survey. ``max_calls``: calls remembered at most (oldest forgotten first).
    ``id_prefix``: put before every call and event id; give each Asterisk server its
    own when several servers without ``systemname`` feed one engine.
    """

    survey_event: str = "PostCallSurvey"
    score_header: str = "Score"
    agent_key: AgentKey = "interface"
    hold_from: HoldFrom = "timestamps"
    lookahead_ms: int = 500
    lookahead_messages: int = 1000
    keep_ended_ms: int = 300_000
    max_calls: int = 100_000
    id_prefix: str = ""

    def __post_init__(self) -> None:
        if self.agent_key not in ("interface", "name"):
            raise ValueError(f"agent_key must be 'interface' or 'name', not {self.agent_key!r}")
        if self.hold_from not in ("timestamps", "holdtime"):
            raise ValueError(
                f"hold_from must be 'timestamps' or 'holdtime', not {self.hold_from!r}"
            )
        for name in ("lookahead_ms", "lookahead_messages", "keep_ended_ms", "max_calls"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not self.survey_event or not self.score_header:
            raise ValueError("survey_event and score_header must not be empty")


@dataclass
class TranslateStats:
    """What the translator did (for logs and ``hallkpi ami translate``'s summary)."""

    messages: int = 0
    events: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    """A second outcome for a call that already had one (e.g. an answer after an
    inferred timeout): ignored, so that each call is offered once."""
    inferred_timeouts: int = 0
    """Calls we saw waiting that a resync no longer listed: closed as timeouts."""
    bad_surveys: int = 0
    evicted: int = 0
    unstamped: int = 0
    """Events dropped because no time was ever known (offline, no Timestamp)."""

    def summary(self) -> str:
        """One line, e.g. ``314 messages -> 25 events (call.queued 5, ...)``."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.events.items()))
        text = f"{self.messages} messages -> {sum(self.events.values())} events ({kinds})"
        extra = [
            f"{name} {value}"
            for name, value in (
                ("conflicts", self.conflicts),
                ("inferred timeouts", self.inferred_timeouts),
                ("bad surveys", self.bad_surveys),
                ("evicted calls", self.evicted),
                ("dropped without time", self.unstamped),
            )
            if value
        ]
        if self.unmapped:
            skipped = ", ".join(f"{q} ({n})" for q, n in sorted(self.unmapped.items()))
            extra.append(f"skipped unmapped queues: {skipped}")
        return text + ("; " + "; ".join(extra) if extra else "")


@dataclass(frozen=True)
class GapReport:
    """What Asterisk's queue counters say about the time since the previous
    ``QueueStatus`` of a queue, against what this translator saw in between.

    ``completed``/``abandoned``: growth of the queue's ``Completed``/``Abandoned``
    counters (Asterisk counts timeouts as abandons). ``observed_*``: the
    ``AgentComplete``/``QueueCallerAbandon`` events seen in between. ``restarted``:
    the counters went back (the server restarted): the growth is counted from zero,
    and what happened before the restart is unknown.
    """

    queue: str
    hall: str | None
    completed: int
    abandoned: int
    observed_completed: int
    observed_abandoned: int
    restarted: bool
    ts: int
    source: str = ""

    @property
    def hidden_answers(self) -> int:
        """Answered calls (completed since) that the stream did not show."""
        seen = 0 if self.restarted else self.observed_completed
        return max(0, self.completed - seen)

    @property
    def hidden_abandons(self) -> int:
        """Abandons and timeouts that the stream did not show."""
        seen = 0 if self.restarted else self.observed_abandoned
        return max(0, self.abandoned - seen)

    @property
    def hidden(self) -> bool:
        """True when the stream missed something (or the server restarted)."""
        return self.restarted or self.hidden_answers > 0 or self.hidden_abandons > 0

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        restart = " after a server restart" if self.restarted else ""
        return (
            f"{where}queue {self.queue!r}{restart}: {self.hidden_answers} answered and "
            f"{self.hidden_abandons} abandoned calls were not seen (Asterisk counted "
            f"{self.completed} completed, {self.abandoned} abandoned; seen "
            f"{self.observed_completed} and {self.observed_abandoned})"
        )


def fit(text: str, limit: int = 64) -> str:
    """``text`` if it has at most ``limit`` characters, else a stable shortened form
    (a prefix and a hash), so that ids stay within EVENTS.md's 64 characters."""
    if len(text) <= limit:
        return text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{text[: limit - 17]}~{digest}"


def parse_timestamp_us(text: str) -> int | None:
    """``"1795739480.895229"`` (seconds, from ``timestampevents=yes``) as integer
    microseconds, exactly (no float rounding); None when malformed."""
    sec, _, frac = text.partition(".")
    if not sec.isdigit() or (frac and not frac.isdigit()):
        return None
    return int(sec) * 1_000_000 + int((frac + "000000")[:6])


def uniqueid_epoch_us(uniqueid: str) -> int:
    """The creation time in a Uniqueid (``[system-]1514295827.372``), in microseconds;
    0 when there is none. The time of last resort for streams without Timestamp."""
    sec = uniqueid.rpartition("-")[2].partition(".")[0]
    return int(sec) * 1_000_000 if sec.isdigit() and 9 <= len(sec) <= 11 else 0


def seconds(text: str | None) -> float | None:
    """A ``HoldTime``/``TalkTime``/``Wait`` value (whole seconds) as a float; None if
    absent or not a finite number >= 0."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value < 1e9 else None  # also refuses nan and inf


class CallRecord:
    """What the translator knows of one queue visit of one caller channel. Times are
    microseconds; ``*_exact`` says a time came from a ``Timestamp`` header."""

    __slots__ = (
        "agent",
        "answer_exact",
        "answer_us",
        "call",
        "completed",
        "deadline_local",
        "deadline_seq",
        "deadline_us",
        "end_us",
        "hall",
        "hung_up",
        "join_exact",
        "join_us",
        "outcome",
        "pend_hold",
        "pend_us",
        "pending",
        "queue",
        "rated",
        "seq",
        "uid",
    )

    def __init__(self, uid: str, call: str, queue: str, hall: str, seq: int) -> None:
        self.uid, self.call, self.queue, self.hall, self.seq = uid, call, queue, hall, seq
        self.agent: str | None = None
        self.join_us: int | None = None
        self.answer_us: int | None = None
        self.join_exact = self.answer_exact = False
        self.outcome: str | None = None  # answered | abandoned | timeout
        self.pending: str | None = None  # leave | abandon: waiting for the deciding event
        self.pend_hold = 0.0
        self.pend_us: int | None = None
        self.deadline_us: int | None = None  # event time, microseconds
        self.deadline_local: int | None = None  # wall clock, milliseconds
        self.deadline_seq = 0
        self.hung_up = self.completed = self.rated = False
        self.end_us: int | None = None

    @property
    def waiting(self) -> bool:
        """Queued, with no outcome and no decision under way."""
        return self.outcome is None and self.pending is None and not self.completed
