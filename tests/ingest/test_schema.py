"""Schema creation and migrations, against chDB; cluster DDL on its text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hallkpi.core import Engine
from hallkpi.core.cli import main
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import (
    ALERTS,
    EVENTS,
    HALL_KPIS,
    MIGRATIONS,
    PRODUCER_COLUMNS,
    STAFF_KPIS_TABLE,
    TABLES,
    UPSTREAM_GAPS,
    Layout,
    all_statements,
    bootstrap,
    create_table,
    ensure_schema,
    layout_options,
)
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter


def columns(store: Store, table: str) -> dict[str, str]:
    rows = store.rows(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        {"db": store.database, "t": table},
    )
    return dict(rows)


def test_schema_created_twice_applies_each_migration_once(store: Store) -> None:
    assert ensure_schema(store) == [m.version for m in MIGRATIONS]
    assert ensure_schema(store) == []
    rows = store.rows(
        f"SELECT version, count() FROM {store.table('schema_migrations')} "
        "GROUP BY version ORDER BY version"
    )
    assert rows == [(m.version, 1) for m in MIGRATIONS]
    for table in TABLES:
        assert columns(store, table), table


def test_event_columns_and_types(store: Store) -> None:
    ensure_schema(store)
    cols = columns(store, "events")
    fields = {
        "id",
        "type",
        "ts",
        "hall",
        "ticket",
        "service",
        "channel",
        "window",
        "staff",
        "opinion",
        "call",
        "queue",
        "agent",
        "state",
        "score",
        "hold_s",
        "talk_s",
    }
    assert fields <= set(cols)
    assert cols["ts"] == "DateTime64(3, 'UTC')"
    assert cols["hall"] == cols["type"] == "LowCardinality(String)"
    assert cols["id"] == "String" and cols["hold_s"] == "Nullable(Float64)"
    engine = store.rows(
        "SELECT engine, sorting_key FROM system.tables WHERE database = {db:String} "
        "AND name = 'events'",
        {"db": store.database},
    )
    assert engine == [("ReplacingMergeTree", "hall, ts, id")]


def test_kpi_columns_are_the_engines_names(store: Store) -> None:
    ensure_schema(store)
    e = Engine()
    e.push({"id": "1", "type": "window.opened", "ts": 1, "hall": "h", "window": "w", "staff": "s"})
    snap = set(e.snapshot_columns())
    staff = set(e.staff_columns())
    assert set(columns(store, "hall_kpis")) == snap
    assert set(columns(store, "staff_kpis")) == staff
    assert set(HALL_KPIS.column_names) == snap and set(STAFF_KPIS_TABLE.column_names) == staff


def test_a_kpi_column_the_table_lacks_is_added(store: Store) -> None:
    ensure_schema(store)
    store.command(f"ALTER TABLE {store.table('hall_kpis')} DROP COLUMN wait_p90_s")
    assert "wait_p90_s" not in columns(store, "hall_kpis")
    ensure_schema(store)
    assert columns(store, "hall_kpis")["wait_p90_s"] == "Nullable(Float64)"


def test_ttl_is_a_bound_parameter(store: Store) -> None:
    ensure_schema(store, ttl_days={"events": 400, "hall_kpis": 90})
    ddl = dict(
        store.rows(
            "SELECT name, create_table_query FROM system.tables WHERE database = {db:String}",
            {"db": store.database},
        )
    )
    assert "TTL" in ddl["events"] and "400" in ddl["events"]
    assert "90" in ddl["hall_kpis"] and "TTL" not in ddl["alerts"]
    statements = all_statements(Layout("db", ttl_days={"events": 400}))
    ttl = [s for s in statements if "TTL" in s.sql]
    assert len(ttl) == 1 and "400" not in ttl[0].sql and ttl[0].parameters == {"ttl_days": 400}


def test_cluster_ddl() -> None:
    statements = all_statements(Layout("tax", cluster="halls"))
    text = "\n".join(s.sql for s in statements)
    creates = [s.sql for s in statements if s.sql.startswith("CREATE")]
    assert all("ON CLUSTER `halls`" in sql for sql in creates)
    assert creates[0] == "CREATE DATABASE IF NOT EXISTS `tax` ON CLUSTER `halls`"
    for table in (EVENTS, HALL_KPIS, STAFF_KPIS_TABLE, ALERTS):
        local = f"`tax`.`{table.name}_local` ON CLUSTER `halls`"
        assert f"CREATE TABLE IF NOT EXISTS {local}" in text
        assert (
            f"CREATE TABLE IF NOT EXISTS `tax`.`{table.name}` ON CLUSTER `halls`\n"
            f"AS `tax`.`{table.name}_local`\n"
            f"ENGINE = Distributed(`halls`, `tax`, `{table.name}_local`, cityHash64(hall))"
        ) in text
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', "
        "'{replica}', `arrival_rank`)"
    ) in text
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"
        in text
    )
    assert "ENGINE = ReplacingMergeTree" not in text


def test_layout_refuses_bad_names_and_ttls() -> None:
    with pytest.raises(StoreConfigError):
        Layout("tax", cluster="a b")
    with pytest.raises(StoreConfigError):
        Layout("tax;drop")
    with pytest.raises(StoreConfigError):
        Layout("tax", ttl_days={"nope": 3})
    with pytest.raises(StoreConfigError):
        Layout("tax", ttl_days={"events": -1})


def test_store_section_of_the_configuration(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert layout_options({}) == (None, {})
    doc = {"store": {"cluster": "halls", "ttl_days": {"events": 400}}}
    assert layout_options(doc) == ("halls", {"events": 400})
    for bad in ({"store": {"clusters": "x"}}, {"store": {"ttl_days": {"events": "1y"}}}):
        with pytest.raises(StoreConfigError):
            layout_options(bad)
    cfg = tmp_path / "hallkpi.toml"
    cfg.write_text("[store.ttl_days]\nevents = 30\n")
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"id":"a","type":"window.closed","ts":1764205200000,"hall":"h","window":"w"}\n'
    )
    url = f"chdb://{store.url.path}?database={store.database}"
    assert main(["load", str(events), "--store", url, "--config", str(cfg)]) == 0
    ddl = store.rows(
        "SELECT create_table_query FROM system.tables WHERE database = {db:String} "
        "AND name = 'events'",
        {"db": store.database},
    )[0][0]
    assert "TTL ts + toIntervalDay(_CAST(30, 'UInt32'))" in ddl


def test_a_version_3_store_gains_the_producer_fields_in_place(store: Store) -> None:
    """A store made before migration 4 (events without producer/seq/epoch, no
    upstream_gaps) migrates in place: its rows keep their values, the new columns read
    as their defaults, and new rows carry them."""
    layout = Layout(store.database)
    old_events = dataclasses.replace(
        EVENTS, columns=tuple(c for c in EVENTS.columns if c not in PRODUCER_COLUMNS)
    )
    old = [*bootstrap(layout), *create_table(layout, old_events)]
    old += [s for m in MIGRATIONS[:3] for s in m.statements(layout) if "`events`" not in s.sql]
    for st in old:
        store.command(st.sql, st.parameters)
    for m in MIGRATIONS[:3]:
        store.command(
            f"INSERT INTO {store.table('schema_migrations')} (version, name, applied_at) "
            "SELECT {v:UInt32}, {n:String}, now64(3)",
            {"v": m.version, "n": m.name},
        )
    store.command(
        f"INSERT INTO {store.table('events')} (id, type, ts, hall, ticket, ingest_seq) "
        "SELECT 'old-1', 'ticket.cancelled', fromUnixTimestamp64Milli(1764205200000), 'h', "
        "'A1', 1"
    )
    assert "producer" not in columns(store, "events")
    assert ensure_schema(store)[0] == 4  # and the later migrations
    cols = columns(store, "events")
    assert (cols["producer"], cols["seq"], cols["epoch"]) == (
        "LowCardinality(String)",
        "UInt64",
        "UInt64",
    )
    assert set(columns(store, "upstream_gaps")) == set(UPSTREAM_GAPS.column_names)
    rows = store.rows(f"SELECT id, ticket, producer, seq, epoch FROM {store.table('events')}")
    assert rows == [("old-1", "A1", "", 0, 0)]
    fresh = Store(f"chdb://{store.url.path}?database={store.database}_fresh")
    try:
        ensure_schema(fresh)  # a new store has the same columns, in the same order
        visible = [c for c in cols if c != "arrival_rank"]  # (not in SELECT *)
        assert [c for c in columns(fresh, "events") if c != "arrival_rank"] == visible
    finally:
        fresh.command(f"DROP DATABASE IF EXISTS `{store.database}_fresh`")


def test_cluster_ddl_of_migration_4() -> None:
    statements = MIGRATIONS[3].statements(Layout("tax", cluster="halls"))
    alters = [s.sql for s in statements if s.sql.startswith("ALTER")]
    assert alters == [
        f"ALTER TABLE `tax`.`{t}` ON CLUSTER `halls` ADD COLUMN IF NOT EXISTS `producer` "
        "LowCardinality(String), ADD COLUMN IF NOT EXISTS `seq` UInt64, "
        "ADD COLUMN IF NOT EXISTS `epoch` UInt64"
        for t in ("events_local", "events")
    ]
    text = "\n".join(s.sql for s in statements)
    assert "CREATE TABLE IF NOT EXISTS `tax`.`upstream_gaps_local` ON CLUSTER `halls`" in text
    assert "Distributed(`halls`, `tax`, `upstream_gaps_local`, cityHash64(hall))" in text


def test_upstream_gaps_take_the_engines_gap_changes(store: Store, tmp_path: Path) -> None:
    """Rows shaped as ``engine.drain_gap_changes()`` (plus the detection time) go through
    the writer; one written twice (a re-sent block) is stored once."""
    ensure_schema(store)
    changes = [
        {"producer": "kiosk-3", "epoch": 2, "hall": "h", "first_seq": 11, "last_seq": 19,
         "missing": 9, "since_ts": 1764205200000, "state": "missing"},
        {"producer": "kiosk-3", "epoch": 2, "hall": "h", "first_seq": 11, "last_seq": 19,
         "missing": 0, "since_ts": 1764205200000, "state": "filled"},
    ]  # fmt: skip
    cols = {
        "ts": np.array([c["since_ts"] for c in changes], np.int64),
        **{k: [c[k] for c in changes] for k in ("hall", "producer", "state")},
        **{
            k: np.array([c[k] for c in changes], np.uint64)
            for k in ("epoch", "first_seq", "last_seq", "missing")
        },
    }
    writer = StoreWriter(store, Spool(tmp_path / "spool"))
    writer.add("upstream_gaps", cols)
    writer.add("upstream_gaps", cols)
    writer.close()
    rows = store.rows(
        f"SELECT producer, epoch, first_seq, last_seq, missing, state "
        f"FROM {store.table('upstream_gaps')} FINAL ORDER BY state"
    )
    assert rows == [("kiosk-3", 2, 11, 19, 0, "filled"), ("kiosk-3", 2, 11, 19, 9, "missing")]
