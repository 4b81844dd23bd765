"""The tickets and windows of one hall on one day: a discrete-event simulation.

Part of :mod:`hallkpi.core.sim.simulate`; the day's shape (services, profile, staffing)
is :mod:`hallkpi.core.sim.hall`. Taxpayers arrive as a non-homogeneous Poisson process,
wait in one first-come first-served queue (appointments first) and are called to the
next free open window. Windows open, pause for breaks and lunch, change staff, and
close at the end of the day; a floor manager calls in back-office staff at peaks.

:class:`TicketDay` is that simulation, one method per kind of moment; the order of its
random draws is the simulator's contract (the same seed gives the same events), so a
change here changes every simulated day.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque

from hallkpi.core.sim.hall import (
    CHANNELS,
    CLOSE_S,
    HARD_END_S,
    HOUR,
    OPEN_S,
    OVERHEAD_S,
    SERVICES,
    TICKET_PROFILE,
    Emitter,
    HallDay,
    Raw,
    Service,
    arrival_times,
    lognormal,
    peak_share,
    satisfaction,
)

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
    day = TicketDay(plan, out)
    day.schedule(plan)
    day.run()


class TicketDay:
    """The state of one hall-day: windows, queues, and the heap of what happens next."""

    def __init__(self, plan: HallDay, out: list[Raw]) -> None:
        self.rng = random.Random(plan.seed + ":tickets")
        self.u = self.rng.uniform
        self.emit = Emitter(plan, out)
        work_s = sum(s.share * s.mean_s for s in SERVICES) + OVERHEAD_S
        need = plan.tickets * peak_share(TICKET_PROFILE) * work_s  # busy windows at the peak
        self.windows = max(1, round(need * 0.6 * plan.staffing))
        flex = max(0, round(need * (plan.staffing - 0.62)))  # back-office staff for peaks
        self.wins = [_Window(f"w{i + 1:02d}") for i in range(self.windows + flex)]
        self.flex_staff = 0  # the staff number of the first flexible window
        self.staff_speed: dict[int, tuple[float, float]] = {}
        self.heap: list[tuple[float, int, int, object, str, int]] = []
        self.seq = 0
        self.priority: deque[_Ticket] = deque()  # appointments are called first
        self.queue: deque[_Ticket] = deque()
        self.idle: deque[_Window] = deque()
        self.waiting = 0

    def push(
        self, t: float, kind: int, obj: object = None, action: str = "", staff: int = 0
    ) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, kind, self.seq, obj, action, staff))

    # --- the day's plan ------------------------------------------------------------------

    def schedule(self, plan: HallDay) -> None:
        """Every window's actions, the floor manager's first check, every arrival."""
        rng, push = self.rng, self.push
        plans = _window_plan(rng, self.windows)
        self.flex_staff = max((s for p in plans for _, _, s in p), default=0) + 1
        for w, actions in zip(self.wins, plans, strict=False):
            for t, action, staff in actions:
                push(t, _ACTION, w, action, staff)
        for w in self.wins[self.windows :]:
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

    def run(self) -> None:
        """Handles every moment in time order until the heap is empty."""
        while self.heap:
            t, kind, _, obj, action, staff = heapq.heappop(self.heap)
            if kind == _ARRIVE:
                assert isinstance(obj, _Ticket)
                self.arrive(obj, t, action)
            elif kind == _PATIENCE:
                assert isinstance(obj, _Ticket)
                self.give_up(obj, t)
            elif kind == _ACTION:
                assert isinstance(obj, _Window)
                self.act(obj, t, action, staff)
            elif kind == _READY:
                assert isinstance(obj, _Window)
                self.ready(obj, t)
            elif kind == _CHECK:
                self.check(t)
            else:
                self.send_home(t)

    # --- taxpayers -----------------------------------------------------------------------

    def arrive(self, tk: _Ticket, t: float, channel: str) -> None:
        """A ticket is issued: served at once by an idle window, or it waits."""
        rng, idle = self.rng, self.idle
        self.emit(
            t,
            "ticket.issued",
            {"ticket": tk.number, "service": tk.service.name, "channel": channel},
        )
        while idle and not (idle[0].idle and idle[0].state == "open"):
            idle.popleft()
        if idle:
            self.serve(idle.popleft(), tk, t + self.u(4, 15))
            return
        (self.priority if channel == "appointment" else self.queue).append(tk)
        self.waiting += 1
        if rng.random() < 0.025:  # changed their mind early
            patience = self.u(180, 1800)
        else:
            patience = rng.lognormvariate(math.log(4500 if channel != "appointment" else 7200), 0.5)
        self.push(t + patience, _PATIENCE, tk)

    def give_up(self, tk: _Ticket, t: float) -> None:
        if tk.state == WAITING:
            tk.state = CANCELLED
            self.waiting -= 1
            self.emit(t, "ticket.cancelled", {"ticket": tk.number})

    def send_home(self, t: float) -> None:
        """Closing time: whoever still waits is cancelled."""
        while (left := self.next_waiting()) is not None:
            left.state = CANCELLED
            t += self.u(0.5, 3)
            self.emit(t, "ticket.cancelled", {"ticket": left.number})

    def next_waiting(self) -> _Ticket | None:
        for q in (self.priority, self.queue):
            while q:
                tk = q.popleft()
                if tk.state == WAITING:
                    self.waiting -= 1
                    return tk
        return None

    # --- windows -------------------------------------------------------------------------

    def serve(self, w: _Window, tk: _Ticket, t: float) -> None:
        """Calls ``tk`` to ``w``: a no-show after recalls, or a service and maybe a rating."""
        rng, u, emit = self.rng, self.u, self.emit
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
        self.push(t + u(5, 30), _READY, w)

    def close(self, w: _Window, t: float) -> None:
        w.state, w.idle = "closed", False
        self.emit(t, "window.closed", {"window": w.name})

    def available(self, w: _Window, t: float) -> None:
        tk = self.next_waiting()
        if tk is not None:
            self.serve(w, tk, t + self.u(2, 8))
        elif w.final:
            self.close(w, t)
        else:
            w.idle = True
            self.idle.append(w)

    def act(self, w: _Window, t: float, action: str, staff: int) -> None:
        """A scheduled action of ``w`` (open, pause, resume, close, final); deferred while
        the window serves."""
        rng, u = self.rng, self.u
        if action == "final":
            w.final = True
            if w.state == "paused" or (w.state == "open" and not w.busy):
                self.close(w, t)
        elif w.busy or w.deferred:
            w.deferred.append((action, staff))
        elif action == "open" and w.state == "closed" and not w.final:
            w.requested = False
            if staff not in self.staff_speed:
                slow = rng.random() < 0.08  # a trainee
                harsh = 0.12 if rng.random() < 0.07 else 0.0
                speed = rng.lognormvariate(0, 0.15) * (1.4 if slow else 1)
                self.staff_speed[staff] = (speed, harsh)
            w.speed, w.harsh = self.staff_speed[staff]
            w.staff, w.state = f"s{staff:03d}", "open"
            self.emit(t, "window.opened", {"window": w.name, "staff": w.staff})
            self.available(w, t + u(1, 5))
        elif action == "resume" and w.state == "paused":
            w.state = "open"
            self.emit(t, "window.resumed", {"window": w.name})
            self.available(w, t + u(1, 5))
        elif action in ("pause", "close") and w.state == "open":
            w.idle = False
            if action == "close":
                self.close(w, t)
            else:
                w.state = "paused"
                self.emit(t, "window.paused", {"window": w.name})

    def ready(self, w: _Window, t: float) -> None:
        """``w`` finished a service: next ticket, a deferred break, or closing."""
        w.busy = False
        if w.final:
            if t < HARD_END_S and (self.priority or self.queue):
                self.available(w, t)
            else:
                self.close(w, t)
        elif w.deferred:  # a break came due during the service: take it now
            pending, w.deferred = w.deferred, []
            self.act(w, t, *pending[0])
            later = t + self.u(120, 420)
            for action, staff in pending[1:]:
                self.push(later, _ACTION, w, action, staff)
                later += 1.0
        else:
            self.available(w, t)

    def check(self, t: float) -> None:
        """The floor manager calls in flexible windows, or sends one back."""
        wins, flexible_wins = self.wins, self.wins[self.windows :]
        pressure = self.waiting / max(1, sum(w.state == "open" for w in wins))
        if pressure > OPEN_FLEX_PRESSURE and t < 16.5 * HOUR:
            flexible = enumerate(flexible_wins, self.flex_staff)  # each has its own clerk
            called = [(n, w) for n, w in flexible if w.state == "closed" and not w.requested]
            for staff, w in called[:2]:
                w.requested = True
                self.push(t + self.u(60, 300), _ACTION, w, "open", staff)
        elif pressure < CLOSE_FLEX_PRESSURE:
            for w in flexible_wins:
                if w.state == "open" and not w.deferred:
                    self.act(w, t, "close", 0)
                    break
        if t + CHECK_EVERY_S < CLOSE_S:
            self.push(t + CHECK_EVERY_S, _CHECK)
