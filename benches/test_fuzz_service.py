"""Fuzz of the service's decode and apply path: ``HALLKPI_FUZZ_PAYLOADS`` (default
1,000,000) generated payloads through ``HallService.handle``, in a child process so
that its resident set is its own.

Payloads: valid events (from a bounded space of ids, tickets and halls, so that the
engine's state stops growing), hostile JSON (deep nesting of arrays and objects, cut
documents, duplicate keys, lone surrogates), huge numbers, bad UTF-8, wrong types,
nulls (alone and in arrays), arrays of mixed elements, future and ancient timestamps,
over-size payloads, foreign topics. Every payload must get an answer (applied,
duplicate, skipped or dead-lettered) and nothing may raise; RSS is measured after a
warm-up tenth and at the end: the growth between them is the figure (goal: bounded,
at most 64 MiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import Goal, report

PROBE = r"""
import json, random, sys, time
from hallkpi.core import Engine
from hallkpi.ingest.service.logic import Admission, HallService

N, SEED = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(SEED)
NOW = 1796400000000
HALLS = [f"hall{i}" for i in range(8)]

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def valid(hall):
    i = rng.randrange(20000)
    kind = rng.random()
    ev = {"id": f"{hall}-{i}", "ts": NOW - rng.randrange(3_600_000), "hall": hall}
    if kind < 0.6:
        ev.update(type="ticket.issued", ticket=f"T{i}", service="invoice", channel="kiosk")
    elif kind < 0.8:
        ev.update(type="ticket.called", ticket=f"T{i}", window=f"w{i % 9}", staff=f"s{i % 9}")
    else:
        ev.update(type="window.opened", window=f"w{i % 9}", staff=f"s{i % 9}")
    if rng.random() < 0.3:
        ev.update(producer=f"p-{hall}", seq=rng.randrange(1, 10**6), epoch=1)
    return ev

WRONG = [None, True, -1, 10**30, 1e308, "x" * rng.randrange(1, 100), [], {}, [1, 2], "\ud800"]

def mutated(hall):
    ev = valid(hall)
    key = rng.choice(list(ev) + ["score", "extra"])
    ev[key] = rng.choice(WRONG)
    return ev

def payload(hall):
    r = rng.random()
    if r < 0.25:
        return json.dumps(valid(hall)).encode()
    if r < 0.35:
        return json.dumps([valid(hall) if rng.random() < 0.7 else rng.choice(WRONG)
                           for _ in range(rng.randrange(0, 20))]).encode()
    if r < 0.5:
        return json.dumps(mutated(hall)).encode()
    if r < 0.57:
        depth = rng.choice([10, 100, 1000, 10000, 100000])
        return rng.choice([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth,
                           b"[" * depth])
    if r < 0.62:
        return rng.choice([b"1e999", b"-1e999", b"123456789" * 50, b'{"ts": 1e400}',
                           b'{"ts": 99999999999999999999999}'])
    if r < 0.68:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
    if r < 0.72:
        return rng.choice([b"null", b"[null]", b"[null, null]", b"true", b'"s"', b"7", b""])
    if r < 0.78:
        ev = valid(hall)
        ev["ts"] = rng.choice([7258118400000, 253402300799999, NOW + 10**9, 0, 1, -5])
        return json.dumps(ev).encode()
    if r < 0.83:
        text = json.dumps(valid(hall)).encode()
        return text[: rng.randrange(len(text))]
    if r < 0.86:
        return b'{"id": "a", "id": "b", "type": "ticket.issued", "hall": "%s"}' % hall.encode()
    if r < 0.88:
        return b'{"id": "\\ud800", "type": "x", "hall": "%s", "ts": 1}' % hall.encode()
    if r < 0.885:
        return b"[" + b"1," * 200_000 + b"1]"  # over the size limit
    ev = valid(hall)
    return json.dumps({**ev, "hall": rng.choice(HALLS)}).encode()  # hall vs topic

limits = {"max_lead_ms": 300_000, "max_age_ms": 35 * 86_400_000}
engine = Engine(**limits)
svc = HallService(engine, admission=Admission(max_halls=64), wall_ms=lambda: NOW)
engine.advance(NOW)
answered = 0
started = time.monotonic()
warm = None
for n in range(N):
    hall = rng.choice(HALLS) if rng.random() < 0.99 else f"h{rng.randrange(10**6)}"
    topic = f"hallkpi/v1/halls/{hall}/events" if rng.random() < 0.995 else "hallkpi/v1/x"
    out = svc.handle(topic, payload(hall))
    answered += 1
    if n == N // 10:
        warm = rss_kib()
    if n % 50_000 == 0:
        engine.advance(NOW)
c = svc.counters
print(json.dumps({
    "payloads": N, "seed": SEED, "answered": answered, "seconds": time.monotonic() - started,
    "rss_warm_kib": warm, "rss_end_kib": rss_kib(), "internal_errors": c.internal_errors,
    "applied": c.events_applied, "rejected": c.events_rejected, "halls": len(engine.halls()),
    "messages": c.messages_received,
}))
"""


def test_fuzz_the_decode_and_apply_path(tmp_path: Path) -> None:
    n = int(os.environ.get("HALLKPI_FUZZ_PAYLOADS", "1000000"))
    seed = int(os.environ.get("HALLKPI_FUZZ_SEED", "10"))
    script = tmp_path / "fuzz_probe.py"
    script.write_text(PROBE)
    done = subprocess.run(
        [sys.executable, str(script), str(n), str(seed)],
        check=False,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, f"seed {seed}: {done.stderr[-3000:]}"
    probe = json.loads(done.stdout.splitlines()[-1])
    print(f"fuzz (seed {seed}): {probe}")
    assert probe["answered"] == probe["messages"] == n
    assert probe["internal_errors"] == 0, f"seed {seed}"
    assert probe["applied"] > 0 and probe["rejected"] > 0
    assert probe["halls"] <= 64
    growth_mib = (probe["rss_end_kib"] - probe["rss_warm_kib"]) / 1024
    report(
        None,
        bench=f"fuzz: {n:,} hostile payloads through HallService.handle",
        measured=f"RSS {probe['rss_warm_kib'] / 1024:.0f} -> {probe['rss_end_kib'] / 1024:.0f} MiB",
        baseline="RSS after the first tenth",
        ratio=f"+{growth_mib:.1f} MiB",
        goal=Goal("max", 64.0, "MiB"),
        value=growth_mib,
    )
    assert growth_mib < 256, f"RSS grew by {growth_mib:.0f} MiB (seed {seed})"
