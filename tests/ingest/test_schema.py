"""Schema creation and migrations, against chDB; cluster DDL on its text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hallkpi.core import Engine
from hallkpi.core.cli import main
from hallkpi.ingest.connection import Store
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.schema import (
    ALERTS,
    EVENTS,
    HALL_KPIS,
    MIGRATIONS,
    STAFF_KPIS_TABLE,
    TABLES,
    Layout,
    all_statements,
    ensure_schema,
    layout_options,
)


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
