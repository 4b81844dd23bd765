"""`hallkpi serve` as a real subprocess for broker tests, and a QoS 1 publisher."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from mqtt_broker import Broker, free_port
from paho.mqtt.enums import CallbackAPIVersion


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls ``cond`` (bounded) until it holds; fails with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class ServiceProcess:
    """One `hallkpi serve --event-clock` worker with an HTTP port."""

    def __init__(
        self,
        broker: Broker,
        store_dir: Path,
        client_id: str = "svc-test",
        *,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.extra_args = list(args)
        self.extra_env = dict(env or {})
        self.broker = broker
        self.store_dir = store_dir
        self.client_id = client_id
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = store_dir.parent / f"{client_id}.log"
        store_dir.parent.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "hallkpi.core.cli", "serve",
            "--mqtt", self.broker.url,
            "--store", f"chdb://{self.store_dir}",
            "--client-id", self.client_id,
            "--http", f"127.0.0.1:{self.http_port}",
            "--event-clock",
            "--kpi-interval-s", "1",
            *self.extra_args,
        ]  # fmt: skip
        self._logfile = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            cmd,
            stdout=self._logfile,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.extra_env},
        )
        wait_until(self.healthy, 60, f"the service to be healthy (log: {self.log})")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"service exited: {self.log.read_text()[-3000:]}")
        return self.get("/healthz")[0] == 200

    def metrics(self) -> dict[str, float]:
        _, body = self.get("/metrics")
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.split()
                out[name.removeprefix("hallkpi_").removesuffix("_total")] = float(value)
        return out

    def snapshot(self) -> dict[str, Any]:
        code, body = self.get("/snapshot")
        assert code == 200
        return dict(json.loads(body))

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._logfile.close()


class Publisher:
    """Publishes at QoS 1 in order through one persistent session (survives restarts)."""

    def __init__(self, broker: Broker, client_id: str = "pub-test") -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self.infos.append(self.client.publish(topic, payload, qos=1))

    def publish_events(self, events: Sequence[dict[str, Any]], prefix: str = "hallkpi/v1") -> None:
        for ev in events:
            kind = "calls" if str(ev["type"]).startswith(("call.", "agent.")) else "halls"
            self.publish(f"{prefix}/{kind}/{ev['hall']}/events", json.dumps(ev).encode())

    def wait_all(self, timeout: float = 60) -> None:
        wait_until(lambda: all(i.is_published() for i in self.infos), timeout, "PUBACKs")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Collector:
    """Subscribes topics and keeps what arrives."""

    def __init__(self, broker: Broker, topics: Sequence[str]) -> None:
        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"col-{id(self)}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: [c.subscribe(t, qos=1) for t in topics]
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [m for t, m, _ in list(self.messages) if t == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
