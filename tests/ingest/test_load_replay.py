"""`hallkpi load`, then `hallkpi replay --from-store` equals `hallkpi replay FILE`;
recovery of a restarted service; every event type round trip; de-duplication."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import day
from hallkpi.core import Engine
from hallkpi.core.cli import main
from hallkpi.core.engine import EVENT_STRING_FIELDS
from hallkpi.core.sim.simulate import simulate_lines
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.jsonl import TYPE_FIELDS
from hallkpi.ingest.store.load import Loader, chunk_results
from hallkpi.ingest.store.recovery import read_event_blocks, recover, recovery_start, replay_into
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter

T0 = 1795744800000  # 2026-11-27 10:00 Asia/Shanghai


def url(store: Store) -> str:
    return f"chdb://{store.url.path}?database={store.database}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    # other packages' commands that fail to load say so on stderr; not our business here
    err = "".join(
        line for line in out.err.splitlines(True) if not line.startswith("hallkpi: command ")
    )
    return code, out.out, err


def one_of_each_type() -> list[dict[str, Any]]:
    values: dict[str, Any] = {
        "ticket": "A023",
        "service": "发票代开",
        "channel": "wechat",
        "window": "w07",
        "staff": "s017",
        "score": 4,
        "opinion": "op-1",
        "call": "c-9",
        "queue": "hotline",
        "agent": "a3",
        "hold_s": 12.5,
        "talk_s": 301.25,
        "state": "busy",
    }
    out = []
    for i, etype in enumerate(TYPE_FIELDS):
        e = {"id": f"ev-{i}", "type": etype, "ts": T0 + i * 1000, "hall": "yuhua"}
        e.update({f: values[f] for f in TYPE_FIELDS[etype]})
        e["note"] = {"an": "unknown extra field"}
        out.append(e)
    return out


def test_every_event_type_round_trips(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evs = one_of_each_type()
    path = tmp_path / "all.jsonl"
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in evs) + "\n")
    code, out, err = run(capsys, "load", str(path), "--store", url(store))
    assert code == 0 and f"loaded {len(evs)} events" in out and err == ""
    blocks = list(read_event_blocks(store))
    got = {k: [x for b in blocks for x in b[k].tolist()] for k in blocks[0]}
    assert len(got["id"]) == len(evs)
    for row, e in enumerate(evs):
        for field in EVENT_STRING_FIELDS:
            assert got[field][row].decode() == e.get(field, ""), (e["type"], field)
        assert got["ts"][row] == e["ts"]
        assert got["score"][row] == e.get("score", 0)
        for f in ("hold_s", "talk_s"):
            assert (math.isnan(got[f][row]) and f not in e) or got[f][row] == e[f]
    engine = Engine()
    engine.push_jsonl(path.read_bytes())
    code, out, _ = run(capsys, "replay", "--from-store", url(store), "--json")
    assert json.loads(out) == engine.snapshot()


def snapshot_rows(store: Store) -> list[tuple[Any, ...]]:
    return store.rows(f"SELECT * FROM {store.table('events')} FINAL ORDER BY ingest_seq")


@pytest.mark.parametrize("adversarial", [False, True], ids=["realistic", "adversarial"])
@pytest.mark.parametrize("loads", [1, 2])
def test_replay_from_store_equals_replay_of_the_file(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], adversarial: bool, loads: int
) -> None:
    path = tmp_path / "day.jsonl"
    path.write_bytes(day(adversarial=adversarial))
    first: list[tuple[Any, ...]] = []
    for k in range(loads):
        code, _, _ = run(capsys, "load", str(path), "--store", url(store))
        assert code == 0
        if k == 0:
            first = snapshot_rows(store)
    assert snapshot_rows(store) == first  # loading again changed nothing
    n, distinct = store.rows(f"SELECT count(), uniqExact(id) FROM {store.table('events')} FINAL")[0]
    assert n == distinct == len(first)
    for now in ([], ["--now", str(T0 + 12 * 3600_000)]):
        _, from_file, _ = run(capsys, "replay", str(path), "--json", *now)
        _, from_store, _ = run(capsys, "replay", "--from-store", url(store), "--json", *now)
        assert json.loads(from_store) == json.loads(from_file)
    if adversarial:
        assert json.loads(from_file)["diagnostics"]["rejected_events"] > 0


def test_invalid_lines_are_reported_with_line_numbers_and_reasons(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = one_of_each_type()[:3]
    lines = [
        json.dumps(good[0]),
        "{not json",
        json.dumps({**good[1], "ts": 5.5}),
        "",
        json.dumps([good[2], {"id": "x"}]),
        json.dumps(good[0]),
    ]
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    rejects = tmp_path / "rejects.tsv"
    code, out, err = run(
        capsys, "load", str(path), "--store", url(store), "--rejects", str(rejects)
    )
    assert code == 0
    assert "loaded 2 events" in out and "1 duplicates, 3 rejected" in out
    assert err.splitlines() == [
        "line 2: invalid JSON at byte 1: expected a string key",
        "line 3: field 'ts' must be an integer, not a float",
        "line 5: missing field 'type'",
    ]
    assert rejects.read_text().splitlines()[0] == "2\tinvalid JSON at byte 1: expected a string key"
    kinds = store.rows(
        f"SELECT kind, position, reason FROM {store.table('dead_letters')} FINAL ORDER BY position"
    )
    assert [(k, p >> 16, p & 0xFFFF) for k, p, _ in kinds] == [
        ("rejected", 2, 0),
        ("rejected", 3, 0),
        ("rejected", 5, 1),
        ("duplicate", 6, 0),
    ]


def test_recovery_of_a_restarted_service(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two days; the service restarts at 15:00 on the second: today and the last hour,
    plus the older events still holding state, give the KPIs of the full replay."""
    now = T0 + 5 * 3600_000
    days = simulate_lines(halls=2, date="2026-11-26", days=2, seed=9, tickets_per_hall=300)
    opinion = {
        "id": "old-op",
        "type": "opinion.submitted",
        "ts": T0 - 5 * 86_400_000,
        "hall": "yuhua",
        "opinion": "op-old",
        "channel": "web",
    }
    lines = [json.dumps(opinion).encode() + b"\n"]
    lines += [x for x in days.splitlines(True) if json.loads(x)["ts"] <= now]
    path = tmp_path / "days.jsonl"
    path.write_bytes(b"".join(lines))
    run(capsys, "load", str(path), "--store", url(store))
    full = Engine()
    full.push_jsonl(path.read_bytes())
    full.advance(now)
    restarted = Engine()
    recover(restarted, store, now_ms=now)
    assert recovery_start(now, 3600, "Asia/Shanghai") == T0 - 10 * 3600_000
    a, b = full.snapshot(), restarted.snapshot()
    assert a["halls"].keys() == b["halls"].keys()
    for hall in a["halls"]:
        for horizon in ("now", "5m", "15m", "1h", "today"):
            fa, fb = a["halls"][hall][horizon], b["halls"][hall][horizon]
            diff = {k: (fa[k], fb[k]) for k in fa if k != "alerts_fired" and fa[k] != fb[k]}
            assert diff == {}, (hall, horizon)
    assert b["halls"]["yuhua"]["now"]["opinions_open"] >= 1
    assert b["diagnostics"]["events_applied"] < a["diagnostics"]["events_applied"] / 2
    # The simulator numbers every device's events: nothing was lost, and the restarted
    # engine (a day and a sparse pick of the day before) must not say otherwise.
    assert a["diagnostics"]["upstream_lost_events"] == 0
    assert b["diagnostics"]["upstream_lost_events"] == 0, restarted.producer_gaps()


def test_chunks_parsed_by_worker_processes_give_the_same_store(
    store: Store, tmp_path: Path
) -> None:
    """Seven chunks (ids repeat across them) parsed by two processes, then replayed."""
    data = day(adversarial=True)
    lines = data.splitlines(True)
    k = len(lines) // 7 + 1
    chunks = [b"".join(lines[i : i + k]) for i in range(0, len(lines), k)]
    ensure_schema(store)
    writer = StoreWriter(store, Spool(tmp_path))
    loader = Loader(writer)
    for result in chunk_results(iter(chunks), max_payload_bytes=262144, workers=2):
        loader.add(result)
    report = loader.finish()
    writer.close()
    engine = Engine()
    pushed = engine.push_jsonl(data)
    assert report.rejections == list(pushed.rejections)
    assert (report.events, report.duplicates) == (pushed.applied, pushed.duplicates)
    again = Engine()
    replay_into(again, store)
    assert again.snapshot() == engine.snapshot()


def test_recovery_of_some_halls_when_another_hall_has_longer_strings(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve --halls` recovers only its halls; another hall's longer names and ids in the
    same table must not break the fixed-width columns of the read."""
    short = {"id": "a", "type": "ticket.cancelled", "ts": T0, "hall": "h1", "ticket": "A"}
    long = {**short, "id": "x" * 64, "hall": "a-much-longer-hall-name", "ticket": "T" * 60}
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps(short) + "\n" + json.dumps(long) + "\n")
    run(capsys, "load", str(path), "--store", url(store))
    blocks = list(read_event_blocks(store, halls=["h1"]))
    assert [x.decode() for b in blocks for x in b["hall"].tolist()] == ["h1"]
    engine = Engine()
    recover(engine, store, now_ms=T0 + 1000, halls=["h1"])
    assert engine.halls() == ["h1"]


def test_producer_fields_are_stored_and_replayed(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Events with ``producer``/``seq``/``epoch`` (and some without) are stored with
    them (absent: '' and 0), read back in arrival order, and `replay --from-store`
    still equals `replay FILE`."""
    events = [json.loads(x) for x in day().splitlines()[:400]]
    for k, e in enumerate(events):
        if k % 5:  # every fifth event has no producer fields
            e.update(producer=f"kiosk-{e['hall']}", seq=k, epoch=1 + k % 2)
    path = tmp_path / "seq.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    code, out, _ = run(capsys, "load", str(path), "--store", url(store))
    assert code == 0 and f"loaded {len(events)} events" in out
    sql = f"SELECT id, producer, seq, epoch FROM {store.table('events')} FINAL"
    stored = {i: (p, s, ep) for i, p, s, ep in store.rows(sql)}
    assert stored == {
        e["id"]: (e.get("producer", ""), e.get("seq", 0), e.get("epoch", 0)) for e in events
    }
    blocks = list(read_event_blocks(store, producer=True))
    ids = [x.decode() for b in blocks for x in b["id"].tolist()]
    seqs = [int(x) for b in blocks for x in b["seq"].tolist()]  # -1: absent
    assert ids == [e["id"] for e in events]  # arrival order
    assert seqs == [e.get("seq", -1) for e in events]
    _, from_file, _ = run(capsys, "replay", str(path), "--json")
    _, from_store, _ = run(capsys, "replay", "--from-store", url(store), "--json")
    assert json.loads(from_store) == json.loads(from_file)
    # the replay fed the gap detector too: the fifth events are missing in both
    assert json.loads(from_file)["diagnostics"]["upstream_lost_events"] > 0
