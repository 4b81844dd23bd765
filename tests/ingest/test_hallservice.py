"""The service logic without I/O: decoding, validation, dead letters, statuses, shards."""

from __future__ import annotations

import json

import pytest
from hallkpi.core import Engine
from hallkpi.ingest.service.logic import HallFilter, HallService, shard_of
from hallkpi.ingest.service.topics import Topics

T0 = 1764205200000
TOPIC = "hallkpi/v1/halls/yuhua/events"


def issued(i: int, hall: str = "yuhua", ts: int = T0) -> dict[str, object]:
    return {
        "id": f"{hall}-{i}",
        "type": "ticket.issued",
        "ts": ts + i,
        "hall": hall,
        "ticket": f"A{i}",
        "service": "invoice",
        "channel": "kiosk",
    }


def enc(doc: object) -> bytes:
    return json.dumps(doc).encode()


def reasons(service: HallService, topic: str, payload: bytes) -> list[str]:
    return [json.loads(d)["reason"] for d in service.handle(topic, payload).deadletters]


def test_one_event_and_an_array_are_applied_in_order() -> None:
    s = HallService(Engine())
    assert [e["id"] for e in s.handle(TOPIC, enc(issued(1))).applied] == ["yuhua-1"]
    out = s.handle(TOPIC, enc([issued(2), issued(3), issued(1)]))
    assert [e["id"] for e in out.applied] == ["yuhua-2", "yuhua-3"]
    c = s.counters
    assert (c.messages_received, c.events_applied, c.events_duplicate) == (2, 3, 1)
    assert s.engine.snapshot()["halls"]["yuhua"]["now"]["waiting"] == 3


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        (b"x" * 300_000, "exceeds the limit of 262144 bytes"),
        (enc(issued(1, hall="gulou")), "does not match the topic's hall"),
        (enc({k: v for k, v in issued(1).items() if k != "ticket"}), "missing field 'ticket'"),
        (enc({**issued(1), "ts": "soon"}), "'ts' must be an integer"),
        (enc({**issued(1), "type": "ticket.teleported"}), "unknown type"),
        (enc([7]), "event must be a JSON object"),
        (enc({**issued(1), "hall": 5}), "'hall' must be a string"),
    ],
)
def test_each_kind_of_bad_payload_is_dead_lettered_with_its_reason(
    payload: bytes, reason: str
) -> None:
    s = HallService(Engine())
    out = s.handle(TOPIC, payload)
    assert out.applied == []
    assert len(out.deadletters) == 1
    letter = json.loads(out.deadletters[0])
    assert reason in letter["reason"]
    assert letter["topic"] == TOPIC
    assert len(letter["payload"]) <= 4096
    assert s.counters.events_rejected == 1 and s.counters.deadletters == 1


def test_a_bad_event_does_not_stop_the_rest_of_its_array() -> None:
    s = HallService(Engine())
    out = s.handle(TOPIC, enc([issued(1), {"id": "x"}, issued(2, hall="gulou"), issued(3)]))
    assert [e["id"] for e in out.applied] == ["yuhua-1", "yuhua-3"]
    assert len(out.deadletters) == 2


def test_calls_topic_and_foreign_topics() -> None:
    s = HallService(Engine(), topics=Topics("tax/v1"))
    call = {
        "id": "c1",
        "type": "call.queued",
        "ts": T0,
        "hall": "yuhua",
        "call": "1",
        "queue": "q",
    }
    assert s.handle("tax/v1/calls/yuhua/events", enc(call)).applied
    assert reasons(s, "hallkpi/v1/halls/yuhua/events", enc(issued(1))) == [
        "not an events topic: 'hallkpi/v1/halls/yuhua/events'"
    ]


def test_shards_split_halls_stably_and_completely() -> None:
    halls = [f"hall{i}" for i in range(200)]
    owners = [[h for h in halls if HallFilter(shard=(i, 3)).owns(h)] for i in range(3)]
    assert sorted(h for o in owners for h in o) == sorted(halls)
    assert all(len(o) > 40 for o in owners)
    assert shard_of("yuhua", 7) == shard_of("yuhua", 7)
    s = HallService(Engine(), halls=HallFilter(halls=frozenset({"gulou"})))
    assert s.handle(TOPIC, enc(issued(1))).applied == []
    assert s.counters.events_skipped_shard == 1


def test_status_on_change_at_most_once_per_second() -> None:
    s = HallService(Engine())
    s.handle(TOPIC, enc(issued(1)))
    first = s.tick(T0 + 10).messages
    assert [(t, r) for t, _, r in first] == [("hallkpi/v1/halls/yuhua/status", True)]
    doc = json.loads(first[0][1])
    assert doc["waiting"] == 1 and doc["ts"] == T0 + 10 and "est_wait_s" in doc
    s.handle(TOPIC, enc(issued(2)))
    assert s.tick(T0 + 500).messages == []  # changed, but within the second
    later = s.tick(T0 + 1010).messages
    assert json.loads(later[0][1])["waiting"] == 2
    assert s.tick(T0 + 1010 + 0).messages == []


def test_alert_changes_are_published_and_kpis_are_due_every_interval() -> None:
    s = HallService(Engine(), kpi_interval_s=10)
    window = {
        "id": "w",
        "type": "window.opened",
        "ts": T0,
        "hall": "yuhua",
        "window": "1",
        "staff": "s",
    }
    s.handle(TOPIC, enc([window] + [issued(i) for i in range(8)]))
    t = s.tick(T0 + 1000)
    assert t.write_kpis
    t = s.tick(T0 + 122_000)
    alerts = [json.loads(p) for topic, p, _ in t.messages if topic.endswith("/alerts")]
    assert [(a["alert"], a["state"]) for a in alerts] == [("congestion", "firing")]
    assert t.write_kpis and s.counters.alerts >= 1
    assert not s.tick(T0 + 123_000).write_kpis


def test_waiting_times_alone_refresh_the_status_every_five_seconds() -> None:
    s = HallService(Engine())
    s.handle(TOPIC, enc(issued(1)))
    assert len(s.tick(T0 + 1_000).messages) == 1  # first status
    assert s.tick(T0 + 2_500).messages == []  # only longest_wait_s moved
    refreshed = s.tick(T0 + 6_000).messages
    assert len(refreshed) == 1 and json.loads(refreshed[0][1])["longest_wait_s"] == 5.999
    s.handle(TOPIC, enc(issued(2)))  # a real change: due after one second
    assert s.due_statuses(T0 + 6_500, ["yuhua"]) == []
    assert len(s.due_statuses(T0 + 7_000, ["yuhua"])) == 1
