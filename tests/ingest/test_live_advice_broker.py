"""`hallkpi serve` against a real Mosquitto: the advice is published, retained, once a
minute of the (event) clock, and the status carries the quoted wait."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import Broker, mosquitto_binary
from service_process import Collector, Publisher, ServiceProcess, wait_until

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]

T0 = 1795741200000  # 2026-11-27 06:20 Shanghai
PREFIX = "hallkpi/v1"


def events() -> list[dict[str, Any]]:
    """One open window and a ticket every 5 s for three minutes."""
    out: list[dict[str, Any]] = [
        {"id": "w", "type": "window.opened", "ts": T0, "hall": "yuhua", "window": "1", "staff": "s"}
    ]
    for i in range(36):
        out.append(
            {
                "id": f"i{i}",
                "type": "ticket.issued",
                "ts": T0 + 1000 + i * 5000,
                "hall": "yuhua",
                "ticket": f"A{i}",
                "service": "invoice",
                "channel": "kiosk",
            }
        )
    return out


def test_advice_topic_and_quoted_wait(broker: Broker, tmp_path: Path) -> None:
    config = tmp_path / "hallkpi.toml"
    config.write_text("[advice]\ntarget_wait_s = 300\n[quoted_wait]\nfactor = 1.0\n")
    svc = ServiceProcess(broker, tmp_path / "store", args=["--config", str(config)])
    svc.start()
    pub = Publisher(broker)
    try:
        seen = Collector(broker, [f"{PREFIX}/halls/+/advice"])
        topic = f"{PREFIX}/halls/yuhua/advice"
        # --event-clock: the clock moves with the events, so send them in two goes
        pub.publish_events(events()[:10])
        wait_until(lambda: len(seen.on(topic)) >= 1, 30, "the first advice")
        pub.publish_events(events()[10:])
        pub.wait_all()
        wait_until(lambda: len(seen.on(topic)) >= 2, 30, "the advice a minute later")
        first, second = seen.on(topic)[:2]
        assert second["ts"] - first["ts"] >= 60_000
        w = second["windows"]
        assert w["open"] == 1 and w["action"] == "open" and w["target_wait_s"] == 300
        assert w["text"].startswith("open ") and w["needed"] > 1
        late = Collector(broker, [topic])
        wait_until(lambda: bool(late.messages), 30, "the retained advice")
        assert late.messages[0][2]  # retained
        code, body = svc.get("/halls/yuhua/status")
        status = json.loads(body)
        assert code == 200 and status["waiting"] == 36
        # no measured cycle yet (no call): (waiting + 1) x (600 s default + 90) / 1 window
        assert status["quoted_wait_s"] == (37 * 690)
        assert status["quoted_wait_p10_s"] < status["quoted_wait_s"] < status["quoted_wait_p90_s"]
        for c in (seen, late):
            c.close()
    finally:
        pub.close()
        svc.stop()
