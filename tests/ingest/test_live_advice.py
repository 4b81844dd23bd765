"""The service's decision support without a broker: advice once a minute on its topic and
into the ``advice`` table, the quoted wait in every status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import closed_port
from hallkpi.core import Engine
from hallkpi.core.errors import ConfigError
from hallkpi.core.sim.simulate import simulate
from hallkpi.ingest.service.live_advice import AdviceRecorder, LiveDecisions, write_advice
from hallkpi.ingest.service.logic import HallFilter, HallService
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import ensure_schema

TOPIC = "hallkpi/v1/halls/{}/events"


def busy_morning() -> tuple[list[dict[str, Any]], int]:
    """Two simulated halls until 10:30 local time (a queue in both)."""
    events: list[dict[str, Any]] = simulate(
        halls=2, date="2026-11-27", seed=3, tickets_per_hall=800
    )
    cut = int(events[0]["ts"]) + 3 * 3600_000
    return [e for e in events if int(e["ts"]) < cut], cut


def service(config: dict[str, Any] | None = None, **kw: Any) -> tuple[HallService, LiveDecisions]:
    engine = Engine()
    decisions = LiveDecisions(engine, config=config, **kw)
    return HallService(engine, extra_status=decisions.extra_status), decisions


def feed(s: HallService, events: list[dict[str, Any]]) -> None:
    for e in events:
        s.handle(TOPIC.format(e["hall"]), json.dumps(e).encode())


def test_advice_once_a_minute_on_its_retained_topic() -> None:
    s, d = service()
    events, cut = busy_morning()
    feed(s, events)
    first = d.tick(cut)
    topics = sorted(t for t, _, retain in first if retain)
    assert topics == ["hallkpi/v1/halls/gulou/advice", "hallkpi/v1/halls/yuhua/advice"]
    doc = json.loads(next(p for t, p, _ in first if "/yuhua/" in t))
    assert doc["hall"] == "yuhua" and doc["ts"] == cut
    w = doc["windows"]
    assert w["open"] == s.engine.gauges("yuhua")["open_windows"]
    assert w["arrivals_per_h"] == s.engine.hall("yuhua")["15m"]["issued"] * 4
    assert w["action"] in ("open", "close", "ok") and w["text"]
    assert doc["agents"]["kind"] == "agents" and doc["agents"]["target_wait_s"] == 20
    assert d.tick(cut + 30_000) == []  # observed, nothing published
    assert len(d.tick(cut + 60_000)) == 2
    assert d.last["gulou"].ts == cut + 60_000


def test_the_status_carries_the_quoted_wait() -> None:
    s, d = service()
    events, cut = busy_morning()
    feed(s, events[: len(events) // 2])
    for t in range(events[0]["ts"], events[len(events) // 2]["ts"], 5000):
        d.tick(t)
    feed(s, events[len(events) // 2 :])
    for t in range(events[len(events) // 2]["ts"], cut, 5000):
        d.tick(t)
    status = s.status("yuhua")
    assert {"quoted_wait_s", "quoted_wait_p10_s", "quoted_wait_p90_s"} <= set(status)
    assert status["quoted_wait_p10_s"] <= status["quoted_wait_s"] <= status["quoted_wait_p90_s"]
    q = d.predictor.quote("yuhua", s.engine.gauges("yuhua"))
    assert q.source == "measured" and status["quoted_wait_s"] == round(q.wait_s)
    est = status["est_wait_s"]
    assert status["quoted_wait_s"] > est  # the handle time alone quotes too short


def test_only_owned_halls_and_engine_horizons() -> None:
    owns = HallFilter(halls=frozenset({"gulou"})).owns
    s, d = service(owns=owns)
    events, cut = busy_morning()
    feed(s, events)
    assert [t for t, _, _ in d.tick(cut)] == ["hallkpi/v1/halls/gulou/advice"]
    with pytest.raises(ConfigError):
        LiveDecisions(Engine(horizons_s=(300, 3600)))  # no 15m for the arrivals
    d2 = LiveDecisions(
        Engine(horizons_s=(300, 3600)),
        config={"advice": {"arrivals_horizon": "5m", "target_wait_s": 300}},
    )
    assert d2.advice.target_wait_s == 300


def test_advice_rows_are_stored(store: Store) -> None:
    ensure_schema(store)
    s, d = service()
    events, cut = busy_morning()
    feed(s, events)
    d.record_to(store)
    d.tick(cut)
    d.tick(cut + 60_000)
    d.close()
    assert d.recorder is not None and d.recorder.written == 8  # 2 halls x 2 kinds x 2
    rows = store.rows(
        f"SELECT hall, kind, action, change, open, needed, text, toUnixTimestamp64Milli(ts) "
        f"FROM {store.table('advice')} FINAL ORDER BY hall, kind, ts"
    )
    assert len(rows) == 8
    a = d.last["yuhua"].windows
    assert ("yuhua", "windows", a.action, a.change, a.open, a.needed, a.text, cut + 60_000) in rows
    assert write_advice(store, []) == 0


def test_the_recorder_keeps_rows_while_the_store_is_down(tmp_path: Any) -> None:
    down = Store(f"http://127.0.0.1:{closed_port()}/hallkpi", connect_timeout_s=1)
    rec = AdviceRecorder(down, max_pending=3, period_s=0.05)
    _, d = service()
    events, cut = busy_morning()
    d.engine.push_jsonl(b"".join(json.dumps(e).encode() + b"\n" for e in events))
    d.tick(cut)
    rec.add(list(d.last.values()))
    rec.add(list(d.last.values()))
    rec.close(5)
    assert rec.written == 0 and rec.dropped == 1
