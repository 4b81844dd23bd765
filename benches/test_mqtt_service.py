"""`hallkpi serve` against a bare subscriber of the same MQTT client library (gmqtt),
both fed by a real Mosquitto on loopback, in the same run:

- throughput of single-event messages published by ``mosquitto_pub -l``: the service
  (decode, validate, apply, store, acknowledge after durable) vs an empty callback;
  goal >= 0.9x;
- latency at 1,000 msg/s: publish -> retained status of the hall (service) vs
  publish -> callback (bare client), p99; goal <= 1.1x.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from harness import Goal, fmt_s, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ingest"))

from hallkpi.core.sim.simulate import simulate
from mqtt_broker import Broker, free_port, mosquitto_binary
from service_process import ServiceProcess, wait_until

pytestmark = pytest.mark.skipif(
    mosquitto_binary() is None or shutil.which("mosquitto_pub") is None,
    reason="mosquitto and mosquitto_pub are needed (make test installs them)",
)

HERE = Path(__file__).resolve().parent
N = 20_000


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker"), free_port())
    b.start()
    yield b
    b.stop()


def one_hall_lines(n: int, tmp: Path) -> tuple[Path, str]:
    events = list(simulate(halls=1, days=3, tickets_per_hall=3000, seed=2))
    events = [e for e in events if not str(e["type"]).startswith(("call.", "agent."))][:n]
    path = tmp / "lines.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path, f"hallkpi/v1/halls/{events[0]['hall']}/events"


def mosquitto_pub(broker: Broker, topic: str, lines: Path) -> None:
    with lines.open("rb") as f:
        subprocess.run(
            ["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", topic, "-l"],
            stdin=f,
            check=True,
            timeout=300,
        )


def bare_throughput(broker: Broker, topic: str, lines: Path, n: int) -> float:
    sub = subprocess.Popen(
        [sys.executable, str(HERE / "bare_subscriber.py"), str(broker.port), topic, str(n)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sub.stdout is not None
    assert sub.stdout.readline().strip() == "ready"
    mosquitto_pub(broker, topic, lines)
    seconds = float(sub.stdout.readline())
    sub.wait(timeout=60)
    sub.stdout.close()
    return n / seconds


def service_throughput(broker: Broker, topic: str, lines: Path, n: int, tmp: Path) -> float:
    svc = ServiceProcess(broker, tmp / "store", client_id=f"bench-{time.monotonic_ns()}")
    svc.start()
    try:
        start: list[float] = []

        def progress() -> bool:
            m = svc.metrics()
            if not start and m.get("messages_received", 0) >= 1:
                start.append(time.perf_counter())
            return m.get("events_applied", 0) + m.get("events_duplicate", 0) >= n

        t = threading.Thread(target=mosquitto_pub, args=(broker, topic, lines))
        t.start()
        wait_until(progress, 300, "the service to apply every message")
        end = time.perf_counter()
        t.join()
        return n / (end - start[0])
    finally:
        svc.stop()


def test_service_throughput_vs_bare_subscriber(broker: Broker, tmp_path: Path) -> None:
    lines, topic = one_hall_lines(N, tmp_path)
    n = lines.read_bytes().count(b"\n")
    bare = max(bare_throughput(broker, topic, lines, n) for _ in range(2))
    svc = max(service_throughput(broker, topic, lines, n, tmp_path / f"r{i}") for i in range(2))
    ratio = svc / bare
    report(
        None,
        bench=f"serve throughput, {n} single-event messages (mosquitto_pub -l)",
        measured=f"{svc:,.0f} msg/s",
        baseline=f"bare gmqtt subscriber {bare:,.0f} msg/s",
        ratio=f"{ratio:.2f}x",
        goal=Goal("min", 0.9, "x"),
        value=ratio,
    )


async def paced_publish(
    port: int, rate: int, seconds: float, halls: int
) -> list[tuple[str, int, int]]:
    """Publishes ``rate`` msg/s for ``seconds``; each message a ticket.issued of the next
    hall; returns (hall, k-th message of that hall, send time ns)."""
    from gmqtt import Client
    from gmqtt.mqtt.constants import MQTTv50
    from hallkpi.ingest.service.gmqtt_takeover import all_acked

    client = Client(f"pace-{time.monotonic_ns()}")
    await client.connect("127.0.0.1", port, version=MQTTv50)
    sent: list[tuple[str, int, int]] = []
    per_hall: dict[str, int] = {}
    start = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        hall = f"h{i % halls}"
        k = per_hall[hall] = per_hall.get(hall, 0) + 1
        ev = {
            "id": f"lat-{i}",
            "type": "ticket.issued",
            "ts": 1795741200000 + i,
            "hall": hall,
            "ticket": f"T{k}",
            "service": "s",
            "channel": "kiosk",
        }
        sent.append((hall, k, time.time_ns()))
        client.publish(f"hallkpi/v1/halls/{hall}/events", json.dumps(ev).encode(), qos=1)
        if (i + 1) % 200 == 0:  # flow control: packet ids wrap at the receive maximum
            await all_acked(client)
    await asyncio.sleep(1.5)
    await client.disconnect()
    return sent


def test_status_latency_vs_bare_callback(broker: Broker, tmp_path: Path) -> None:
    rate, seconds, halls = 1000, 5.0, 2500
    # Bare client: publish -> callback, on the same kind of message stream.
    sub = subprocess.Popen(
        [sys.executable, str(HERE / "bare_subscriber.py"), str(broker.port),
         "hallkpi/v1/halls/+/events", "0", "latency", str(seconds + 2.5)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sub.stdout is not None and sub.stdout.readline().strip() == "ready"
    sent = asyncio.run(paced_publish(broker.port, rate, seconds, halls))
    sent_at = {f"lat-{i}": t for i, (_, _, t) in enumerate(sent)}
    bare = []
    for line in sub.stdout.read().splitlines():
        payload, _, recv = line.rpartition(" ")
        bare.append(int(recv) - sent_at[json.loads(payload)["id"]])
    sub.wait(timeout=60)
    sub.stdout.close()
    # Service: publish -> retained status showing that message (waiting == k).
    svc = ServiceProcess(broker, tmp_path / "store", client_id="bench-lat")
    svc.start()
    statuses: list[tuple[str, int, int]] = []

    async def collect_and_publish() -> list[tuple[str, int, int]]:
        from gmqtt import Client
        from gmqtt.mqtt.constants import MQTTv50

        col = Client("lat-col")

        def on_message(c: Any, topic: str, payload: bytes, qos: int, props: Any) -> int:
            statuses.append((topic.split("/")[3], json.loads(payload)["waiting"], time.time_ns()))
            return 0

        col.on_message = on_message
        await col.connect("127.0.0.1", broker.port, version=MQTTv50)
        col.subscribe("hallkpi/v1/halls/+/status", qos=1)
        await asyncio.sleep(0.5)
        statuses.clear()  # retained statuses of earlier runs
        out = await paced_publish(broker.port, rate, seconds, halls)
        await col.disconnect()
        return out

    sent2 = asyncio.run(collect_and_publish())
    svc.stop()
    first_seen: dict[tuple[str, int], int] = {}
    for hall, waiting, t in statuses:
        first_seen.setdefault((hall, waiting), t)
    service = [first_seen[(h, k)] - t for h, k, t in sent2 if (h, k) in first_seen]
    assert len(service) > 0.9 * len(sent2), f"only {len(service)} statuses matched"
    p99_bare = float(np.percentile(bare, 99)) / 1e9
    p99_svc = float(np.percentile(service, 99)) / 1e9
    ratio = p99_svc / p99_bare
    report(
        None,
        bench=f"publish -> retained status p99 at {rate} msg/s over {halls} halls",
        measured=fmt_s(p99_svc),
        baseline=f"publish -> bare callback p99 {fmt_s(p99_bare)}",
        ratio=f"{ratio:.2f}x",
        goal=Goal("max", 1.1, "x"),
        value=ratio,
    )
