"""What a reliability probe found, on a real Mosquitto and chDB: poison messages, a
future-dated event, unknown and too many halls, a spool left by an earlier run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hallkpi.core import Engine
from hallkpi.ingest.store.batch import ArrivalClock, Batch
from hallkpi.ingest.store.jsonl import event_columns, lenient
from hallkpi.ingest.store.spool import Frame, Spool
from mqtt_broker import Broker, mosquitto_binary
from service_process import Collector, Publisher, ServiceProcess, store_query, wait_until

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]

PREFIX = "hallkpi/v1"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def issued(i: int, hall: str = "yuhua", ts: int | None = None) -> dict[str, Any]:
    return {
        "id": f"{hall}-{i}",
        "type": "ticket.issued",
        "ts": now_ms() if ts is None else ts,
        "hall": hall,
        "ticket": f"A{i}",
        "service": "invoice",
        "channel": "kiosk",
    }


def topic(hall: str = "yuhua") -> str:
    return f"{PREFIX}/halls/{hall}/events"


def test_poison_messages_are_dead_lettered_stored_and_acknowledged(
    broker: Broker, tmp_path: Path
) -> None:
    svc = ServiceProcess(broker, tmp_path / "store")
    svc.start()
    pub = Publisher(broker)
    nested = b"[" * 1000 + b"]" * 1000  # 2 KB: RecursionError in the JSON decoder
    for _ in range(2000):
        pub.publish(topic(), nested)
    good = [issued(i, ts=1796349000000 + i) for i in range(50)]
    pub.publish(topic(), json.dumps([*good[:25], None, *good[25:]]).encode())
    pub.wait_all(120)
    wait_until(lambda: svc.metrics().get("events_applied") == 50, 120, "the valid events")
    m = svc.metrics()
    assert m["deadletters"] == 2001 and m["internal_errors"] == 0
    assert m["events_received"] == 51  # 50 events and the null, not the poison payloads
    svc.stop()
    # Every poison message was acknowledged: after a restart none comes back, and the
    # first message delivered is the new one.
    svc.start()
    pub.publish_events([issued(99, ts=1796349100000)])
    pub.wait_all()
    wait_until(lambda: svc.metrics().get("messages_received") == 1, 60, "the new message")
    assert svc.metrics()["events_applied"] == 51  # restored from the store, plus one
    assert svc.metrics()["deadletters"] == 2001  # restored from the store
    svc.stop()
    pub.close()
    rows = store_query(
        tmp_path / "store", "SELECT reason, count() FROM {db}.dead_letters FINAL GROUP BY reason"
    )
    assert sorted(map(tuple, rows)) == [
        ("event must be a JSON object", 1),
        ("invalid JSON: nested too deeply", 2000),
    ]


def test_a_future_dated_event_is_refused_and_moves_no_clock(broker: Broker, tmp_path: Path) -> None:
    svc = ServiceProcess(broker, tmp_path / "store", event_clock=False)
    svc.start()
    seen = Collector(broker, [f"{PREFIX}/deadletter"])
    pub = Publisher(broker)
    pub.publish_events([issued(1), issued(2, hall="gulou")])
    pub.publish_events([issued(3, ts=7258118400000)])  # 2200-01-01
    pub.publish_events([issued(4), issued(5, hall="gulou", ts=now_ms() - 400 * 86_400_000)])
    pub.wait_all()
    wait_until(lambda: len(seen.on(f"{PREFIX}/deadletter")) == 2, 60, "two dead letters")
    reasons = [d["reason"] for d in seen.on(f"{PREFIX}/deadletter")]
    assert "ahead of the service's clock" in reasons[0] and "days old" in reasons[1]
    wait_until(lambda: svc.metrics().get("events_applied") == 3, 60, "the current events")

    def clock_is_now() -> None:
        snap = svc.snapshot()
        assert abs(snap["now"] - now_ms()) < 60_000
        for hall in ("yuhua", "gulou"):
            now = snap["halls"][hall]["now"]
            assert now["waiting"] == (2 if hall == "yuhua" else 1)
            assert now["longest_wait_s"] < 600

    clock_is_now()
    svc.stop()
    svc.start()  # recovery does not bring it back
    wait_until(lambda: svc.snapshot()["diagnostics"]["events_applied"] == 3, 60, "recovery")
    clock_is_now()
    svc.stop()
    seen.close()
    pub.close()


def test_a_future_event_stored_before_the_limit_does_not_come_back(
    broker: Broker, tmp_path: Path
) -> None:
    """A store written before the clock limit existed (here by ``hallkpi load``, which
    has no wall clock) may hold an event dated 2200: recovery must not replay it."""
    events = tmp_path / "old.jsonl"
    old = [issued(1), issued(2, ts=7258118400000)]  # 2200-01-01
    events.write_text("".join(json.dumps(e) + "\n" for e in old), encoding="utf-8")
    load = subprocess.run(
        [
            str(Path(sys.executable).parent / "hallkpi"),
            "load",
            str(events),
            "--store",
            f"chdb://{tmp_path / 'store'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert load.returncode == 0, load.stderr
    svc = ServiceProcess(broker, tmp_path / "store", event_clock=False)
    svc.start()
    wait_until(lambda: svc.snapshot()["diagnostics"]["events_applied"] == 1, 60, "recovery")
    snap = svc.snapshot()
    assert abs(snap["now"] - now_ms()) < 60_000
    assert snap["halls"]["yuhua"]["now"]["waiting"] == 1
    assert snap["halls"]["yuhua"]["now"]["longest_wait_s"] < 600
    svc.stop()


def retained_statuses(broker: Broker) -> set[str]:
    """Halls with a retained status topic (read by a late subscriber)."""
    late = Collector(broker, [f"{PREFIX}/halls/+/status", f"{PREFIX}/service/+"])
    # the presence message is retained as well and comes after the statuses' subscription
    wait_until(lambda: any("/service/" in t for t, _, _ in late.messages), 30, "retained")
    late.close()
    return {t.split("/")[3] for t, _, r in late.messages if r and t.endswith("/status")}


def test_unknown_halls_are_refused_when_halls_are_configured(
    broker: Broker, tmp_path: Path
) -> None:
    svc = ServiceProcess(broker, tmp_path / "store", args=["--halls", "yuhua,gulou"])
    svc.start()
    pub = Publisher(broker)
    ts = 1796349000000
    for i, hall in enumerate(["yuhua", "gulou", "typo", "x" * 60, "yuhua"]):
        pub.publish(topic(hall), json.dumps(issued(i, hall=hall, ts=ts + i)).encode())
    pub.wait_all()
    wait_until(lambda: svc.metrics().get("halls_refused") == 2, 60, "two refusals")
    wait_until(lambda: svc.metrics().get("events_applied") == 3, 60, "three events")
    assert sorted(svc.snapshot()["halls"]) == ["gulou", "yuhua"]
    wait_until(lambda: retained_statuses(broker) == {"gulou", "yuhua"}, 30, "statuses")
    svc.stop()
    pub.close()


def test_without_configured_halls_their_number_is_bounded(broker: Broker, tmp_path: Path) -> None:
    svc = ServiceProcess(broker, tmp_path / "store", args=["--max-halls", "20"])
    svc.start()
    pub = Publisher(broker)
    for i in range(200):
        hall = f"hall{i:03d}"
        pub.publish(topic(hall), json.dumps(issued(i, hall=hall, ts=1796349000000)).encode())
    pub.wait_all()
    wait_until(lambda: svc.metrics().get("halls_refused") == 180, 60, "180 refusals")
    assert len(svc.snapshot()["halls"]) == 20
    wait_until(lambda: len(retained_statuses(broker)) == 20, 30, "20 retained statuses")
    svc.stop()
    pub.close()


def spool_events(spool_dir: Path, events: list[dict[str, Any]]) -> None:
    """Leaves ``events`` in a spool, as a run whose store was down would have."""
    structs = [lenient(e) for e in events]
    columns, order = event_columns(structs)
    columns["ingest_seq"] = ArrivalClock().take(len(events))[order]
    batch = Batch.of("events", columns)
    Spool(spool_dir).append(Frame("events", batch.column_names, batch.encode()))


def test_a_spool_left_by_an_earlier_run_is_in_the_engine_after_the_restart(
    broker: Broker, tmp_path: Path
) -> None:
    from hallkpi.core.sim.simulate import simulate

    events = simulate(halls=2, tickets_per_hall=150, seed=11)
    first, spooled = events[: len(events) // 2], events[len(events) // 2 :]
    svc = ServiceProcess(broker, tmp_path / "store", args=["--spool", str(tmp_path / "spool")])
    svc.start()
    pub = Publisher(broker)
    pub.publish_events(first)
    pub.wait_all(120)
    wait_until(lambda: svc.metrics().get("events_applied") == len(first), 120, "the first half")
    svc.stop()
    spool_events(tmp_path / "spool", spooled)
    svc.start()
    wait_until(
        lambda: svc.snapshot()["diagnostics"]["events_applied"] == len(events), 120, "all events"
    )
    engine = Engine()
    for e in events:
        engine.push(e)
    assert svc.snapshot()["halls"] == json.loads(json.dumps(engine.snapshot()["halls"]))
    svc.stop()
    pub.close()
    assert len(Spool(tmp_path / "spool")) == 0
    stored = store_query(tmp_path / "store", "SELECT count() FROM {db}.events FINAL")
    assert stored == [[len(events)]]
