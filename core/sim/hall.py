"""The shape of one hall's day: services and channels, the arrival profile, staffing,
and the random draws the simulator shares (arrivals, handle times, ratings).

Part of :mod:`hallkpi.core.sim.simulate`. The tickets and windows are simulated in
:mod:`hallkpi.core.sim.tickets`, the phone lines in :mod:`hallkpi.core.sim.calls`.
Times inside the simulation are float seconds since the hall's local midnight;
emitted events carry epoch milliseconds (``ts``).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
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
