"""Queueing maths for staffing advice: Erlang C (M/M/n) and Erlang A (M/M/n+M).

Rates are per second unless named otherwise; times are seconds. Erlang B is computed
with the stable recursion ``B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1))``, so large
staffs and loads never overflow. Erlang A (callers who abandon after an exponential
patience) is solved exactly on the birth-death chain of the number in system, with a
truncation whose neglected probability is below 1e-12.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hallkpi.core.errors import HallkpiError


class QueueingError(HallkpiError, ValueError):
    """Parameters outside what the model can answer (e.g. a negative rate)."""


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of an M/M/n/n system with ``load`` Erlangs offered."""
    if servers < 0 or load < 0:
        raise QueueingError("servers and load must be >= 0")
    b = 1.0
    for n in range(1, servers + 1):
        b = load * b / (n + load * b)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that a caller waits in an M/M/n queue (1.0 when load >= servers)."""
    if load >= servers:
        return 1.0
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1 - b))


@dataclass(frozen=True)
class ErlangC:
    """Figures of an M/M/n queue: ``servers`` agents or windows, ``load`` Erlangs."""

    servers: int
    arrivals_per_s: float
    handle_s: float

    @property
    def load(self) -> float:
        """Offered load in Erlangs (arrival rate x mean handle time)."""
        return self.arrivals_per_s * self.handle_s

    @property
    def stable(self) -> bool:
        return self.load < self.servers

    @property
    def p_wait(self) -> float:
        """Probability of waiting at all."""
        return erlang_c(self.servers, self.load)

    def service_level(self, target_s: float) -> float:
        """Share of callers answered within ``target_s`` seconds."""
        if not self.stable:
            return 0.0
        rate = (self.servers - self.load) / self.handle_s
        return 1.0 - self.p_wait * math.exp(-rate * target_s)

    @property
    def asa_s(self) -> float:
        """Average speed of answer (mean wait of all callers), seconds."""
        if not self.stable:
            return math.inf
        return self.p_wait * self.handle_s / (self.servers - self.load)

    @property
    def occupancy(self) -> float:
        """Share of time the servers are busy."""
        return min(self.load / self.servers, 1.0) if self.servers else 1.0


def erlang_c_model(servers: int, arrivals_per_h: float, handle_s: float) -> ErlangC:
    """An ErlangC model from an hourly arrival rate; checks the parameters."""
    if servers < 1 or arrivals_per_h < 0 or not handle_s > 0:
        raise QueueingError("need servers >= 1, arrivals >= 0 and handle time > 0")
    return ErlangC(servers, arrivals_per_h / 3600.0, handle_s)


def servers_needed(
    arrivals_per_h: float,
    handle_s: float,
    *,
    target_wait_s: float,
    target_level: float,
    max_servers: int = 10_000,
) -> int:
    """The fewest servers for which at least ``target_level`` of arrivals wait at most
    ``target_wait_s`` seconds (Erlang C). 0 when nobody arrives."""
    if not 0 <= target_level < 1:
        raise QueueingError("target_level must be in [0, 1)")
    if arrivals_per_h <= 0:
        return 0
    load = arrivals_per_h / 3600.0 * handle_s
    n = max(1, math.floor(load) + 1)
    while n <= max_servers:
        if erlang_c_model(n, arrivals_per_h, handle_s).service_level(target_wait_s) >= target_level:
            return n
        n += 1
    raise QueueingError(f"more than {max_servers} servers needed")


@dataclass(frozen=True)
class ErlangA:
    """Figures of an M/M/n+M queue (Erlang A): callers abandon after an exponential
    patience of mean ``patience_s`` seconds."""

    servers: int
    arrivals_per_s: float
    handle_s: float
    patience_s: float
    p_wait: float
    p_abandon: float
    asa_s: float  # mean wait of the callers who are answered
    _probs: tuple[float, ...]

    def service_level(self, target_s: float) -> float:
        """Share of arrivals answered within ``target_s`` seconds."""
        n, mu, theta = self.servers, 1 / self.handle_s, 1 / self.patience_s
        total = sum(self._probs[:n])  # answered at once
        # A caller arriving with k in system (k >= n) is at queue position j = k - n + 1:
        # it is answered after j stages of rates n mu + i theta (i = 1..j), each won
        # against its own abandonment; P(stages done by T) by uniformization.
        rates = [n * mu + i * theta for i in range(1, len(self._probs) - n + 1)]
        if not rates:
            return total
        lam = max(rates)
        # q[j] = P(answered within the uniformized steps so far | start at position j)
        steps = _poisson_weights(lam * target_s)
        depth = len(rates)
        served_by = [0.0] * (depth + 1)  # position 0 = answered
        served_by[0] = 1.0
        acc = [0.0] * (depth + 1)
        for w in steps:
            for j in range(depth + 1):
                acc[j] += w * served_by[j]
            nxt = [1.0] + [0.0] * depth
            for j in range(1, depth + 1):
                r = rates[j - 1]
                forward = (n * mu + (j - 1) * theta) / lam
                stay = 1.0 - r / lam
                nxt[j] = forward * served_by[j - 1] + stay * served_by[j]
            served_by = nxt
        for j in range(1, depth + 1):
            total += self._probs[n + j - 1] * acc[j]
        return total


def _poisson_weights(mean: float) -> list[float]:
    """Poisson(mean) probabilities for k = 0 .. mean + 12 sqrt(mean) + 30 (tail < 1e-12)."""
    top = int(mean + 12 * math.sqrt(mean) + 30)
    if mean == 0:
        return [1.0]
    log_mean = math.log(mean)
    return [math.exp(-mean + k * log_mean - math.lgamma(k + 1)) for k in range(top + 1)]


def erlang_a(servers: int, arrivals_per_h: float, handle_s: float, patience_s: float) -> ErlangA:
    """Solves M/M/n+M exactly (truncated birth-death chain)."""
    if servers < 1 or arrivals_per_h < 0 or not handle_s > 0 or not patience_s > 0:
        raise QueueingError("need servers >= 1, arrivals >= 0, handle and patience > 0")
    lam, mu, theta = arrivals_per_h / 3600.0, 1 / handle_s, 1 / patience_s
    # Unnormalised probabilities in log space, until the tail is negligible.
    logs = [0.0]
    k = 0
    while True:
        k += 1
        death = min(k, servers) * mu + max(k - servers, 0) * theta
        logs.append(logs[-1] + math.log(lam / death) if lam > 0 else -math.inf)
        if k > servers and (lam == 0 or logs[-1] - max(logs) < math.log(1e-15)):
            break
        if k > 100_000:
            break
    top = max(logs)
    probs = [math.exp(v - top) for v in logs]
    z = sum(probs)
    probs = [p / z for p in probs]
    p_wait = sum(probs[servers:])
    p_abandon = (
        sum(p * (i - servers) * theta for i, p in enumerate(probs) if i > servers) / lam
        if lam
        else 0.0
    )
    # Mean wait of answered callers: position j waits sum_{i<=j} 1/(n mu + i theta) and
    # is answered with probability prod_{i<=j} (n mu + (i-1) theta)/(n mu + i theta).
    answered = sum(probs[:servers])
    wait_sum = 0.0
    p_ans, mean_w = 1.0, 0.0
    for j in range(1, len(probs) - servers + 1):
        rate = servers * mu + j * theta
        p_ans *= (servers * mu + (j - 1) * theta) / rate
        mean_w += 1 / rate
        weight = probs[servers + j - 1] * p_ans
        answered += weight
        wait_sum += weight * mean_w
    asa = wait_sum / answered if answered else math.inf
    return ErlangA(servers, lam, handle_s, patience_s, p_wait, p_abandon, asa, tuple(probs))
