"""The consultation phone line and the opinion book of one hall on one day.

Part of :mod:`hallkpi.core.sim.simulate`. Callers join the hall's queue (named like the
12366 tax hotline, ``12366-<hall>``), wait for the longest-idle available agent,
hang up when their patience runs out, or are dropped by the queue timeout (or at
once when the queue is full). Agents log in, take calls, wrap up, pause for lunch
and short breaks, and log off; their ``agent.state`` events follow that.

Times inside are float seconds since the hall's local midnight (see
:class:`hallkpi.core.sim.hall.HallDay`).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque

from hallkpi.core.sim.hall import (
    HOUR,
    Emitter,
    HallDay,
    Profile,
    Raw,
    arrival_times,
    lognormal,
    peak_share,
    satisfaction,
)

CALLS_PER_TICKET = 0.22  # calls a day per ticket a day
CALL_PROFILE: Profile = (
    (8.5, 1.2),
    (9.0, 1.5),
    (10.0, 1.9),
    (11.0, 1.6),
    (12.0, 0.6),
    (13.0, 0.6),
    (14.0, 1.5),
    (15.0, 1.6),
    (16.0, 1.2),
    (17.0, 0.8),
    (17.5, 0.5),
)
LINE_OPEN_S = 8.5 * HOUR
LINE_CLOSE_S = 17.5 * HOUR
LAST_ANSWER_S = 17.75 * HOUR  # agents still clear the queue until then
TALK_MEAN_S = 270.0
MAX_HOLD_S = 240.0  # queue timeout
QUEUE_CAPACITY = 20  # a caller finding this many waiting is turned away at once
OPINION_CHANNELS = ("wechat", "web", "kiosk", "paper", "12366")

_ARRIVE, _GIVE_UP, _READY, _ACTION, _END = range(5)


class _Agent:
    __slots__ = ("busy", "deferred", "final", "idle", "name", "speed", "state")

    def __init__(self, name: str, speed: float) -> None:
        self.name = name
        self.speed = speed
        self.state = "offline"
        self.busy = False
        self.idle = False
        self.final = False
        self.deferred: list[str] = []


class _Call:
    __slots__ = ("at", "number", "queued_ms", "state")

    def __init__(self, number: str, at: float, queued_ms: int) -> None:
        self.number = number
        self.at = at
        self.queued_ms = queued_ms
        self.state = 0  # 0 waiting, 1 answered, 2 gone


def _agent_plan(rng: random.Random, agents: int) -> list[list[tuple[float, str]]]:
    plans = []
    for i in range(agents):
        u = rng.uniform
        lunch = (11.5 if i % 2 == 0 else 12.5) * HOUR + u(0, 600)
        plan = [
            (LINE_OPEN_S - u(60, 600), "on"),
            (lunch, "pause"),
            (lunch + u(3300, 3900), "resume"),
            (LINE_CLOSE_S, "final"),
        ]
        if rng.random() < 0.4:
            start = u(9.5, 10.9) * HOUR if rng.random() < 0.5 else u(14.5, 16.5) * HOUR
            plan += [(start, "pause"), (start + u(300, 900), "resume")]
        plans.append(sorted(plan))
    return plans


def simulate_calls(plan: HallDay, out: list[Raw]) -> None:
    """Append the call and agent events of one hall-day to ``out`` (unsorted)."""
    rng = random.Random(plan.seed + ":calls")
    emit = Emitter(plan, out)
    queue_name = f"12366-{plan.hall}"
    expected = plan.tickets * CALLS_PER_TICKET
    need = expected * peak_share(CALL_PROFILE) * (TALK_MEAN_S + 30.0)
    agents = [
        _Agent(f"ag{i + 1:02d}", rng.lognormvariate(0, 0.15))
        for i in range(max(2, round(need * 0.95 * plan.staffing)))
    ]
    heap: list[tuple[float, int, int, object, str]] = []
    seq = 0

    def push(t: float, kind: int, obj: object = None, action: str = "") -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, kind, seq, obj, action))

    for agent, actions in zip(agents, _agent_plan(rng, len(agents)), strict=True):
        for t, action in actions:
            push(t, _ACTION, agent, action)
    times = arrival_times(rng, expected, CALL_PROFILE)
    # A few call outside the line's hours and hear the "we are closed" message.
    times += [rng.uniform(8.0, 8.5) * HOUR for _ in range(max(1, len(times) // 150))]
    times += [rng.uniform(17.5, 18.0) * HOUR for _ in range(max(1, len(times) // 150))]
    times.sort()
    for n, t in enumerate(times, 1):
        push(t, _ARRIVE, _Call(f"{plan.hall}-{plan.tag}-c{n:05d}", t, emit.ms(t)))
    push(LAST_ANSWER_S, _END)

    waiting: deque[_Call] = deque()
    idle: deque[_Agent] = deque()
    alive = 0  # calls waiting

    def state(agent: _Agent, t: float, value: str) -> None:
        agent.state = value
        emit(t, "agent.state", {"agent": agent.name, "queue": queue_name, "state": value})

    def gone(call: _Call, t: float, etype: str) -> None:
        nonlocal alive
        call.state = 2
        alive -= 1
        hold_ms = emit.ms(t) - call.queued_ms
        extra: dict[str, object] = {
            "call": call.number,
            "queue": queue_name,
            "hold_s": hold_ms / 1000,
        }
        emit(t, etype, extra)

    def answer(agent: _Agent, call: _Call, t: float) -> None:
        nonlocal alive
        call.state = 1
        alive -= 1
        agent.busy, agent.idle = True, False
        at: dict[str, object] = {"call": call.number, "queue": queue_name, "agent": agent.name}
        answered_ms = emit.ms(t)
        hold_s = (answered_ms - call.queued_ms) / 1000
        emit(t, "call.answered", {**at, "hold_s": hold_s})
        state(agent, t, "busy")
        end = t + max(lognormal(rng, TALK_MEAN_S, 0.6) * agent.speed, 15.0)
        emit(end, "call.completed", {**at, "talk_s": (emit.ms(end) - answered_ms) / 1000})
        if rng.random() < 0.3:
            score = satisfaction(rng, hold_s * 10, 0.0)  # a minute on hold feels long
            emit(end + rng.uniform(10, 40), "call.rated", {**at, "score": score})
        push(end + rng.uniform(10, 45), _READY, agent)

    def available(agent: _Agent, t: float) -> None:
        while waiting and waiting[0].state != 0:
            waiting.popleft()
        if waiting and (not agent.final or t < LAST_ANSWER_S):
            answer(agent, waiting.popleft(), t + rng.uniform(1, 4))
        elif agent.final:
            state(agent, t, "offline")
        else:
            if agent.state != "available":
                state(agent, t, "available")
            agent.idle = True
            idle.append(agent)

    def act(agent: _Agent, t: float, action: str) -> None:
        if action == "final":
            agent.final = True
            if agent.state == "paused" or (agent.state == "available" and not agent.busy):
                state(agent, t, "offline")
        elif agent.busy or agent.deferred:
            agent.deferred.append(action)
        elif (action == "on" and agent.state == "offline" and not agent.final) or (
            action == "resume" and agent.state == "paused"
        ):
            state(agent, t, "available")  # logged in / unpaused, then the queue is served
            available(agent, t)
        elif action == "pause" and agent.state == "available":
            agent.idle = False
            state(agent, t, "paused")

    while heap:
        t, kind, _, obj, action = heapq.heappop(heap)
        if kind == _ARRIVE:
            assert isinstance(obj, _Call)
            emit(t, "call.queued", {"call": obj.number, "queue": queue_name})
            alive += 1
            if not LINE_OPEN_S <= t < LINE_CLOSE_S:
                push(t + rng.uniform(15, 40), _GIVE_UP, obj, "call.timeout")
                continue
            if alive > QUEUE_CAPACITY:
                gone(obj, t + rng.uniform(2, 8), "call.timeout")
                continue
            while idle and not (idle[0].idle and idle[0].state == "available"):
                idle.popleft()
            if idle:
                answer(idle.popleft(), obj, t + rng.uniform(2, 8))
                continue
            waiting.append(obj)
            if rng.random() < 0.07:  # hangs up almost at once
                patience = rng.uniform(0.5, 4.9)
            else:
                patience = rng.lognormvariate(math.log(110), 0.9)
            if patience < MAX_HOLD_S:
                push(t + patience, _GIVE_UP, obj, "call.abandoned")
            else:
                push(t + MAX_HOLD_S, _GIVE_UP, obj, "call.timeout")
        elif kind == _GIVE_UP:
            assert isinstance(obj, _Call)
            if obj.state == 0:
                gone(obj, t, action)
        elif kind == _ACTION:
            assert isinstance(obj, _Agent)
            act(obj, t, action)
        elif kind == _READY:
            assert isinstance(obj, _Agent)
            obj.busy = False
            if obj.deferred and not obj.final:
                # A break came due during the call: it starts after the wrap-up.
                pending, obj.deferred = obj.deferred, []
                if pending[0] == "pause":
                    state(obj, t, "paused")
                    for i, later in enumerate(pending[1:]):
                        push(t + rng.uniform(120, 300) + i, _ACTION, obj, later)
                else:
                    available(obj, t)
            else:
                available(obj, t)
        else:  # the line is closed: nobody answers the rest
            for call in waiting:
                if call.state == 0:
                    gone(call, t, "call.timeout")


def simulate_opinions(plan: HallDay, out: list[Raw]) -> None:
    """Append a few opinion-book entries of one hall-day and their resolutions.

    About half are answered the same day, a third one to four days later (some past
    the two-day deadline), the rest stay open. Resolutions may lie after the day:
    the caller drops those beyond the simulated range (they stay open).
    """
    rng = random.Random(plan.seed + ":opinions")
    emit = Emitter(plan, out)
    times = arrival_times(rng, 0.002 * plan.tickets + 1.5, CALL_PROFILE)
    for n, t in enumerate(times, 1):
        opinion = f"{plan.hall}-{plan.tag}-op{n:02d}"
        channel = rng.choice(OPINION_CHANNELS)
        emit(t, "opinion.submitted", {"opinion": opinion, "channel": channel})
        r = rng.random()
        if r < 0.5:
            done = t + rng.uniform(0.5, 5) * HOUR
            if done > LINE_CLOSE_S:  # answered first thing next morning
                done = 24 * HOUR + rng.uniform(8.75, 10.5) * HOUR
        elif r < 0.85:
            done = rng.randint(1, 4) * 24 * HOUR + rng.uniform(9, 17) * HOUR
        else:
            continue
        emit(done, "opinion.resolved", {"opinion": opinion})
