"""Child process of ``test_restart.py`` (and a script): the start of a restarted
``hallkpi serve``, step by step, timed from the moment its parent started it.

    python benches/restart_probe.py STORE_URL BROKER_PORT STARTED_AT NOW_MS

Steps, as the service runs them: imports (the interpreter, ``hallkpi.ingest.service.app`` and
what it pulls in), chDB open (the first connection), schema check (``ensure_schema``),
recovery read (until the first block of events is ready: the store's scan, the
decoding and the sort by arrival), recovery apply (the remaining pushes), broker
connect (a persistent MQTT v5 session with gmqtt, until CONNACK), then the first
message: one event queued for the session before the start, applied. Prints one JSON object of
seconds per step (and ``total`` from ``STARTED_AT``, the parent's ``time.time()``).
``BROKER_PORT`` 0 stops after the recovery (to compare recoveries without a broker).
"""

from __future__ import annotations

import time

T_BOOT = time.time()

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from inspect import signature  # noqa: E402
from typing import Any  # noqa: E402

import hallkpi.ingest.service.app  # noqa: E402, F401  (what the service imports)
from gmqtt import Client  # noqa: E402
from gmqtt.mqtt.constants import MQTTv50  # noqa: E402
from hallkpi.core import Engine  # noqa: E402
from hallkpi.ingest.store.connection import Store  # noqa: E402
from hallkpi.ingest.store.recovery import (  # noqa: E402
    dead_letter_counts,
    longest_horizon_s,
    read_event_blocks,
    recovery_start,
)
from hallkpi.ingest.store.schema import ensure_schema  # noqa: E402

CLIENT_ID = "restart-probe"


def recover_timed(engine: Engine, store: Store, now_ms: int) -> tuple[int, float, float]:
    """``recover`` with the time of its first block apart: (applied, read s, apply s)."""
    t0 = time.perf_counter()
    since = recovery_start(now_ms, longest_horizon_s(engine), engine.timezone)
    extra = {"producer": True} if "producer" in signature(read_event_blocks).parameters else {}
    blocks = read_event_blocks(
        store, since_ms=since, carry_over=True, timezone=engine.timezone, **extra
    )
    applied, first = 0, None
    for block in blocks:
        if first is None:
            first = time.perf_counter()
        result, _ = engine.push_columns(block)
        applied += result.applied
    dead_letter_counts(store, since_ms=since)
    engine.advance(now_ms)
    t1 = time.perf_counter()
    first = t1 if first is None else first
    return applied, first - t0, t1 - first


async def first_message(port: int, engine: Engine) -> tuple[float, float]:
    """(connect s, first message s): the session's queued event, applied."""
    t0 = time.perf_counter()
    got = asyncio.get_running_loop().create_future()
    connack: list[float] = []

    def on_message(client: Any, topic: str, payload: bytes, qos: int, props: Any) -> int:
        if not got.done() and engine.push_json(payload).applied:
            got.set_result(time.perf_counter())
        return 0

    client = Client(CLIENT_ID, clean_session=False, session_expiry_interval=3600)
    client.on_message = on_message
    client.on_connect = lambda c, *a: (
        connack.append(time.perf_counter()),
        c.subscribe("hallkpi/v1/+/+/events", qos=1),
    )
    await client.connect("127.0.0.1", port, version=MQTTv50)
    t2 = await asyncio.wait_for(got, 30)  # (it may come before connect() returns)
    await client.disconnect()
    return connack[0] - t0, t2 - connack[0]


def main(url: str, port: int, started_at: float, now_ms: int) -> None:
    t_imports = time.time()
    store = Store(url)
    t0 = time.perf_counter()
    store.client()
    t1 = time.perf_counter()
    ensure_schema(store)
    t2 = time.perf_counter()
    engine = Engine()
    c0 = time.process_time()  # every thread of the process, chDB's included
    applied, read_s, apply_s = recover_timed(engine, store, now_ms)
    recovery_cpu = time.process_time() - c0
    connect_s = message_s = 0.0
    if port:
        connect_s, message_s = asyncio.run(first_message(port, engine))
    out = {
        "interpreter": T_BOOT - started_at,
        "imports": t_imports - started_at,
        "chdb_open": t1 - t0,
        "schema_check": t2 - t1,
        "recovery_read": read_s,
        "recovery_apply": apply_s,
        "broker_connect": connect_s,
        "first_message": message_s,
        "total": time.time() - started_at,
        "recovery_cpu": recovery_cpu,
        "recovered_events": applied,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
