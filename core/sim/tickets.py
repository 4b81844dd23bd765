"""The ticket queue of one hall on one day: a discrete-event simulation.

Part of :mod:`hallkpi.core.sim.simulate`. Taxpayers arrive as a non-homogeneous Poisson
process with a morning and an afternoon peak, wait in one first-come first-served
queue (appointments first) and are called to the next free open window. Windows
open, pause for breaks and lunch, change staff, and close at the end of the day.
Every event this emits is consistent with that state: a ticket is only called to an
open window, by the staff logged in there.

Times inside the simulation are float seconds since the hall's local midnight;
emitted events carry epoch milliseconds (``ts``).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from collections import deque
from dataclasses import dataclass

#: A raw event before it gets an id: (ts in epoch ms, type, hall, type-specific fields).
Raw = tuple[int, str, str, dict[str, object]]
#: A daily shape: (local hour, relative intensity) points, linear in between.
Profile = tuple[tuple[float, float], ...]

HOUR = 3600.0
OPEN_S = 8.5 * HOUR  # doors open, first ticket
CLOSE_S = 17.5 * HOUR  # windows stop taking new work once the queue is empty
HARD_END_S = 18.0 * HOUR  # whoever still waits is sent home (cancelled)

#: Relative ticket arrival intensity by local hour; dispensers stop issuing at 17:00.
TICKET_PROFILE: Profile = (
    (8.5, 1.35),
    (9.0, 1.3),
    (9.75, 1.85),
    (10.5, 1.8),
    (11.25, 1.2),
    (12.0, 0.5),
    (13.0, 0.45),
    (13.75, 0.95),
    (14.5, 1.6),
    (15.25, 1.65),
    (16.0, 1.15),
    (16.75, 0.6),
    (17.0, 0.5),
)


@dataclass(frozen=True)
class Service:
    """A service type: ticket letter, name, share of tickets, mean handle time (s)."""

    letter: str
    name: str
    share: float
    mean_s: float
    sigma: float  # of the log of the handle time


SERVICES: tuple[Service, ...] = (
    Service("A", "invoice", 0.34, 240.0, 0.55),
    Service("B", "tax_return", 0.22, 540.0, 0.6),
    Service("C", "registration", 0.10, 840.0, 0.5),
    Service("D", "social_insurance", 0.16, 420.0, 0.55),
    Service("E", "consult", 0.18, 300.0, 0.7),
)
#: Ticket channels and their shares (wechat + appointment = 40 %).
CHANNELS: tuple[tuple[str, float], ...] = (
    ("kiosk", 0.42),
    ("wechat", 0.27),
    ("appointment", 0.13),
    ("web", 0.11),
    ("other", 0.07),
)
OVERHEAD_S = 75.0  # per ticket at a window besides handling: call, walk, paperwork


@dataclass(frozen=True)
class HallDay:
    """What the simulation of one hall on one day needs.

    ``base_ms`` is the epoch millisecond of local noon minus 12 hours, so that local
    08:30 is ``base_ms + 30600000`` even on a daylight-saving day (zones change their
    offset at night, outside opening hours).
    """

    hall: str
    seed: str  # each part of the simulation derives its own random.Random from it
    base_ms: int
    tag: str  # YYYYMMDD, for ids that must be unique per day
    tickets: float  # expected number of tickets that day
    staffing: float  # 1.0 is adequately staffed, below is understaffed


class Emitter:
    """Collects raw events of one hall, converting local seconds to epoch ms."""

    __slots__ = ("base_ms", "hall", "out")

    def __init__(self, plan: HallDay, out: list[Raw]) -> None:
        self.base_ms = plan.base_ms
        self.hall = plan.hall
        self.out = out

    def ms(self, t: float) -> int:
        return self.base_ms + int(t * 1000.0)

    def __call__(self, t: float, etype: str, extra: dict[str, object]) -> None:
        self.out.append((self.base_ms + int(t * 1000.0), etype, self.hall, extra))


def profile_weight(profile: Profile, hour: float) -> float:
    """The linearly interpolated weight of ``profile`` at ``hour`` (0 outside it)."""
    if hour < profile[0][0] or hour > profile[-1][0]:
        return 0.0
    for (h0, w0), (h1, w1) in itertools.pairwise(profile):
        if hour <= h1:
            return w0 + (w1 - w0) * (hour - h0) / (h1 - h0)
    return profile[-1][1]


def arrival_times(rng: random.Random, expected: float, profile: Profile) -> list[float]:
    """Sorted arrival times (s) of a Poisson process with the profile's shape.

    The count is Poisson with mean ``expected``; given the count, times are i.i.d.
    with density proportional to the profile (piecewise constant per minute).
    """
    n = poisson(rng, expected)
    first = int(profile[0][0] * 60)
    cum: list[float] = []
    total = 0.0
    for minute in range(first, int(profile[-1][0] * 60)):
        total += profile_weight(profile, (minute + 0.5) / 60.0)
        cum.append(total)
    times = [
        (first + bisect.bisect_right(cum, rng.random() * total) + rng.random()) * 60.0
        for _ in range(n)
    ]
    times.sort()
    return times


def peak_share(profile: Profile) -> float:
    """Fraction of a day's arrivals per second at the profile's peak."""
    area = sum((h1 - h0) * (w0 + w1) / 2 for (h0, w0), (h1, w1) in itertools.pairwise(profile))
    return max(w for _, w in profile) / (area * HOUR)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson variate (normal approximation above 50)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    """A lognormal variate with the given arithmetic mean."""
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def satisfaction(rng: random.Random, wait_s: float, harsh: float) -> int:
    """A 1..5 score: mostly 4-5, more 1-2 after long waits or with a harsh clerk."""
    load = min(wait_s / 2700.0, 1.5)
    if rng.random() < 0.03 + 0.12 * load + harsh:
        return 1 if rng.random() < 0.4 else 2
    u = rng.random()
    p3 = 0.05 + 0.08 * load
    return 3 if u < p3 else 4 if u < p3 + 0.22 else 5


WAITING, ASSIGNED, CANCELLED = 0, 1, 2


class _Ticket:
    __slots__ = ("issued", "number", "service", "state")

    def __init__(self, number: str, service: Service, issued: float) -> None:
        self.number = number
        self.service = service
        self.issued = issued
        self.state = WAITING


class _Window:
    __slots__ = (
        "busy",
        "deferred",
        "final",
        "harsh",
        "idle",
        "name",
        "requested",
        "speed",
        "staff",
        "state",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.staff = ""
        self.speed = 1.0  # multiplies handle times: the clerk's pace
        self.harsh = 0.0  # extra probability of a 1-2 rating
        self.state = "closed"  # closed | open | paused
        self.busy = False
        self.idle = False
        self.final = False  # past closing time: serve out the queue, then close
        self.requested = False  # a flexible window whose clerk is on the way
        self.deferred: list[tuple[str, int]] = []  # actions waiting for the service to end


# Kinds of simulation events, in the order they are handled at equal times.
_ACTION, _READY, _ARRIVE, _PATIENCE, _CHECK, _HARD_END = range(6)
CHECK_EVERY_S = 300.0  # the floor manager looks at the queue
OPEN_FLEX_PRESSURE = 2.5  # waiting per open window that calls in back-office staff
CLOSE_FLEX_PRESSURE = 0.3  # ... and that sends one of them back


def _window_plan(rng: random.Random, windows: int) -> list[list[tuple[float, str, int]]]:
    """Per regular window the scheduled (time s, action, staff number) list of the day."""
    plans: list[list[tuple[float, str, int]]] = []
    staff = 0
    u = rng.uniform
    for i in range(windows):
        staff += 1
        lunch = (11.5 if i % 2 == 0 else 12.5) * HOUR + u(0, 600)
        back = lunch + u(3300, 3900)
        plan = [(OPEN_S - u(60, 600), "open", staff)]
        if rng.random() < 0.35:
            start = u(9.5, 10.9) * HOUR if rng.random() < 0.5 else u(14.5, 16.3) * HOUR
            plan += [(start, "pause", 0), (start + u(480, 1200), "resume", 0)]
        if rng.random() < 0.15:  # shift handover at lunch: another clerk logs in
            staff += 1
            plan += [(lunch, "close", 0), (back, "open", staff)]
        else:
            plan += [(lunch, "pause", 0), (back, "resume", 0)]
        plan.append((CLOSE_S, "final", 0))
        plans.append(sorted(plan))
    return plans


def simulate_tickets(plan: HallDay, out: list[Raw]) -> None:
    """Append the ticket and window events of one hall-day to ``out`` (unsorted)."""
    rng = random.Random(plan.seed + ":tickets")
    emit = Emitter(plan, out)
    work_s = sum(s.share * s.mean_s for s in SERVICES) + OVERHEAD_S
    need = plan.tickets * peak_share(TICKET_PROFILE) * work_s  # busy windows at the peak
    windows = max(1, round(need * 0.6 * plan.staffing))
    flex = max(0, round(need * (plan.staffing - 0.62)))  # back-office staff for peaks
    wins = [_Window(f"w{i + 1:02d}") for i in range(windows + flex)]
    staff_speed: dict[int, tuple[float, float]] = {}

    heap: list[tuple[float, int, int, object, str, int]] = []
    seq = 0

    def push(t: float, kind: int, obj: object = None, action: str = "", staff: int = 0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, kind, seq, obj, action, staff))

    plans = _window_plan(rng, windows)
    flex_staff = max((s for p in plans for _, _, s in p), default=0) + 1
    for w, actions in zip(wins, plans, strict=False):
        for t, action, staff in actions:
            push(t, _ACTION, w, action, staff)
    for w in wins[windows:]:
        push(CLOSE_S, _ACTION, w, "final")
    push(8.75 * HOUR, _CHECK)
    counters = dict.fromkeys((s.letter for s in SERVICES), 0)
    shares = [s.share for s in SERVICES]
    channels = [c for c, _ in CHANNELS]
    channel_weights = [w for _, w in CHANNELS]
    for t in arrival_times(rng, plan.tickets, TICKET_PROFILE):
        service = rng.choices(SERVICES, shares)[0]
        counters[service.letter] += 1
        tk = _Ticket(f"{service.letter}{counters[service.letter]:03d}", service, t)
        push(t, _ARRIVE, tk, rng.choices(channels, channel_weights)[0])
    push(HARD_END_S, _HARD_END)

    priority: deque[_Ticket] = deque()  # appointments are called first
    queue: deque[_Ticket] = deque()
    idle: deque[_Window] = deque()
    u = rng.uniform
    waiting = 0

    def next_waiting() -> _Ticket | None:
        nonlocal waiting
        for q in (priority, queue):
            while q:
                tk = q.popleft()
                if tk.state == WAITING:
                    waiting -= 1
                    return tk
        return None

    def serve(w: _Window, tk: _Ticket, t: float) -> None:
        tk.state = ASSIGNED
        w.busy, w.idle = True, False
        at: dict[str, object] = {"ticket": tk.number, "window": w.name, "staff": w.staff}
        wait = t - tk.issued
        emit(t, "ticket.called", at)
        if rng.random() < 0.03 + 0.03 * min(wait / HOUR, 1.0):  # gone: recalls, no-show
            for _ in range(rng.choice((1, 1, 2))):
                t += u(25, 60)
                emit(t, "ticket.called", at)
            t += u(20, 60)
            emit(t, "ticket.no_show", at)
        else:
            if rng.random() < 0.06:  # did not hear the first call
                t += u(20, 50)
                emit(t, "ticket.called", at)
            t += u(15, 70)
            emit(t, "ticket.started", at)
            s = tk.service
            t += min(max(lognormal(rng, s.mean_s, s.sigma) * w.speed, 30.0), 3 * HOUR)
            emit(t, "ticket.completed", at)
            if rng.random() < 0.55:
                score = satisfaction(rng, wait, w.harsh)
                emit(t + u(3, 25), "ticket.rated", {**at, "score": score})
        push(t + u(5, 30), _READY, w)

    def close(w: _Window, t: float) -> None:
        w.state, w.idle = "closed", False
        emit(t, "window.closed", {"window": w.name})

    def available(w: _Window, t: float) -> None:
        tk = next_waiting()
        if tk is not None:
            serve(w, tk, t + u(2, 8))
        elif w.final:
            close(w, t)
        else:
            w.idle = True
            idle.append(w)

    def act(w: _Window, t: float, action: str, staff: int) -> None:
        if action == "final":
            w.final = True
            if w.state == "paused" or (w.state == "open" and not w.busy):
                close(w, t)
        elif w.busy or w.deferred:
            w.deferred.append((action, staff))
        elif action == "open" and w.state == "closed" and not w.final:
            w.requested = False
            if staff not in staff_speed:
                slow = rng.random() < 0.08  # a trainee
                harsh = 0.12 if rng.random() < 0.07 else 0.0
                staff_speed[staff] = (rng.lognormvariate(0, 0.15) * (1.4 if slow else 1), harsh)
            w.speed, w.harsh = staff_speed[staff]
            w.staff, w.state = f"s{staff:03d}", "open"
            emit(t, "window.opened", {"window": w.name, "staff": w.staff})
            available(w, t + u(1, 5))
        elif action == "resume" and w.state == "paused":
            w.state = "open"
            emit(t, "window.resumed", {"window": w.name})
            available(w, t + u(1, 5))
        elif action in ("pause", "close") and w.state == "open":
            w.idle = False
            if action == "close":
                close(w, t)
            else:
                w.state = "paused"
                emit(t, "window.paused", {"window": w.name})

    def check(t: float) -> None:
        """The floor manager calls in flexible windows, or sends one back."""
        pressure = waiting / max(1, sum(w.state == "open" for w in wins))
        if pressure > OPEN_FLEX_PRESSURE and t < 16.5 * HOUR:
            flexible = enumerate(wins[windows:], flex_staff)  # each has its own clerk
            called = [(n, w) for n, w in flexible if w.state == "closed" and not w.requested]
            for staff, w in called[:2]:
                w.requested = True
                push(t + u(60, 300), _ACTION, w, "open", staff)
        elif pressure < CLOSE_FLEX_PRESSURE:
            for w in wins[windows:]:
                if w.state == "open" and not w.deferred:
                    act(w, t, "close", 0)
                    break
        if t + CHECK_EVERY_S < CLOSE_S:
            push(t + CHECK_EVERY_S, _CHECK)

    def ready(w: _Window, t: float) -> None:
        w.busy = False
        if w.final:
            if t < HARD_END_S and (priority or queue):
                available(w, t)
            else:
                close(w, t)
        elif w.deferred:  # a break came due during the service: take it now
            pending, w.deferred = w.deferred, []
            act(w, t, *pending[0])
            later = t + u(120, 420)
            for action, staff in pending[1:]:
                push(later, _ACTION, w, action, staff)
                later += 1.0
        else:
            available(w, t)

    while heap:
        t, kind, _, obj, action, staff = heapq.heappop(heap)
        if kind == _ARRIVE:
            assert isinstance(obj, _Ticket)
            emit(
                t,
                "ticket.issued",
                {"ticket": obj.number, "service": obj.service.name, "channel": action},
            )
            while idle and not (idle[0].idle and idle[0].state == "open"):
                idle.popleft()
            if idle:
                serve(idle.popleft(), obj, t + u(4, 15))
                continue
            (priority if action == "appointment" else queue).append(obj)
            waiting += 1
            if rng.random() < 0.025:  # changed their mind early
                patience = u(180, 1800)
            else:
                patience = rng.lognormvariate(
                    math.log(4500 if action != "appointment" else 7200), 0.5
                )
            push(t + patience, _PATIENCE, obj)
        elif kind == _PATIENCE:
            assert isinstance(obj, _Ticket)
            if obj.state == WAITING:
                obj.state = CANCELLED
                waiting -= 1
                emit(t, "ticket.cancelled", {"ticket": obj.number})
        elif kind == _ACTION:
            assert isinstance(obj, _Window)
            act(obj, t, action, staff)
        elif kind == _READY:
            assert isinstance(obj, _Window)
            ready(obj, t)
        elif kind == _CHECK:
            check(t)
        else:  # closing time: the rest are sent home
            while (left := next_waiting()) is not None:
                left.state = CANCELLED
                t += u(0.5, 3)
                emit(t, "ticket.cancelled", {"ticket": left.number})
