"""Issue 10's full-disk acceptance, on the real service, Mosquitto and chDB: the store's
disk fills (chDB refuses inserts, NOT_ENOUGH_SPACE) and the spool on a tiny tmpfs fills
too. The service does not exit, acknowledges nothing it could not keep, says why in
``/healthz``, and once space returns stores every event exactly once, with a live
engine equal to a replay of the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import Broker, mosquitto_binary
from service_process import Publisher, ServiceProcess, store_query, wait_until
from store_rows import fill, tiny_disk

pytestmark = [
    pytest.mark.timeout(400),
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]

HALLS = ("yuhua", "gulou")


def issued(i: int, t0: int) -> dict[str, Any]:
    hall = HALLS[i % len(HALLS)]
    return {
        "id": f"{hall}-{i}",
        "type": "ticket.issued",
        "ts": t0 + i,
        "hall": hall,
        "ticket": f"A{i}",
        "service": "invoice",
        "channel": "kiosk",
    }


def free_bytes(disk: Path) -> int:
    st = os.statvfs(disk)
    return st.f_bavail * st.f_frsize


def figures(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What the live engine and the replay must agree on."""
    return {
        "events_applied": snapshot["diagnostics"]["events_applied"],
        "issued": {h: snapshot["halls"][h]["today"]["issued"] for h in HALLS},
    }


def test_the_store_and_spool_disks_filled_and_freed(broker: Broker, tmp_path: Path) -> None:
    t0 = time.time_ns() // 1_000_000 - 60_000  # today, a minute ago (no clock lead)
    with (
        tiny_disk(tmp_path / "store_disk", "96m") as store_disk,
        tiny_disk(tmp_path / "spool_disk", "256k") as spool_disk,
    ):
        store_dir, spool_dir = store_disk / "chdb", spool_disk / "spool"
        svc = ServiceProcess(
            broker, store_dir, args=["--spool", str(spool_dir)], log_dir=tmp_path / "logs"
        )
        svc.start()
        pub = Publisher(broker)
        published = 0

        def send(n: int) -> None:
            nonlocal published
            pub.publish_events([issued(published + k, t0) for k in range(n)])
            published += n

        send(200)
        pub.wait_all()
        wait_until(lambda: svc.metrics().get("events_applied") == 200, 60, "the first events")
        wait_until(lambda: svc.metrics().get("acks_pending") == 0, 60, "the first acks")

        # No room on either disk: chDB's inserts fail with NOT_ENOUGH_SPACE, and what
        # the writer would spool meets ENOSPC. (Leaving the spool a few blocks' room
        # filled it in only some runs: while the store refuses, the writer spools a
        # few blocks and the rest waits in memory, unacknowledged.)
        spool_ballast = fill(spool_disk, "ballast")
        ballast = fill(store_disk)
        for _ in range(12):
            send(50)
        wait_until(lambda: svc.metrics().get("messages_received") == published, 60, "delivery")
        wait_until(lambda: svc.health()[0] == 503, 60, "/healthz to say 503")
        assert free_bytes(spool_disk) == 0 and free_bytes(store_disk) == 0
        reason = svc.health()[1]
        assert "store refuses writes" in reason or "spool disk full" in reason, reason
        assert "NOT_ENOUGH_SPACE" in reason or "No space left" in reason, reason
        # Nothing received since the disks filled is acknowledged (the broker keeps it).
        assert svc.metrics()["acks_pending"] == published - 200
        assert svc.process is not None and svc.process.poll() is None  # still running
        tried = "spool disk full: [Errno 28]"  # the writer tried the spool (logged once)
        wait_until(lambda: tried in svc.log.read_text(), 30, "the spool's ENOSPC")
        full_reason = svc.health()[1]
        assert svc.metrics()["acks_pending"] == published - 200
        print(f"both disks full: {published} published, {published - 200} unacked: {full_reason}")
        freed = time.monotonic()
        ballast.unlink()
        spool_ballast.unlink()
        wait_until(svc.healthy, 180, "healthy again")
        pub.wait_all(180)
        wait_until(
            lambda: svc.snapshot()["diagnostics"]["events_applied"] == published,
            120,
            f"{published} events applied",
        )
        wait_until(lambda: svc.metrics().get("acks_pending") == 0, 60, "every ack")
        live = figures(svc.snapshot())
        print(f"recovered in {time.monotonic() - freed:.1f} s: {live}")
        svc.stop()
        pub.close()
        assert svc.log.read_text().count("Traceback") == 0, svc.log.read_text()[-3000:]

        rows = store_query(store_dir, "SELECT count(), uniqExact(id) FROM {db}.events FINAL")
        raw = store_query(store_dir, "SELECT count() FROM {db}.events")
        print(f"stored {rows} (raw rows {raw})")
        assert rows == [[published, published]], (rows, raw)
        replay = subprocess.run(
            [sys.executable, "-m", "hallkpi.core.cli", "replay", "--from-store",
             f"chdb://{store_dir}", "--json"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert figures(json.loads(replay.stdout)) == live
        assert live["events_applied"] == published, (live, full_reason)
