"""Erlang C and Erlang A: published values, limits, and a discrete-event simulation."""

from __future__ import annotations

import heapq
import json
import math
import random

import pytest
from hallkpi.core.cli import main
from hallkpi.core.decide.erlang import (
    QueueingError,
    erlang_a,
    erlang_b,
    erlang_c_model,
    servers_needed,
)


def test_published_erlang_c_values() -> None:
    # 100 calls per 30 minutes, AHT 180 s, 14 agents.
    m = erlang_c_model(14, 200, 180)
    assert m.load == pytest.approx(10.0)
    assert round(m.p_wait, 4) == 0.1741
    assert round(m.service_level(20), 3) == 0.888
    assert round(m.asa_s, 2) == 7.84
    assert m.occupancy == pytest.approx(10 / 14)
    assert servers_needed(200, 180, target_wait_s=20, target_level=0.8) == 14


def test_erlang_b_recursion_is_stable_for_large_systems() -> None:
    assert erlang_b(0, 5) == 1.0
    assert erlang_b(2, 1) == pytest.approx(0.2)  # A^2/2 / (1 + A + A^2/2)
    b = erlang_b(5000, 4900)
    assert 0 < b < 1 and math.isfinite(b)


def test_unstable_and_invalid_inputs() -> None:
    m = erlang_c_model(5, 3600, 10)  # 10 Erlangs on 5 servers
    assert m.p_wait == 1.0 and m.service_level(20) == 0.0 and m.asa_s == math.inf
    assert servers_needed(0, 180, target_wait_s=20, target_level=0.8) == 0
    with pytest.raises(QueueingError):
        erlang_c_model(0, 10, 10)
    with pytest.raises(QueueingError):
        servers_needed(10, 10, target_wait_s=20, target_level=1.0)


def test_erlang_a_tends_to_erlang_c_with_infinite_patience() -> None:
    c = erlang_c_model(14, 200, 180)
    a = erlang_a(14, 200, 180, patience_s=1e9)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-4)
    assert a.service_level(20) == pytest.approx(c.service_level(20), rel=1e-6)
    assert a.p_abandon < 1e-6


def simulate_mmn_m(
    servers: int, lam: float, mu: float, theta: float, *, customers: int, seed: int
) -> dict[str, float]:
    """A discrete-event simulation of M/M/n+M (FCFS), the slow obvious way."""
    rng = random.Random(seed)
    t = 0.0
    waited = answered = abandoned = within = 0
    wait_answered = 0.0
    # FCFS with abandonment: a waiting caller leaves at its deadline; a freed server
    # takes the first caller in the queue whose deadline has not passed.
    events: list[tuple[float, int, int]] = []  # (time, kind 0=arrival 1=free, id)
    queue: list[tuple[float, float, int]] = []  # (arrival, deadline, id) in order
    busy = 0
    for i in range(customers):
        t += rng.expovariate(lam)
        heapq.heappush(events, (t, 0, i))
    patience = {}
    arrival = {}
    head = 0
    while events:
        now, kind, i = heapq.heappop(events)
        if kind == 0:
            arrival[i] = now
            patience[i] = rng.expovariate(theta)
            if busy < servers:
                busy += 1
                answered += 1
                within += 1
                heapq.heappush(events, (now + rng.expovariate(mu), 1, i))
            else:
                waited += 1
                queue.append((now, now + patience[i], i))
        else:
            busy -= 1
            while head < len(queue) and queue[head][1] < now:
                head += 1
                abandoned += 1
            if head < len(queue):
                a, _, j = queue[head]
                head += 1
                busy += 1
                answered += 1
                wait_answered += now - a
                within += now - a <= 20
                heapq.heappush(events, (now + rng.expovariate(mu), 1, j))
    abandoned += len(queue) - head
    n = customers
    return {
        "p_wait": waited / n,
        "p_abandon": abandoned / n,
        "asa_s": wait_answered / answered,
        "sl20": within / n,
    }


def test_erlang_a_agrees_with_a_discrete_event_simulation() -> None:
    servers, per_h, handle, patience = 12, 220, 180, 150
    sim = simulate_mmn_m(servers, per_h / 3600, 1 / handle, 1 / patience, customers=120_000, seed=5)
    a = erlang_a(servers, per_h, handle, patience)
    assert a.p_wait == pytest.approx(sim["p_wait"], abs=0.015)
    assert a.p_abandon == pytest.approx(sim["p_abandon"], abs=0.006)
    assert a.asa_s == pytest.approx(sim["asa_s"], rel=0.08)
    assert a.service_level(20) == pytest.approx(sim["sl20"], abs=0.015)


def test_erlang_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["erlang", "--arrivals-per-h", "200", "--handle-s", "180"]
    assert main([*argv, "--target-wait-s", "20", "--target-level", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "10.00 Erlangs" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("14 "))
    assert "0.1741" in line and "0.888" in line and "7.84" in line and "needed" in line
    assert main([*argv, "--json", "--patience-s", "120"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["servers_needed"] == 14 and "abandon_rate_a" in doc["rows"][0]
    assert main(["erlang", "--arrivals-per-h", "-1", "--handle-s", "0"]) == 2
