"""kill -9 of the service under a steady QoS 1 stream, restarted at once (issue 10).

Producers send ``producer``/``seq``; after the restart they keep publishing a while.

- With Mosquitto's defaults (``persistence true`` and a listener, nothing tuned) the
  broker queues at most 1,000 messages for the offline service and drops the rest.
  Every run must account for each published event exactly: stored, or inside a gap
  the engine reports (``/gaps``) and the store keeps (``upstream_gaps``).
- With ``deploy/mosquitto.conf`` nothing may be lost: the store holds every published
  event once, and no gap is reported.

Each runs once by default; ``HALLKPI_FAULT_RUNS=10`` runs each ten times.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hallkpi.core import Engine
from mqtt_broker import Broker, free_port, mosquitto_binary
from service_process import Publisher, ServiceProcess, store_query, wait_until

RUNS = int(os.environ.get("HALLKPI_FAULT_RUNS", "1"))
pytestmark = [
    pytest.mark.timeout(600 * RUNS),
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
    pytest.mark.skipif(
        not hasattr(Engine, "producer_gaps"), reason="needs the engine's gap detector"
    ),
]

PRODUCERS = {"p-yuhua": "yuhua", "p-gulou": "gulou"}
BATCH = 20  # events per pacing step: about 20 / 0.01 s = 2,000 events/s in all


class Producers(threading.Thread):
    """Publishes ticket.issued events of both producers, ``seq`` 1, 2, ... each, at a
    steady pace (the stream), until :meth:`finish`."""

    def __init__(self, broker: Broker) -> None:
        super().__init__(daemon=True)
        self.pub = Publisher(broker, client_id="fault-producers")
        self.published = dict.fromkeys(PRODUCERS, 0)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            for producer, hall in PRODUCERS.items():
                for _ in range(BATCH // len(PRODUCERS)):
                    seq = self.published[producer] + 1
                    event = {
                        "id": f"{producer}-{seq}",
                        "type": "ticket.issued",
                        "ts": time.time_ns() // 1_000_000,
                        "hall": hall,
                        "ticket": f"T{seq}",
                        "service": "invoice",
                        "channel": "kiosk",
                        "producer": producer,
                        "seq": seq,
                        "epoch": 1,
                    }
                    self.pub.publish(f"hallkpi/v1/halls/{hall}/events", json.dumps(event).encode())
                    self.published[producer] = seq
            self._done.wait(0.01)  # pacing of the producers, not a wait for a result

    def total(self) -> int:
        return sum(self.published.values())

    def finish(self) -> None:
        self._done.set()
        self.join(30)
        self.pub.wait_all(300)
        self.pub.close()


def missing_seqs(gaps: list[dict[str, Any]], producer: str) -> set[int]:
    out: set[int] = set()
    for g in gaps:
        if g["producer"] == producer:
            out |= set(range(int(g["first_seq"]), int(g["last_seq"]) + 1))
    return out


def kill_and_restart_under_stream(broker: Broker, workdir: Path) -> dict[str, Any]:
    """One run; returns what was published, stored and reported missing."""
    svc = ServiceProcess(broker, workdir / "store", client_id="kill9", event_clock=False)
    svc.start()
    stream = Producers(broker)
    stream.start()
    wait_until(lambda: svc.metrics().get("events_applied", 0) >= 3000, 120, "3000 applied")
    svc.stop(kill=True)  # mid-stream, without warning
    svc.start()  # at once; the stream goes on meanwhile
    after = stream.total()
    wait_until(lambda: stream.total() >= after + 4000, 120, "the stream to go on")
    stream.finish()
    published = stream.total()

    def accounted() -> bool:
        m = svc.metrics()
        return m.get("events_applied", 0) + m.get("upstream_lost_events", 0) == published

    wait_until(accounted, 120, "every event applied or reported missing")
    _, body = svc.get("/gaps")
    gaps = json.loads(body)
    svc.stop()
    rows = store_query(
        workdir / "store",
        "SELECT producer, groupArray(seq), count() FROM {db}.events FINAL GROUP BY producer",
    )
    stored = {p: (set(map(int, seqs)), int(n)) for p, seqs, n in rows}
    stored_gaps = store_query(
        workdir / "store",
        "SELECT producer, first_seq, last_seq, argMax(state, ts) FROM {db}.upstream_gaps "
        "GROUP BY producer, first_seq, last_seq",
    )
    return {
        "published": dict(stream.published),
        "stored": stored,
        "gaps": gaps,
        "stored_gaps": stored_gaps,
    }


def check_accounting(run: dict[str, Any], *, lossless: bool) -> int:
    """Stored + reported missing = published, exactly, per producer; returns the lost."""
    lost = 0
    for producer, n in run["published"].items():
        seqs, count = run["stored"].get(producer, (set(), 0))
        assert count == len(seqs), f"{producer}: a seq stored twice"
        missing = missing_seqs(run["gaps"], producer)
        assert seqs.isdisjoint(missing), f"{producer}: a stored event reported missing"
        assert seqs | missing == set(range(1, n + 1)), f"{producer}: unaccounted events"
        stored_missing = {
            s
            for p, first, last, state in run["stored_gaps"]
            if p == producer and state == "missing"
            for s in range(int(first), int(last) + 1)
        }
        assert stored_missing == missing, f"{producer}: the store's gaps differ"
        lost += len(missing)
    if lossless:
        assert lost == 0 and run["gaps"] == []
    return lost


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_9_with_the_default_broker_reports_every_lost_event(tmp_path: Path, run: int) -> None:
    broker = Broker(tmp_path / "broker", free_port(), mode="defaults")
    broker.start()
    try:
        result = kill_and_restart_under_stream(broker, tmp_path)
    finally:
        broker.stop()
    lost = check_accounting(result, lossless=False)
    print(f"run {run}: published {sum(result['published'].values())}, lost {lost}")


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_9_with_the_deploy_config_loses_nothing(tmp_path: Path, run: int) -> None:
    broker = Broker(tmp_path / "broker", free_port())  # deploy/mosquitto.conf
    broker.start()
    try:
        result = kill_and_restart_under_stream(broker, tmp_path)
    finally:
        broker.stop()
    check_accounting(result, lossless=True)
    print(f"run {run}: published {sum(result['published'].values())}, lost 0")
