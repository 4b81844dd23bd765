"""``hallkpi demo --mqtt``: the same day through a local Mosquitto and ``hallkpi serve``.

Mosquitto starts on a free loopback port with ``deploy/mosquitto.conf`` rendered for it
(port, temporary folder, ``user root`` so that, started as root, it keeps writing that
folder; anonymous clients, a demo-only setting), then the service as a
subprocess: ``hallkpi serve --event-clock`` on the demo's chDB store and spool, with its
HTTP endpoint on another free loopback port (log in ``DATA/serve.log``). The demo
publishes the simulated events at QoS 1 on their halls' topics, paced like the
in-process demo (07:30 to 18:30 at ``--speed``); the wall reads the service's
``/snapshot`` and follows the alert topics. Once everything is published and applied,
the service is stopped with SIGTERM (it writes its last KPI rows and flushes the
store) and the broker after it.

With ``--event-clock`` the service ticks once a real second, so KPI rows are written
about every ``speed`` simulated seconds here (not every ``--kpi-interval-s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv50
from hallkpi.core.errors import CommandError
from hallkpi.core.sim.simulate import iter_simulate
from hallkpi.ingest.demo.day import (
    WALL_PERIOD_S,
    DemoOptions,
    DemoResult,
    store_rows,
    summarize,
)
from hallkpi.ingest.demo.wall import WallState, progress_line, render_wall
from hallkpi.ingest.service.gmqtt_takeover import all_acked
from hallkpi.ingest.service.http import http_get
from hallkpi.ingest.service.mosquitto_conf import DEPLOY_CONF
from hallkpi.ingest.service.mosquitto_conf import render as render_mosquitto_conf
from hallkpi.ingest.service.topics import Topics
from hallkpi.ingest.store.connection import Store
from rich.console import Console
from rich.live import Live

TOPICS = Topics()
ACK_EVERY = 500  # below the Receive Maximum Mosquitto announces (max_inflight_messages)
READY_S = 30.0  # bounded waits for the broker, the service and the last events


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if found is None:
        raise CommandError("--mqtt needs Mosquitto: apt-get install mosquitto (or make mosquitto)")
    return found


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"{what} exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise CommandError(f"{what} did not listen on 127.0.0.1:{port} within {READY_S:g} s")


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until ``/healthz`` says 200: the service listens on HTTP before it has its store
    and its broker session."""
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"hallkpi serve exited with code {process.returncode}")
        with contextlib.suppress(OSError):
            if asyncio.run(http_get("127.0.0.1", port, "/healthz"))[0] == 200:
                return
        time.sleep(0.05)
    raise CommandError(f"hallkpi serve was not healthy within {READY_S:g} s")


@contextlib.contextmanager
def mosquitto(workdir: Path) -> Iterator[int]:
    """A Mosquitto on a free loopback port; yields the port."""
    port = free_port()
    conf = workdir / "mosquitto.conf"
    if DEPLOY_CONF.exists():  # a source checkout: the shipped settings (anonymous: demo only)
        conf.write_text(render_mosquitto_conf(DEPLOY_CONF.read_text(), port, workdir))
    else:
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n"
            "persistence false\nmax_queued_messages 1000000\nmax_inflight_messages 1000\n"
            "log_type error\n"
        )
    with (workdir / "mosquitto.log").open("wb") as log:  # (it warns that it runs as root)
        proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log)
    try:
        _wait_port(port, proc, "mosquitto")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def service(opts: DemoOptions, mqtt_port: int) -> Iterator[int]:
    """``hallkpi serve`` as a subprocess on the demo store; yields its HTTP port."""
    http_port = free_port()
    data = opts.data.resolve()
    cmd = [sys.executable, "-m", "hallkpi.core.cli", "serve"]
    cmd += ["--mqtt", f"mqtt://127.0.0.1:{mqtt_port}", "--client-id", "hallkpi-demo"]
    cmd += ["--store", opts.store_url, "--spool", str(data / "spool"), "--event-clock"]
    cmd += ["--http", f"127.0.0.1:{http_port}", "--kpi-interval-s", str(opts.kpi_interval_s)]
    with (data / "serve.log").open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_port(http_port, proc, "hallkpi serve")
            _wait_healthy(http_port, proc)  # subscribed: events published now reach it
            yield http_port
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    if proc.returncode not in (0, -signal.SIGTERM):
        raise CommandError(f"hallkpi serve exited with {proc.returncode}; see {data}/serve.log")


async def _get_json(port: int, path: str) -> tuple[int, Any]:
    status, body = await http_get("127.0.0.1", port, path)
    return status, json.loads(body) if status == 200 and path == "/snapshot" else None


class MqttDay:
    """Publishes the day and follows the service; the wall is fed from its snapshots."""

    def __init__(self, opts: DemoOptions, mqtt_port: int, http_port: int) -> None:
        self.opts = opts
        self.mqtt_port, self.http_port = mqtt_port, http_port
        self.start_ms, self.end_ms = opts.day_bounds()
        self.now = self.start_ms
        self.published = 0
        self.changes: list[dict[str, Any]] = []
        self.firing: dict[str, set[str]] = {}
        self.snapshot: dict[str, Any] = {"halls": {}, "diagnostics": {}}
        self.began = time.monotonic()

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int, props: Any) -> int:
        change = json.loads(payload)
        self.changes.append(change)
        names = self.firing.setdefault(str(change["hall"]), set())
        (names.add if change["state"] == "firing" else names.discard)(str(change["alert"]))
        return 0

    def state(self) -> WallState:
        return WallState(
            date=self.opts.date,
            timezone=self.opts.timezone,
            speed=self.opts.speed,
            start_ms=self.start_ms,
            end_ms=self.end_ms,
            now_ms=self.now,
            halls=self.opts.hall_names(),
            snapshot=self.snapshot,
            firing={h: sorted(a) for h, a in self.firing.items()},
            events_applied=int(self.snapshot["diagnostics"].get("events_applied", 0)),
            alerts_fired=sum(1 for c in self.changes if c["state"] == "firing"),
            elapsed_s=time.monotonic() - self.began,
            source=f"MQTT 127.0.0.1:{self.mqtt_port} -> hallkpi serve",
            store=str(self.opts.store_dir),
        )

    async def _refresh(self) -> None:
        status, doc = await _get_json(self.http_port, "/snapshot")
        if status == 200:
            self.snapshot = doc

    async def run(self, show: Callable[[WallState], None], live: bool) -> None:
        o = self.opts
        client = Client(f"hallkpi-demo-pub-{os.getpid()}")
        client.on_message = self._on_message
        await client.connect("127.0.0.1", self.mqtt_port, version=MQTTv50)
        client.subscribe(f"{TOPICS.prefix}/halls/+/alerts", qos=1)
        encode = msgspec.json.encode
        shown, hour = 0.0, self.start_ms // 3_600_000
        events: Iterator[dict[str, Any]] = iter_simulate(
            halls=o.halls,
            date=o.date,
            seed=o.seed,
            tickets_per_hall=o.tickets_per_hall,
            timezone=o.timezone,
        )
        pending = next(events, None)
        while pending is not None or self.now < self.end_ms:
            if o.speed > 0:
                clock = self.start_ms + int((time.monotonic() - self.began) * o.speed * 1000)
            else:
                clock = self.now + 60_000
            self.now = min(clock, self.end_ms) if pending is None else clock
            while pending is not None and int(pending["ts"]) <= self.now:
                calls = str(pending["type"]).startswith(("call.", "agent."))
                topic = TOPICS.events(str(pending["hall"]), "calls" if calls else "halls")
                client.publish(topic, encode(pending), qos=1)
                self.published += 1
                pending = next(events, None)
                if self.published % ACK_EVERY == 0:
                    # unpaced (--speed 0), gmqtt runs out of packet ids past that maximum
                    await all_acked(client)
            self.now = min(self.now, self.end_ms)
            due = (
                time.monotonic() - shown >= WALL_PERIOD_S if live else self.now // 3_600_000 > hour
            )
            if due:
                shown, hour = time.monotonic(), self.now // 3_600_000
                await self._refresh()
                show(self.state())
            await asyncio.sleep(0.02 if o.speed > 0 else 0)
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:  # until the service has applied everything
            await self._refresh()
            if self.state().events_applied >= self.published:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.2)  # one more service tick: last alerts and statuses
        await self._refresh()
        show(self.state())
        await client.disconnect()


def run_through_mqtt(opts: DemoOptions, console: Console) -> tuple[DemoResult, Store]:
    """The day through Mosquitto and ``hallkpi serve`` into chDB; the result and store."""
    live = opts.wall if opts.wall is not None else console.is_terminal
    began = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="hallkpi-demo-mqtt-") as tmp,
        mosquitto(Path(tmp)) as mqtt_port,
        service(opts, mqtt_port) as http_port,
    ):
        day = MqttDay(opts, mqtt_port, http_port)
        if live:
            with Live(console=console, auto_refresh=False) as screen:
                asyncio.run(day.run(lambda s: screen.update(render_wall(s), refresh=True), True))
        else:
            printer = console.print
            asyncio.run(
                day.run(lambda s: printer(progress_line(s), highlight=False, soft_wrap=True), False)
            )
    diag = day.snapshot.get("diagnostics", {})
    store = Store(opts.store_url)
    result = DemoResult(
        options={k: str(v) for k, v in asdict(opts).items()},
        halls=summarize(day.snapshot, opts.hall_names()),
        events_applied=int(diag.get("events_applied", 0)),
        duplicates=int(diag.get("duplicate_events", 0)),
        rejected=int(diag.get("rejected_events", 0)),
        store_rows=store_rows(store),
        day_s=time.monotonic() - began,
        store=opts.store_url,
        alert_changes=day.changes,
        producers=int(diag.get("producers", 0)),
        upstream_lost=int(diag.get("upstream_lost_events", 0)),
    )
    if result.events_applied != day.published:
        console.print(
            f"warning: published {day.published} events, the service applied "
            f"{result.events_applied}; see {opts.data}/serve.log"
        )
    return result, store
