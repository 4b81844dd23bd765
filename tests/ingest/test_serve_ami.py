"""`hallkpi serve --ami`: call events from a loopback Asterisk stand-in (real AMI framing,
a recorded capture) next to MQTT, into the same engine and store."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from hallkpi.telephony import QueueMap, translate_stream
from mqtt_broker import Broker, mosquitto_binary
from service_process import Publisher, ServiceProcess, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "telephony"))
from amiserver import FakeAsterisk

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]
CAPTURE = Path(__file__).resolve().parents[1] / "telephony" / "data" / "small-capture.txt"
QUEUES = {"12366-yuhua": "yuhua", "12366-xinhua": "xinhua"}


def test_serve_takes_call_events_from_asterisk(broker: Broker, tmp_path: Path) -> None:
    capture = CAPTURE.read_bytes()
    offline = list(translate_stream([capture], QueueMap(QUEUES)))
    # Agent states differ live (the resync's QueueStatus states are stamped when read);
    # the calls must be the same events, with the same ids.
    expected = [e for e in offline if str(e["type"]).startswith("call.")]
    assert len(expected) >= 10, "the capture yields call events"
    config = tmp_path / "hallkpi.toml"
    config.write_text(
        "[telephony.queues]\n" + "".join(f'"{q}" = "{h}"\n' for q, h in QUEUES.items())
    )

    async def body() -> None:
        async with FakeAsterisk(stream=capture, secret="pbx-s3cret") as pbx:
            svc = ServiceProcess(
                broker,
                tmp_path / "store",
                args=["--config", str(config), "--ami", f"ami://kpi@127.0.0.1:{pbx.port}"],
                env={"HALLKPI_AMI_SECRET": "pbx-s3cret"},
            )
            await asyncio.to_thread(svc.start)
            try:
                await asyncio.to_thread(
                    wait_until,
                    lambda: svc.snapshot()["diagnostics"]["events_applied"] >= len(offline),
                    60,
                    "every call event applied",
                )
                # Every event the offline translation of the capture yields was applied
                # by the service from AMI: sent again over MQTT, each is a duplicate.
                # (Live, the service also sees the resync's agent states, stamped now.)
                pub = Publisher(broker)
                pub.publish_events(expected)
                await asyncio.to_thread(pub.wait_all)
                await asyncio.to_thread(
                    wait_until,
                    lambda: svc.metrics().get("events_duplicate", 0) >= len(expected),
                    60,
                    "the offline events to come back as duplicates",
                )
                metrics = svc.metrics()
                assert metrics["events_duplicate"] == len(expected)
                assert metrics["events_rejected"] == 0
                pub.close()
                assert b"pbx-s3cret" not in svc.log.read_bytes()
            finally:
                await asyncio.to_thread(svc.stop)

    asyncio.run(body())
