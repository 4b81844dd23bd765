"""Restart to first message: a store holding one simulated day of 50 halls (made with
`hallkpi load`), a real Mosquitto holding one event for the service's persistent
session; then a fresh process runs the start of `hallkpi serve` step by step
(``restart_probe.py``) until that event is applied. Baseline, same run: replaying the
same day from its JSON-lines file with ``Engine.push_jsonl`` (what recovery rebuilds).

Also `hallkpi serve --event-clock` itself (it recovers every stored event), timed from
its start until its ``/metrics`` count the queued message.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hallkpi.core import Engine
from harness import Goal, fmt_s, report
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ingest"))

from mqtt_broker import Broker, free_port, mosquitto_binary
from service_process import wait_until

pytestmark = pytest.mark.skipif(
    mosquitto_binary() is None, reason="mosquitto is needed (make test installs it)"
)

HERE = Path(__file__).resolve().parent
ROUNDS = 3
END_OF_DAY_MS = 1795795199000  # 2026-11-27 23:59:59 Asia/Shanghai: the whole day is today
STEPS = (
    "imports",
    "chdb_open",
    "schema_check",
    "recovery_read",
    "recovery_apply",
    "broker_connect",
    "first_message",
)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker"), free_port())
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def day_store(tmp_path_factory: pytest.TempPathFactory, day_lines: bytes) -> Path:
    """`hallkpi load` of the day into a chDB directory (in its own process: chDB opens
    one directory per process, and other benchmarks hold theirs)."""
    root = tmp_path_factory.mktemp("restart")
    path = root / "day.jsonl"
    path.write_bytes(day_lines)
    store = root / "store"
    subprocess.run(
        [sys.executable, "-m", "hallkpi.core.cli", "load", str(path), "--store", f"chdb://{store}"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return store


def queue_one_event(broker: Broker, client_id: str, hall: str, topic_filter: str) -> None:
    """Makes ``client_id``'s persistent session (subscribed) and queues one event in it."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    session = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    session.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    session.loop_start()
    info = session.subscribe(topic_filter, qos=1)
    wait_until(lambda: session.is_connected() and info[0] == mqtt.MQTT_ERR_SUCCESS, 30, "SUBACK")
    time.sleep(0.2)  # bench set-up only: let the SUBACK land before leaving
    session.disconnect()
    session.loop_stop()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{time.monotonic_ns()}")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    event = {"id": f"{hall}-1", "type": "ticket.issued", "ts": END_OF_DAY_MS - 1000,
             "hall": hall, "ticket": "P1", "service": "tax", "channel": "kiosk"}  # fmt: skip
    pub.publish(f"hallkpi/v1/halls/{hall}/events", json.dumps(event), qos=1).wait_for_publish(30)
    pub.loop_stop()
    pub.disconnect()


def probe(broker: Broker, store: Path) -> dict[str, Any]:
    queue_one_event(broker, "restart-probe", "probe", "hallkpi/v1/+/+/events")
    started = time.time()
    out = subprocess.run(
        [sys.executable, str(HERE / "restart_probe.py"), f"chdb://{store}", str(broker.port),
         repr(started), str(END_OF_DAY_MS)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return dict(json.loads(out.stdout.decode().splitlines()[-1]))


@pytest.mark.benchmark(group="restart")
def test_restart_to_first_message(broker: Broker, day_store: Path, day_lines: bytes) -> None:
    events = day_lines.count(b"\n")
    runs: list[dict[str, Any]] = []
    baseline: list[float] = []
    for _ in range(ROUNDS + 1):  # the first round warms the page cache; dropped
        t0 = time.perf_counter()
        Engine().push_jsonl(day_lines)
        baseline.append(time.perf_counter() - t0)
        runs.append(probe(broker, day_store))
    runs, baseline = runs[1:], baseline[1:]
    assert all(r["recovered_events"] == events for r in runs)
    best = min(runs, key=lambda r: r["total"])
    recovery = min(r["recovery_read"] + r["recovery_apply"] for r in runs)
    cpu = min(r["recovery_cpu"] for r in runs)
    steps = ", ".join(f"{s} {fmt_s(statistics.median(r[s] for r in runs))}" for s in STEPS)
    print(f"\nrestart steps (median of {ROUNDS}): {steps}")
    report(
        None,
        bench=f"restart to first message, store of one day ({events // 1000}k events, 50 halls)",
        measured=f"{fmt_s(best['total'])}; recovery {fmt_s(recovery)} (cpu {fmt_s(cpu)})",
        baseline=f"push_jsonl of the day {fmt_s(min(baseline))}",
        ratio=f"{recovery / min(baseline):.2f}x (recovery)",
        goal=Goal("max", 1000, "ms"),
        value=recovery * 1000,
    )


def metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read().decode()
    except OSError:
        return -1.0
    for line in body.splitlines():
        if line.startswith(f"hallkpi_{name} "):
            return float(line.split()[1])
    return -1.0


@pytest.mark.benchmark(group="restart")
def test_serve_restart_to_first_message(
    broker: Broker, day_store: Path, day_lines: bytes, tmp_path: Path
) -> None:
    """`hallkpi serve --event-clock` on the day's store: from the process start until
    its ``/metrics`` count the one queued message (polled every 10 ms)."""
    client_id = "restart-serve"
    queue_one_event(broker, client_id, "probe", "hallkpi/v1/halls/+/events")
    http = free_port()
    log = tmp_path / "serve.log"
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        svc = subprocess.Popen(
            [sys.executable, "-m", "hallkpi.core.cli", "serve", "--mqtt", broker.url,
             "--store", f"chdb://{day_store}", "--client-id", client_id, "--event-clock",
             "--spool", str(tmp_path / "spool"), "--http", f"127.0.0.1:{http}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while metric(http, "messages_received_total") < 1 and time.monotonic() < deadline:
                assert svc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.01)  # a poll with a deadline, not a timed assertion
            seconds = time.perf_counter() - t0
        finally:
            svc.terminate()
            svc.wait(timeout=120)
    assert time.monotonic() < deadline, log.read_text()[-3000:]
    t1 = time.perf_counter()
    Engine().push_jsonl(day_lines)
    base = time.perf_counter() - t1
    recovered = [x for x in log.read_text().splitlines() if "recovered" in x]
    report(
        None,
        bench="hallkpi serve --event-clock: start to first message, one day stored",
        measured=f"{fmt_s(seconds)} ({recovered[-1].split(': ', 1)[-1] if recovered else '?'})",
        baseline=f"push_jsonl of the day {fmt_s(base)}",
        ratio=f"{seconds / base:.2f}x",
        goal=Goal("max", 2000, "ms"),
        value=seconds * 1000,
    )
