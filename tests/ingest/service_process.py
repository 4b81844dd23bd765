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
from typing import Any, ClassVar

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


OTHER_TREE_ENV = "HALLKPI_TEST_SERVICE_PYTHONPATH"
"""Set to a PYTHONPATH whose ``hallkpi`` is another tree (e.g. the commit before a fix):
the services these tests start run that code, the tests themselves stay as they are."""


def toml_value(v: Any) -> str:
    return json.dumps(v)  # strings, numbers and lists read the same in TOML


class ServiceProcess:
    """One `hallkpi serve` worker with an HTTP port: on the event clock unless
    ``event_clock=False``; ``service`` adds keys to a ``[service]`` config section
    (retries are capped at 1 s here so that tests do not wait for a long backoff).
    A test that fails leaves none running: conftest stops them (:meth:`stop_all`)."""

    started: ClassVar[list[ServiceProcess]] = []

    @classmethod
    def stop_all(cls) -> None:
        """Kills every service a test started and left running."""
        while cls.started:
            cls.started.pop().stop(kill=True)

    def __init__(
        self,
        broker: Broker,
        store_dir: Path,
        client_id: str = "svc-test",
        *,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        event_clock: bool = True,
        service: dict[str, Any] | None = None,
        mqtt_url: str | None = None,
        token: str | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.extra_args = list(args)
        self.extra_env = dict(env or {})
        self.broker = broker
        self.store_dir = store_dir
        self.client_id = client_id
        self.event_clock = event_clock
        self.service = {"reconnect_max_s": 1, **(service or {})}
        self.mqtt_url = mqtt_url
        self.token = token
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.dir = log_dir or store_dir.parent  # logs and the config file
        self.log = self.dir / f"{client_id}.log"
        self.dir.mkdir(parents=True, exist_ok=True)

    def start(self, *, wait: bool = True) -> None:
        config = self.dir / f"{self.client_id}.toml"
        config.write_text(
            "[service]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in self.service.items())
        )
        env = {**os.environ, **self.extra_env}
        other = os.environ.get(OTHER_TREE_ENV)
        if other:  # the service of another tree (to show a test fails without a fix)
            env["PYTHONPATH"] = other
            if set(self.service) == {"reconnect_max_s"}:  # a key older trees refuse
                config.write_text("")
        cmd = [
            sys.executable, "-m", "hallkpi.core.cli", "serve",
            "--mqtt", self.mqtt_url or self.broker.url,
            "--store", f"chdb://{self.store_dir}",
            "--client-id", self.client_id,
            "--http", f"127.0.0.1:{self.http_port}",
            "--kpi-interval-s", "1",
            "--config", str(config),
            *(["--event-clock"] if self.event_clock else []),
            *self.extra_args,
        ]  # fmt: skip
        self._logfile = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            cmd,
            stdout=self._logfile,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.started.append(self)
        if wait:
            wait_until(self.healthy, 60, f"the service to be healthy (log: {self.log})")

    def get(self, path: str, *, token: str | None = None) -> tuple[int, bytes]:
        token = token or self.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"http://127.0.0.1:{self.http_port}{path}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def healthy(self) -> bool:
        return self.health()[0] == 200

    def health(self) -> tuple[int, str]:
        """``/healthz``: (status, body); fails when the process has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"service exited: {self.log.read_text()[-3000:]}")
        code, body = self.get("/healthz")
        return code, body.decode(errors="replace")

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
        if self in self.started:
            self.started.remove(self)


class Publisher:
    """Publishes at QoS 1 in order through one persistent session (survives restarts)."""

    def __init__(
        self, broker: Broker, client_id: str = "pub-test", *, user: str | None = None
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        if user is not None:
            assert broker.users is not None
            self.client.username_pw_set(user, broker.users[user])
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


def store_query(store_dir: Path, sql: str) -> list[list[Any]]:
    """Rows of ``sql`` on the chDB store in ``store_dir`` (database hallkpi), read in a
    child process: chDB opens one data directory per process, and this one may have
    another open. ``{db}`` in ``sql`` is the database name. Run it while no service
    has the directory open."""
    code = (
        "import json, sys\n"
        "from hallkpi.ingest.store.connection import Store\n"
        "s = Store('chdb://' + sys.argv[1])\n"
        "rows = s.rows(sys.argv[2].replace('{db}', s.database))\n"
        "print(json.dumps([list(r) for r in rows], default=str))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(store_dir), sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return list(json.loads(out.stdout.splitlines()[-1]))


class Collector:
    """Subscribes topics and keeps what arrives."""

    def __init__(self, broker: Broker, topics: Sequence[str], *, user: str | None = None) -> None:
        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"col-{id(self)}")
        if user is not None:
            assert broker.users is not None
            self.client.username_pw_set(user, broker.users[user])
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
