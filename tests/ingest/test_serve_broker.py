"""`hallkpi serve` against a real Mosquitto (started here on a free loopback port) and an
embedded chDB store: statuses, alerts, dead letters, a broker restart and kill -9."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hallkpi.core import Engine
from hallkpi.core.sim.simulate import simulate
from mqtt_broker import Broker, mosquitto_binary
from service_process import Collector, Publisher, ServiceProcess, wait_until

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]

T0 = 1795741200000  # 2026-11-27 06:20 Shanghai
PREFIX = "hallkpi/v1"


@pytest.fixture
def service(broker: Broker, tmp_path: Path) -> Iterator[ServiceProcess]:
    s = ServiceProcess(broker, tmp_path / "store")
    s.start()
    yield s
    s.stop()


def ev(
    i: int, etype: str = "ticket.issued", hall: str = "yuhua", ts: int = T0, **extra: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {"id": f"e{i}", "type": etype, "ts": ts, "hall": hall}
    if etype == "ticket.issued":
        base.update(ticket=f"A{i}", service="invoice", channel="kiosk")
    return {**base, **extra}


def replay_halls(events: list[dict[str, Any]]) -> dict[str, Any]:
    engine = Engine()
    for e in events:
        engine.push(e)
    return json.loads(json.dumps(engine.snapshot()["halls"]))


def test_status_alerts_and_dead_letters(broker: Broker, service: ServiceProcess) -> None:
    topics = [f"{PREFIX}/halls/+/status", f"{PREFIX}/halls/+/alerts", f"{PREFIX}/deadletter"]
    seen = Collector(broker, topics)
    pub = Publisher(broker)
    window = ev(0, "window.opened", window="w1", staff="s1")
    pub.publish_events([window] + [ev(i, ts=T0 + i) for i in range(1, 9)])
    pub.publish_events([ev(100, ts=T0 + 121_000)])  # 121 s later: congestion fires
    bad = {
        b"{not json": "invalid JSON",
        b"x" * 300_000: "exceeds the limit",
        json.dumps(ev(200, hall="gulou")).encode(): "does not match the topic's hall",
        json.dumps(
            {"id": "e201", "type": "ticket.issued", "ts": T0, "hall": "yuhua"}
        ).encode(): "missing field",
        json.dumps(ev(202, ts="soon")).encode(): "must be an integer",  # type: ignore[arg-type]
        json.dumps(ev(203, etype="ticket.vanished")).encode(): "unknown type",
    }
    for payload in bad:
        pub.publish(f"{PREFIX}/halls/yuhua/events", payload)
    pub.wait_all()
    wait_until(lambda: len(seen.on(f"{PREFIX}/deadletter")) == len(bad), 30, "dead letters")
    reasons = [m["reason"] for m in seen.on(f"{PREFIX}/deadletter")]
    for want in bad.values():
        assert any(want in r for r in reasons), (want, reasons)
    wait_until(lambda: service.metrics().get("events_applied") == 10, 30, "10 applied events")
    m = service.metrics()
    assert m["events_rejected"] == len(bad) and m["deadletters"] == len(bad)
    wait_until(
        lambda: any(a["state"] == "firing" for a in seen.on(f"{PREFIX}/halls/yuhua/alerts")),
        30,
        "the congestion alert",
    )
    alert = next(a for a in seen.on(f"{PREFIX}/halls/yuhua/alerts") if a["state"] == "firing")
    assert alert["alert"] == "congestion" and alert["value"] == 9.0
    # A late subscriber gets the retained status, equal to the HTTP answer.
    wait_until(
        lambda: any(m["waiting"] == 9 for m in seen.on(f"{PREFIX}/halls/yuhua/status")),
        30,
        "the status after the last event",
    )
    late = Collector(broker, [f"{PREFIX}/halls/yuhua/status"])
    wait_until(lambda: bool(late.messages), 30, "the retained status")
    _, status, retained = late.messages[0]
    assert retained and status["waiting"] == 9 and status["open_windows"] == 1
    code, body = service.get("/halls/yuhua/status")
    assert code == 200 and json.loads(body)["waiting"] == 9
    for c in (seen, late):
        c.close()
    pub.close()


def stream(n: int) -> list[dict[str, Any]]:
    events = simulate(halls=3, tickets_per_hall=400, seed=9)
    return events[:n]


def test_kill_9_then_restart_loses_and_double_counts_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    events = stream(3000)
    svc = ServiceProcess(broker, tmp_path / "store")
    svc.start()
    pub = Publisher(broker)
    pub.publish_events(events[:2000])
    wait_until(lambda: svc.metrics().get("events_applied", 0) >= 700, 60, "some events applied")
    svc.stop(kill=True)  # mid-stream, without warning
    pub.publish_events(events[2000:])
    pub.wait_all()
    svc.start()
    total = len({e["id"] for e in events})
    wait_until(
        lambda: svc.snapshot()["diagnostics"]["events_applied"] >= total, 120, "every event applied"
    )
    assert svc.snapshot()["halls"] == replay_halls(events)
    svc.stop()
    pub.close()


def test_broker_restart_during_a_stream_loses_nothing(
    broker: Broker, service: ServiceProcess
) -> None:
    events = stream(2500)
    pub = Publisher(broker)
    pub.publish_events(events[:1200])
    wait_until(lambda: service.metrics().get("events_applied", 0) >= 300, 60, "some events applied")
    broker.restart()
    wait_until(pub.client.is_connected, 30, "the publisher to reconnect")
    pub.publish_events(events[1200:])
    pub.wait_all(120)
    total = len({e["id"] for e in events})
    wait_until(
        lambda: service.snapshot()["diagnostics"]["events_applied"] >= total,
        120,
        "every event applied",
    )
    assert service.snapshot()["halls"] == replay_halls(events)
    pub.close()


def test_simulate_publishes_to_the_service(broker: Broker, service: ServiceProcess) -> None:
    import subprocess
    import sys

    args = ["--halls", "2", "--tickets-per-hall", "60", "--seed", "4"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hallkpi.core.cli",
            "simulate",
            "--mqtt",
            broker.url,
            "--speed",
            "0",
            *args,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    events = simulate(halls=2, tickets_per_hall=60, seed=4)
    wait_until(
        lambda: service.snapshot()["diagnostics"]["events_applied"] >= len(events),
        120,
        "every simulated event applied",
    )
    assert service.snapshot()["halls"] == replay_halls(events)
