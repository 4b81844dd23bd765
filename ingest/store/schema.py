"""The store's tables and their versioned, idempotent migrations.

Tables (names and columns are the public contract; KPI columns are named exactly as
the engine's ``snapshot_columns()``/``staff_columns()``):

* ``events``: the raw log, every EVENTS.md field; ``ingest_seq`` is the arrival order
  (nanoseconds since the epoch at arrival, strictly increasing per writer). A
  ReplacingMergeTree on ``(hall, ts, id)`` whose version is ``bitNot(ingest_seq)``, so
  a row written twice collapses to its first arrival. ``producer``, ``seq``, ``epoch``
  (migration 4) are the optional loss-detection fields ('' and 0 when absent).
* ``dead_letters``: rejected and duplicate arrivals (with reason), keyed by
  ``(source, position)``; recovery restores the engine's counters from it.
* ``hall_kpis``: one row per ``(ts, hall, horizon)``: every gauge and windowed KPI.
* ``staff_kpis``: one row per ``(ts, hall, staff, horizon)``.
* ``alerts``: alert state changes.
* ``advice``: live staffing advice per hall and kind, once a minute (migration 3).
* ``upstream_gaps``: the engine's gap changes (``drain_gap_changes()``; migration 4).
* ``extension_events``: events of the extension families (contract v1.2: appointments,
  remote tickets, quotes and the families other rooms add): the common fields and the
  type's own fields as one JSON object string (migration 5). Collapses like ``events``.
* ``credit_taxpayers``, ``credit_facts``, ``credit_results``: taxpayer credit (migration 7,
  docs/CREDIT.md).
* ``schema_migrations``: the versions applied.

With ``cluster`` every statement is ``ON CLUSTER``, each table is a Replicated* table
``<name>_local`` behind a Distributed table ``<name>`` sharded by hall.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from hallkpi.core.engine import (
    EVENT_STRING_FIELDS,
    GAUGE_KPIS,
    INTEGER_KPIS,
    STAFF_KPIS,
    WINDOWED_KPIS,
)
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.sql import check_ident, ident

TS = "DateTime64(3, 'UTC')"
LC = "LowCardinality(String)"
NUM = "Nullable(Float64)"

EVENT_STRINGS: tuple[str, ...] = EVENT_STRING_FIELDS
"""The string fields of EVENTS.md (empty string = absent)."""
_EVENT_LOW_CARD = {
    "type",
    "hall",
    "service",
    "channel",
    "window",
    "staff",
    "queue",
    "agent",
    "state",
}


@dataclass(frozen=True)
class Table:
    """One table: columns ``(name, type)``, its sorting key, version column, partition
    and TTL column, and the Distributed sharding key in cluster mode."""

    name: str
    columns: tuple[tuple[str, str], ...]
    order_by: tuple[str, ...]
    version: str | None = None
    materialized: tuple[tuple[str, str, str], ...] = ()
    partition_by: str | None = "toYYYYMM(ts)"
    ttl_column: str | None = "ts"
    shard_key: str = "cityHash64(hall)"
    insert_types: Mapping[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


def _kpi_type(name: str) -> str:
    return "UInt32" if name in INTEGER_KPIS else NUM


PRODUCER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("producer", LC),
    ("seq", "UInt64"),
    ("epoch", "UInt64"),
)
"""The optional loss-detection fields of an event (migration 4, after ``ingest_seq``)."""

EVENTS = Table(
    "events",
    (
        *((n, LC if n in _EVENT_LOW_CARD else "String") for n in EVENT_STRINGS[:3]),
        ("ts", TS),
        *((n, LC if n in _EVENT_LOW_CARD else "String") for n in EVENT_STRINGS[3:]),
        ("score", "UInt8"),
        ("hold_s", NUM),
        ("talk_s", NUM),
        ("ingest_seq", "UInt64"),
        *PRODUCER_COLUMNS,
    ),
    order_by=("hall", "ts", "id"),
    version="arrival_rank",
    materialized=(("arrival_rank", "UInt64", "bitNot(ingest_seq)"),),
)
DEAD_LETTERS = Table(
    "dead_letters",
    (
        ("source", LC),
        ("position", "UInt64"),
        ("ingest_seq", "UInt64"),
        ("ts", TS),
        ("kind", LC),
        ("hall", LC),
        ("id", "String"),
        ("reason", "String"),
        ("payload", "String"),
    ),
    order_by=("source", "position"),
    version="arrival_rank",
    materialized=(("arrival_rank", "UInt64", "bitNot(ingest_seq)"),),
    shard_key="cityHash64(source)",
)
HALL_KPIS = Table(
    "hall_kpis",
    (
        ("ts", TS),
        ("hall", LC),
        ("horizon", LC),
        *((k, _kpi_type(k)) for k in (*GAUGE_KPIS, *WINDOWED_KPIS)),
    ),
    order_by=("hall", "horizon", "ts"),
)
STAFF_KPIS_TABLE = Table(
    "staff_kpis",
    (
        ("ts", TS),
        ("hall", LC),
        ("staff", LC),
        ("horizon", LC),
        *((k, _kpi_type(k)) for k in STAFF_KPIS),
    ),
    order_by=("hall", "staff", "horizon", "ts"),
)
ALERTS = Table(
    "alerts",
    (
        ("ts", TS),
        ("hall", LC),
        ("alert", LC),
        ("state", LC),
        ("value", NUM),
        ("threshold", "Float64"),
    ),
    order_by=("hall", "alert", "ts", "state"),
)
ADVICE = Table(
    "advice",
    (
        ("ts", TS),
        ("hall", LC),
        ("kind", LC),
        ("action", LC),
        ("change", "Int32"),
        ("open", "UInt32"),
        ("needed", "UInt32"),
        ("waiting", "UInt32"),
        ("arrivals_per_h", "Float64"),
        ("handle_s", "Float64"),
        ("service_level_now", NUM),
        ("service_level_advised", NUM),
        ("target_wait_s", "Float64"),
        ("target_level", "Float64"),
        ("text", "String"),
    ),
    order_by=("hall", "kind", "ts"),
)
UPSTREAM_GAPS = Table(
    "upstream_gaps",
    (
        ("ts", TS),  # when the engine saw the gap (its clock)
        ("hall", LC),
        ("producer", LC),
        ("epoch", "UInt64"),
        ("first_seq", "UInt64"),
        ("last_seq", "UInt64"),
        ("missing", "UInt64"),
        ("state", LC),  # missing | filled
    ),
    # A change written twice (a re-sent block) collapses; each change of a range stays.
    order_by=("hall", "producer", "epoch", "first_seq", "last_seq", "state", "ts"),
)
EXTENSION_EVENTS = Table(
    "extension_events",
    (
        ("hall", LC),
        ("ts", TS),
        ("id", "String"),
        ("type", LC),
        ("fields", "String"),  # the type's own fields, a JSON object (sorted keys)
        ("ingest_seq", "UInt64"),
    ),
    order_by=("hall", "ts", "id"),
    version="arrival_rank",
    materialized=(("arrival_rank", "UInt64", "bitNot(ingest_seq)"),),
)
# Taxpayer credit (migration 7; hallkpi.ingest.credit, docs/CREDIT.md): profiles and
# facts as imported (a record re-imported replaces the earlier copy), results per
# evaluation (year, taxpayer, as_of; a re-evaluation replaces the earlier result).
CREDIT_TAXPAYERS = Table(
    "credit_taxpayers",
    (
        ("taxpayer", "String"),
        ("name", "String"),
        ("legal_rep", "String"),
        ("county", LC),
        ("industry", LC),
        ("established", "Nullable(Date)"),
        ("no_income_years", "Array(UInt16)"),
        ("nonrecurring_missing_years", "Array(UInt16)"),
        ("ingest_seq", "UInt64"),
    ),
    order_by=("taxpayer",),
    version="ingest_seq",
    partition_by=None,
    ttl_column=None,
    shard_key="cityHash64(taxpayer)",
)
CREDIT_FACTS = Table(
    "credit_facts",
    (
        ("taxpayer", "String"),
        ("code", LC),
        ("date", "Date"),
        ("record", "String"),
        ("amount", "Float64"),
        ("refers_to", "String"),
        ("detail", "String"),  # JSON object: main_facts, legal_basis, penalty (optional)
        ("source", "String"),
        ("ingest_seq", "UInt64"),
    ),
    order_by=("taxpayer", "record"),
    version="ingest_seq",
    partition_by="toYear(date)",
    ttl_column=None,
    shard_key="cityHash64(taxpayer)",
)
CREDIT_RESULTS = Table(
    "credit_results",
    (
        ("year", "UInt16"),
        ("taxpayer", "String"),
        ("as_of", "Date"),
        ("provisional", "UInt8"),
        ("county", LC),
        ("industry", LC),
        ("start", "Float64"),
        ("score", "Float64"),
        ("grade", LC),
        ("reason", "String"),
        ("deductions", "String"),  # JSON list: code, record, date, points, restored, ...
        ("direct_d", "Array(String)"),
        ("lifted", "Array(String)"),
        ("catalogue", "String"),  # versions of the catalogues used, JSON
        ("evaluated_seq", "UInt64"),
    ),
    order_by=("year", "taxpayer", "as_of"),
    version="evaluated_seq",
    partition_by="year",
    ttl_column=None,
    shard_key="cityHash64(taxpayer)",
)
MIGRATIONS_TABLE = Table(
    "schema_migrations",
    (("version", "UInt32"), ("name", "String"), ("applied_at", TS)),
    order_by=("version",),
    partition_by=None,
    ttl_column=None,
    shard_key="version",
)
TABLES: dict[str, Table] = {
    t.name: t for t in (EVENTS, DEAD_LETTERS, HALL_KPIS, STAFF_KPIS_TABLE, ALERTS, UPSTREAM_GAPS)
}
"""The data tables by name (what the writer may insert into)."""
TABLES["extension_events"] = EXTENSION_EVENTS  # migration 5
TTL_TABLES = tuple(TABLES)


@dataclass(frozen=True)
class Statement:
    """One SQL statement and its bound parameters."""

    sql: str
    parameters: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Layout:
    """Where and how the tables are created: database, optional cluster, TTLs in days
    per table (absent or 0 = keep forever)."""

    database: str
    cluster: str | None = None
    ttl_days: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_ident(self.database, "database")
        if self.cluster is not None:
            check_ident(self.cluster, "cluster")
        for table, days in self.ttl_days.items():
            if table not in TABLES:
                raise StoreConfigError(f"TTL for unknown table {table!r} (known: {TTL_TABLES})")
            if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 100_000:
                raise StoreConfigError(f"TTL of {table} must be a whole number of days >= 0")

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER {ident(self.cluster)}" if self.cluster else ""

    def local_name(self, table: Table) -> str:
        return f"{table.name}_local" if self.cluster else table.name


def create_table(layout: Layout, table: Table) -> list[Statement]:
    """CREATE TABLE IF NOT EXISTS statements of ``table`` (two in cluster mode)."""
    db = ident(layout.database)
    local = layout.local_name(table)
    cols = [f"{ident(n)} {t}" for n, t in table.columns]
    cols += [f"{ident(n)} {t} MATERIALIZED {expr}" for n, t, expr in table.materialized]
    version = ident(table.version) if table.version else ""
    if layout.cluster:
        path = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
        engine = f"ReplicatedReplacingMergeTree({path}{', ' + version if version else ''})"
    else:
        engine = f"ReplacingMergeTree({version})"
    sql = (
        f"CREATE TABLE IF NOT EXISTS {db}.{ident(local)}{layout.on_cluster}\n(\n    "
        + ",\n    ".join(cols)
        + f"\n)\nENGINE = {engine}\n"
    )
    if table.partition_by:
        sql += f"PARTITION BY {table.partition_by}\n"
    sql += f"ORDER BY ({', '.join(ident(c) for c in table.order_by)})"
    params: dict[str, object] = {}
    days = layout.ttl_days.get(table.name, 0)
    if table.ttl_column and days:
        sql += f"\nTTL {ident(table.ttl_column)} + toIntervalDay({{ttl_days:UInt32}})"
        params["ttl_days"] = days
    out = [Statement(sql, params)]
    if layout.cluster:
        out.append(
            Statement(
                f"CREATE TABLE IF NOT EXISTS {db}.{ident(table.name)}{layout.on_cluster}\n"
                f"AS {db}.{ident(local)}\n"
                f"ENGINE = Distributed({ident(layout.cluster)}, {db}, {ident(local)}, "
                f"{table.shard_key})"
            )
        )
    return out


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[Layout], list[Statement]]


def _tables(*tables: Table) -> Callable[[Layout], list[Statement]]:
    return lambda layout: [s for t in tables for s in create_table(layout, t)]


def add_columns(
    layout: Layout, table: Table, columns: Sequence[tuple[str, str]]
) -> list[Statement]:
    """``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` of ``columns`` (each with its type's
    default), on the local and the Distributed table in cluster mode. Idempotent: a
    store created after ``table`` gained the columns already has them."""
    db = ident(layout.database)
    targets = [layout.local_name(table), table.name] if layout.cluster else [table.name]
    adds = ", ".join(f"ADD COLUMN IF NOT EXISTS {ident(n)} {t}" for n, t in columns)
    return [Statement(f"ALTER TABLE {db}.{ident(t)}{layout.on_cluster} {adds}") for t in targets]


def _producer_fields(layout: Layout) -> list[Statement]:
    return add_columns(layout, EVENTS, PRODUCER_COLUMNS) + create_table(layout, UPSTREAM_GAPS)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events and dead letters", _tables(EVENTS, DEAD_LETTERS)),
    Migration(2, "hall, staff and alert history", _tables(HALL_KPIS, STAFF_KPIS_TABLE, ALERTS)),
    Migration(3, "live staffing advice", _tables(ADVICE)),
    Migration(4, "event producer, sequence and epoch; upstream gaps", _producer_fields),
    Migration(5, "extension events (contract v1.2)", _tables(EXTENSION_EVENTS)),
    Migration(7, "taxpayer credit", _tables(CREDIT_TAXPAYERS, CREDIT_FACTS, CREDIT_RESULTS)),
)
"""Applied in order, each once; a new one only ever appends to this tuple."""


def bootstrap(layout: Layout) -> list[Statement]:
    """The database and the migrations table (run before any migration)."""
    db = ident(layout.database)
    return [
        Statement(f"CREATE DATABASE IF NOT EXISTS {db}{layout.on_cluster}"),
        *create_table(layout, MIGRATIONS_TABLE),
    ]


def all_statements(layout: Layout) -> list[Statement]:
    """Every statement of a fresh schema, in order (for review and tests)."""
    return bootstrap(layout) + [s for m in MIGRATIONS for s in m.statements(layout)]


def layout_options(doc: Mapping[str, object]) -> tuple[str | None, dict[str, int]]:
    """``(cluster, ttl_days)`` from the ``[store]`` section of a configuration:
    ``cluster = "halls"`` (ON CLUSTER DDL, Replicated + Distributed tables) and
    ``[store.ttl_days]`` days per table (absent or 0 = keep forever)."""
    section = doc.get("store", {})
    if not isinstance(section, Mapping):
        raise StoreConfigError("[store] must be a table")
    unknown = set(section) - {"cluster", "ttl_days"}
    if unknown:
        raise StoreConfigError(f"unknown [store] keys {sorted(unknown)} (known: cluster, ttl_days)")
    cluster = section.get("cluster")
    if cluster is not None and not isinstance(cluster, str):
        raise StoreConfigError("store.cluster must be a cluster name")
    ttl = section.get("ttl_days", {})
    if not isinstance(ttl, Mapping):
        raise StoreConfigError("[store.ttl_days] must be a table of days per table")
    days = dict(ttl)
    Layout("x", cluster, days)  # checks names and values
    return cluster, days


def applied_versions(store: Store) -> set[int]:
    rows = store.rows(f"SELECT DISTINCT version FROM {store.table(MIGRATIONS_TABLE.name)}")
    return {int(r[0]) for r in rows}


def ensure_schema(
    store: Store,
    *,
    cluster: str | None = None,
    ttl_days: Mapping[str, int] | None = None,
) -> list[int]:
    """Creates the database and tables, applying each pending migration once; then adds
    any KPI column the engine has and ``hall_kpis``/``staff_kpis`` lack. Safe to run
    any number of times, concurrently too. Returns the versions applied now."""
    layout = Layout(store.database, cluster, dict(ttl_days or {}))
    for st in bootstrap(layout):
        store.command(st.sql, st.parameters)
    done = applied_versions(store)
    applied = []
    for m in MIGRATIONS:
        if m.version in done:
            continue
        for st in m.statements(layout):
            store.command(st.sql, st.parameters)
        store.command(
            f"INSERT INTO {store.table(MIGRATIONS_TABLE.name)} (version, name, applied_at) "
            "SELECT {version:UInt32}, {name:String}, now64(3)",
            {"version": m.version, "name": m.name},
        )
        applied.append(m.version)
    _sync_kpi_columns(store, layout)
    return applied


def _sync_kpi_columns(store: Store, layout: Layout) -> None:
    """KPI columns follow the engine: a KPI added to the engine gets its column."""
    for table in (HALL_KPIS, STAFF_KPIS_TABLE):
        have = {
            r[0]
            for r in store.rows(
                "SELECT name FROM system.columns WHERE database = {db:String} "
                "AND table = {table:String}",
                {"db": layout.database, "table": table.name},
            )
        }
        missing = [(n, t) for n, t in table.columns if n not in have]
        if missing:
            for st in add_columns(layout, table, missing):
                store.command(st.sql, st.parameters)
