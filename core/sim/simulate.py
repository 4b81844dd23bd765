"""Seeded, realistic business days of tax halls and their phone lines, as events.

``simulate(halls=6, date="2026-11-27", seed=7)`` returns the events (EVENTS.md dicts,
sorted by ``ts``) of one day of six halls: tickets issued with a morning and an
afternoon peak, a queue served by windows that open, pause and close, no-shows,
cancellations and ratings; each hall's phone queue with its agents; a few opinions.
``adversarial=True`` adds the faults of a real feed (duplicates, reordering, late,
orphan and malformed events; see :mod:`hallkpi.core.sim.faults`).

The same arguments always give the same events, on any machine. The parts:

* :mod:`hallkpi.core.sim.hall` -- the shape of a hall's day;
* :mod:`hallkpi.core.sim.tickets` -- tickets and windows (a queueing simulation);
* :mod:`hallkpi.core.sim.calls` -- calls, agents and the opinion book;
* this module -- halls, days, ids, ordering and JSON lines;
* :mod:`hallkpi.core.sim.cli` -- ``hallkpi simulate``.

Each simulated day is an open business day (no holiday calendar); Mondays are a
little busier, Fridays a little quieter, weekends about half as busy.
"""

from __future__ import annotations

import datetime as dt
import heapq
import inspect
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hallkpi.core.sim.calls import simulate_calls, simulate_opinions
from hallkpi.core.sim.faults import garbage_lines, inject_faults
from hallkpi.core.sim.hall import HallDay, Raw
from hallkpi.core.sim.tickets import simulate_tickets
from hallkpi.core.timezone import DEFAULT_TIMEZONE

__all__ = [
    "HALL_NAMES",
    "SimOptions",
    "hall_name",
    "iter_lines",
    "iter_simulate",
    "simulate",
    "simulate_lines",
]

Event = dict[str, object]
_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Districts and areas of Nanjing; hall ``i`` is named after ``HALL_NAMES[i % 20]``.
HALL_NAMES: tuple[str, ...] = (
    "yuhua",
    "gulou",
    "jianye",
    "qinhuai",
    "xuanwu",
    "qixia",
    "jiangning",
    "pukou",
    "liuhe",
    "lishui",
    "gaochun",
    "hexi",
    "xianlin",
    "jiangbei",
    "dongshan",
    "banqiao",
    "maigaoqiao",
    "tangshan",
    "longtan",
    "zhongshan",
)
# Per hall index (cyclic): its share of ``tickets_per_hall`` and its staffing level.
# Hall 2 of every six (jianye) is understaffed: long queues, walk-outs, bad ratings.
_VOLUME = (1.0, 0.9, 1.1, 0.8, 1.05, 0.95, 0.85, 1.15)
_STAFFING = (1.0, 1.05, 0.8, 1.0, 0.95, 1.0)
_WEEKDAY = (1.08, 1.0, 1.0, 1.0, 0.95, 0.5, 0.45)  # Monday .. Sunday
_LINE_FAULT_RATE = 0.0003  # adversarial JSON lines: share followed by non-JSON lines


@dataclass(frozen=True, kw_only=True)
class SimOptions:
    """What to simulate. Every function below takes these as keyword arguments (see
    :func:`simulate` for their meaning); they are checked when the function is called."""

    halls: int = 6
    date: str | dt.date = "2026-11-27"
    days: int = 1
    seed: int = 0
    tickets_per_hall: int = 2000
    timezone: str = DEFAULT_TIMEZONE
    adversarial: bool = False


def _keywords(
    options: Callable[_P, SimOptions],
) -> Callable[[Callable[[SimOptions], _R]], Callable[_P, _R]]:
    """``f(options(**kw))`` as ``f(**kw)``, typed with the keywords of ``options``: the
    four public functions share one list of options, so a new one is added once."""

    def wrap(f: Callable[[SimOptions], _R]) -> Callable[_P, _R]:
        def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            return f(options(*args, **kwargs))

        call.__name__, call.__qualname__, call.__doc__ = f.__name__, f.__qualname__, f.__doc__
        call.__module__ = f.__module__
        call.__signature__ = inspect.signature(options).replace(  # type: ignore[attr-defined]
            return_annotation=inspect.signature(f).return_annotation
        )
        return call

    return wrap


def hall_name(index: int) -> str:
    """The name of hall ``index`` (0-based): ``yuhua``, ``gulou``, ... then ``yuhua2``."""
    if index < 0:
        raise ValueError(f"hall index must be >= 0, got {index}")
    name = HALL_NAMES[index % len(HALL_NAMES)]
    rounds = index // len(HALL_NAMES)
    return name if rounds == 0 else f"{name}{rounds + 1}"


def _check(o: SimOptions) -> tuple[dt.date, ZoneInfo]:
    """The first day and the zone of ``o``; ValueError when an option is out of range."""
    date, days, timezone = o.date, o.days, o.timezone
    for name, value, low in (
        ("halls", o.halls, 1),
        ("days", days, 1),
        ("tickets_per_hall", o.tickets_per_hall, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if isinstance(date, dt.datetime):
        start = date.date()
    elif isinstance(date, dt.date):
        start = date
    else:
        try:
            start = dt.date.fromisoformat(date)
        except (TypeError, ValueError):
            raise ValueError(f"date must be YYYY-MM-DD, got {date!r}") from None
    if start.year < 1971 or start.toordinal() + days > dt.date(9998, 12, 31).toordinal():
        raise ValueError(f"days must lie in the years 1971..9998, got {start} + {days} days")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {timezone!r} (use an IANA name)") from None
    return start, zone


def _epoch_ms(day: dt.date, hour: int, zone: ZoneInfo) -> int:
    return round(dt.datetime.combine(day, dt.time(hour), tzinfo=zone).timestamp() * 1000)


@_keywords(SimOptions)
def iter_simulate(o: SimOptions) -> Iterator[Event]:
    """Yield the events of :func:`simulate` one by one, in the same order.

    Memory holds one day at a time, so a live demo can pace these out by ``ts``.
    Arguments are checked at once (``ValueError``), not at the first ``next()``.
    """
    return _iter_simulate(o)


def _iter_simulate(o: SimOptions) -> Iterator[Event]:
    start, zone = _check(o)
    events = _generate(o, start, zone)
    if o.adversarial:
        return inject_faults(events, random.Random(f"hallkpi-faults:{o.seed}"))
    return events


def _generate(o: SimOptions, start: dt.date, zone: ZoneInfo) -> Iterator[Event]:
    ts_of = itemgetter(0)
    carry: list[Raw] = []  # events generated on an earlier day, due later (sorted)
    # Contract v1.1: each hall has two devices streams, its queue system and its phone
    # system, numbered 1, 2, ... in sending order since they started (the first day's
    # local midnight: their epoch), so a collector can tell an event lost on the way.
    epoch = _epoch_ms(start, 0, zone)
    seqs: dict[str, int] = {}
    for offset in range(o.days):
        day = start + dt.timedelta(days=offset)
        tag = day.strftime("%Y%m%d")
        streams: list[list[Raw]] = []
        for index in range(o.halls):
            name = hall_name(index)
            plan = HallDay(
                hall=name,
                seed=f"hallkpi:{o.seed}:{name}:{day.isoformat()}",
                base_ms=_epoch_ms(day, 12, zone) - 12 * 3_600_000,
                tag=tag,
                tickets=o.tickets_per_hall
                * _VOLUME[index % len(_VOLUME)]
                * _WEEKDAY[day.weekday()],
                staffing=_STAFFING[index % len(_STAFFING)],
            )
            raw: list[Raw] = []
            simulate_tickets(plan, raw)
            simulate_calls(plan, raw)
            simulate_opinions(plan, raw)
            raw.sort(key=ts_of)  # stable: equal times keep their causal order
            streams.append(raw)
        cutoff = _epoch_ms(day + dt.timedelta(days=1), 0, zone)
        counters: dict[str, int] = {}
        later: list[Raw] = []
        for ts, etype, hall, extra in heapq.merge(*streams, carry, key=ts_of):
            if ts >= cutoff:
                later.append((ts, etype, hall, extra))
                continue
            n = counters[hall] = counters.get(hall, 0) + 1
            event: Event = {"id": f"{hall}-{tag}-{n:06d}", "type": etype, "ts": ts, "hall": hall}
            event.update(extra)
            producer = (
                f"sim-{hall}-calls" if etype.startswith(("call.", "agent.")) else f"sim-{hall}"
            )
            seq = seqs[producer] = seqs.get(producer, 0) + 1
            event.update(producer=producer, seq=seq, epoch=epoch)
            yield event
        carry = later  # what is still due after the last day is dropped (stays open)


@_keywords(SimOptions)
def simulate(o: SimOptions) -> list[Event]:
    """Simulate ``days`` business days of ``halls`` tax halls from ``date``.

    Args:
        halls: number of halls, named by :func:`hall_name` (``yuhua``, ``gulou``...).
        date: the first day (local date, ``YYYY-MM-DD`` or a ``datetime.date``).
        days: number of consecutive days.
        seed: the same seed gives the same events.
        tickets_per_hall: about how many tickets a busy hall issues a day; halls
            vary from 0.8 to 1.15 times that (and by weekday).
        timezone: IANA zone of the halls; the hall opens 08:30-17:30 local time.
        adversarial: add delivery faults; the list is then in delivery order
            (mostly by ``ts``), and holds duplicates and invalid events.

    Returns:
        Event dicts as in EVENTS.md (``ts`` in epoch milliseconds, durations
        ``hold_s``/``talk_s`` in seconds), sorted by ``ts`` with ties in causal
        order. Ids look like ``yuhua-20261127-000123`` (hall, local date of ``ts``,
        sequence within that hall and day). Each event also has the contract v1.1
        fields: ``producer`` (``sim-yuhua`` for the hall's queue system,
        ``sim-yuhua-calls`` for its phone system), ``seq`` (1, 2, ... per producer in
        sending order, across days) and ``epoch`` (the first day's local midnight, ms).

    Raises:
        ValueError: an argument is out of range, the date or time zone is unknown.
    """
    return list(_iter_simulate(o))


@_keywords(SimOptions)
def iter_lines(o: SimOptions) -> Iterator[bytes]:
    """Yield the JSON lines (each ending in ``\\n``) of :func:`simulate_lines`."""
    faults = random.Random(f"hallkpi-lines:{o.seed}") if o.adversarial else None
    return _lines(_iter_simulate(o), faults)


def _lines(events: Iterator[Event], faults: random.Random | None) -> Iterator[bytes]:
    dumps = json.dumps
    for n, event in enumerate(events):
        line = dumps(event, separators=(",", ":")).encode()
        yield line + b"\n"
        if faults is not None and (n == 50 or faults.random() < _LINE_FAULT_RATE):
            for junk in garbage_lines(faults, line):
                yield junk + b"\n"


@_keywords(SimOptions)
def simulate_lines(o: SimOptions) -> bytes:
    """The events of :func:`simulate` as JSON lines (UTF-8, one object a line).

    With ``adversarial=True`` a few lines are not valid JSON at all (cut off,
    zeroed, not UTF-8, an HTML error page).
    """
    faults = random.Random(f"hallkpi-lines:{o.seed}") if o.adversarial else None
    return b"".join(_lines(_iter_simulate(o), faults))
