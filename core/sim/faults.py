"""Realistic delivery faults for :mod:`hallkpi.core.sim.simulate` (``adversarial=True``).

Devices re-send, networks delay, a dispenser's issue message gets lost, firmware
sends junk. :func:`inject_faults` turns a stream of clean events sorted by ``ts``
into the stream a collector would receive, in delivery order:

* about 2 % of events are delivered twice (same ``id``, same content), the copy up
  to a minute and a half after the original;
* about 1 % are delayed by 5 s to 4 min (so they arrive out of order);
* about 0.05 % arrive 2 to 8 hours late;
* about 0.3 % of ``ticket.issued`` never arrive (their ticket's events are orphans, and
  the gap detector reports the missing ``seq``);
* about 0.2 % are followed by a malformed copy: a missing field, a wrong type, an
  unknown type, a bad hall name or an out-of-range value. Each is invalid per
  EVENTS.md and docs/SEMANTICS.md, so a correct collector rejects it and still
  applies the valid original.

:func:`garbage_lines` gives lines that are not JSON at all, for the JSON-lines form.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator

Event = dict[str, object]

DUPLICATE_RATE = 0.02
REORDER_RATE = 0.01
LATE_RATE = 0.0005
ORPHAN_RATE = 0.003
MALFORMED_RATE = 0.002

_REQUIRED: dict[str, tuple[str, ...]] = {
    "ticket": ("ticket",),
    "window": ("window",),
    "opinion": ("opinion",),
    "call": ("call", "queue"),
    "agent": ("agent", "queue", "state"),
}
_BAD_HALLS = ("yu hua", "鼓楼", "", "gulou/west", "x" * 65, "qinhuai\n")
_BAD_TYPES = ("ticket.teleported", "Ticket.Issued", "window.exploded", "call.ringing", "")


def malformed(event: Event, rng: random.Random) -> Event:
    """A copy of ``event`` broken in one way that makes it invalid."""
    bad = dict(event)
    etype = str(event["type"])
    kind = rng.randrange(6)
    if kind == 0:  # a required field lost
        fields = ("id", "type", "ts", "hall", *_REQUIRED[etype.split(".", maxsplit=1)[0]])
        del bad[rng.choice(fields)]
    elif kind == 1:  # ts of the wrong type
        ts = event["ts"]
        assert isinstance(ts, int)
        bad["ts"] = rng.choice((str(ts), float(ts), ts + 0.5, None, True))
    elif kind == 2:
        bad["type"] = rng.choice(_BAD_TYPES)
    elif kind == 3:
        bad["hall"] = rng.choice(_BAD_HALLS)
    elif kind == 4:  # out of range
        bad["ts"] = rng.choice((-1, 10**16))
    elif "score" in event:
        bad["score"] = rng.choice((0, 6, 4.5, "5"))
    elif "hold_s" in event:
        bad["hold_s"] = rng.choice((-3.0, "12", None))
    elif etype == "ticket.issued":
        bad["channel"] = rng.choice(("fax", "WeChat", ""))
    elif etype == "agent.state":
        bad["state"] = rng.choice(("sleeping", "BUSY"))
    else:  # a string field empty, too long, of the wrong type or not valid Unicode
        # The contract v1.1 fields are not candidates: the faults stay those of v1.
        skip = ("ts", "type", "hall", "producer", "seq", "epoch")
        name = rng.choice([k for k in event if k not in skip])
        bad[name] = rng.choice(("", "z" * 65, 12345, "A\ud800"))
    return bad


def inject_faults(events: Iterable[Event], rng: random.Random) -> Iterator[Event]:
    """Yield ``events`` (sorted by ``ts``) as delivered with faults (see the module)."""
    heap: list[tuple[int, int, Event]] = []
    seq = 0
    for event in events:
        ts = event["ts"]
        assert isinstance(ts, int)
        while heap and heap[0][0] <= ts:
            yield heapq.heappop(heap)[2]
        if event["type"] == "ticket.issued" and rng.random() < ORPHAN_RATE:
            continue
        r = rng.random()
        delivered = ts
        if r < LATE_RATE:
            delivered += rng.randint(2 * 3_600_000, 8 * 3_600_000)
        elif r < LATE_RATE + REORDER_RATE:
            delivered += rng.randint(5_000, 240_000)
        seq += 1
        heapq.heappush(heap, (delivered, seq, event))
        if rng.random() < DUPLICATE_RATE:
            seq += 1
            heapq.heappush(heap, (delivered + rng.randint(500, 90_000), seq, dict(event)))
        if rng.random() < MALFORMED_RATE:
            seq += 1
            heapq.heappush(heap, (delivered + rng.randint(0, 5_000), seq, malformed(event, rng)))
    while heap:
        yield heapq.heappop(heap)[2]


def garbage_lines(rng: random.Random, line: bytes) -> list[bytes]:
    """One or two lines that are not valid JSON, made from a real ``line``."""
    choices = [
        line[: rng.randrange(1, max(2, len(line) - 1))],  # cut off mid-write
        b"\x00\x00\x00\x00" + line[4:],  # zeroed by a crashed writer
        line.replace(b'"', b"'", 2),
        line[:-1] + b",}",
        line.replace(b":", b":\xff", 1),  # not UTF-8
        b"<html><body>502 Bad Gateway</body></html>",
    ]
    return [rng.choice(choices) for _ in range(rng.randint(1, 2))]
