"""The ClickHouse usage schema as DDL generated from settings: one node, or a cluster (replicated, sharded).

Tables (reads and inserts name these; on a cluster they are `Distributed` tables over `<name>_local`):
- `usage_event`: raw events, ReplacingMergeTree ordered by (kind, customer_id, occurred_at, id): a re-post of an id
  carries the same content, hence the same sorting key, so background merges fold any copy a race let in.
- `usage_event_id`: (id, content_hash, customer_id, occurred_at) ordered by id, kept by a materialized view: ingest
  looks up a batch's ids here (the event table is ordered by customer, not id). Partitioned by month as the events
  are, so retention drops a month's ids with its events (`ALTER TABLE … DROP PARTITION`).
- `usage_daily`: the rollup per (customer_id, kind, day): events, Σ/min/max of values, the first instant and the
  latest event as the greatest (occurred_at, id, value) tuple (ties on the instant: highest id), kept by a
  materialized view on every insert (back-dated events land in their own day). Ordered by kind first: every read
  names its kinds.
- `usage_daily_value`: (customer_id, kind, day, property, value) for every top-level property of every event: what
  a `distinct` component counts. Values are compared as PostgreSQL's `->>` renders them (strings unescaped, other
  JSON as its text, JSON null as no value).

- `usage_daily_import`: the daily aggregates of `POST /v1/usage/daily`, one row per (customer_id, kind, day) with its
  distinct values as an array, a ReplacingMergeTree versioned by the write's time: a re-sent day is a new row that
  replaces the old one (reads take the latest version, `FINAL`). Apart from the rollup `usage_daily`, whose rows
  add up (an AggregatingMergeTree cannot replace a day); readers merge the two (a (customer, kind) is in only one).

A component with a `where` filter reads raw events (`usage_event`), grouped by day in the same shape as the rollup:
the rollup has no facets, so any `where` works without a backfill (they are rare and small: survey answers).
"""

from dataclasses import dataclass

from pydantic_settings import BaseSettings, SettingsConfigDict

TABLES = ("usage_event", "usage_event_id", "usage_daily", "usage_daily_value", "usage_daily_import")
DEFAULT_REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"


class ClickHouseSettings(BaseSettings):
    """CSROI_CLICKHOUSE_*: where the schema lives and how a cluster replicates it (README, docs/clickhouse.md)."""

    model_config = SettingsConfigDict(env_prefix="CSROI_CLICKHOUSE_", env_file=".env", extra="ignore")

    # The database, unless the DSN names one (clickhouse://…/db or chdb://PATH?database=db).
    database: str = "csroi"
    # A cluster name from the servers' remote_servers: replicated local tables and Distributed tables ON CLUSTER.
    cluster: str | None = None
    # ReplicatedMergeTree's ZooKeeper/Keeper path and replica name; {shard} and {replica} are the servers' macros,
    # {database} and {table} ClickHouse fills in itself.
    replica_path: str = DEFAULT_REPLICA_PATH
    replica_name: str = "{replica}"


def _identifier(name: str, what: str) -> str:
    if not name or not all(ch.isalnum() or ch == "_" for ch in name) or name[0].isdigit():
        raise ValueError(f"{what} {name!r} must be letters, digits and _ (not starting with a digit)")
    return name


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Schema:
    """Names and DDL of the usage tables in one database, on one node or a cluster."""

    database: str
    cluster: str | None = None
    replica_path: str = DEFAULT_REPLICA_PATH
    replica_name: str = "{replica}"

    def __post_init__(self) -> None:
        _identifier(self.database, "CSROI_CLICKHOUSE_DATABASE")
        if self.cluster is not None:
            _identifier(self.cluster, "CSROI_CLICKHOUSE_CLUSTER")

    @classmethod
    def from_settings(cls, settings: ClickHouseSettings, *, database: str | None = None) -> "Schema":
        return cls(database or settings.database, settings.cluster, settings.replica_path, settings.replica_name)

    def table(self, name: str) -> str:
        """What reads and inserts name: the table on one node, the Distributed table on a cluster."""
        return f"{self.database}.{name}"

    def local(self, name: str) -> str:
        """Where rows are stored (what mutations such as an erasure change)."""
        return f"{self.database}.{name}_local" if self.cluster else f"{self.database}.{name}"

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER {self.cluster}" if self.cluster else ""

    def _engine(self, family: str, *args: str) -> str:
        if not self.cluster:
            return f"{family}MergeTree" + (f"({', '.join(args)})" if args else "")
        return f"Replicated{family}MergeTree({', '.join([quote(self.replica_path), quote(self.replica_name), *args])})"

    def _stored(self, name: str, columns: str, engine: str, tail: str) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.local(name)}{self.on_cluster} (\n{columns}\n) ENGINE = {engine}\n{tail}"
        )

    def ddl(self) -> list[str]:
        """Every statement creating the schema, in order (idempotent: IF NOT EXISTS)."""
        db, on = self.database, self.on_cluster
        event, ids = self.local("usage_event"), self.local("usage_event_id")
        daily, values = self.local("usage_daily"), self.local("usage_daily_value")
        statements = [
            f"CREATE DATABASE IF NOT EXISTS {db}{on}",
            self._stored(
                "usage_event",
                "    id String,\n    customer_id String,\n    kind LowCardinality(String),\n"
                "    occurred_at DateTime64(6, 'UTC'),\n    value Int64,\n    properties String CODEC(ZSTD(1)),\n"
                "    content_hash String,\n    received_at DateTime64(6, 'UTC')",
                self._engine("Replacing"),
                "PARTITION BY toYYYYMM(occurred_at)\nORDER BY (kind, customer_id, occurred_at, id)",
            ),
            self._stored(
                "usage_event_id",
                "    id String,\n    content_hash String,\n    customer_id String,\n"
                "    occurred_at DateTime64(6, 'UTC')",
                self._engine("Replacing"),
                "PARTITION BY toYYYYMM(occurred_at)\nORDER BY id",
            ),
            self._stored(
                "usage_daily",
                "    customer_id String,\n    kind LowCardinality(String),\n    day Date32,\n"
                "    events SimpleAggregateFunction(sum, UInt64),\n"
                "    sum_micros SimpleAggregateFunction(sum, Int128),\n"
                "    min_micros SimpleAggregateFunction(min, Int64),\n"
                "    max_micros SimpleAggregateFunction(max, Int64),\n"
                "    first_at SimpleAggregateFunction(min, DateTime64(6, 'UTC')),\n"
                "    last SimpleAggregateFunction(max, Tuple(DateTime64(6, 'UTC'), String, Int64))",
                self._engine("Aggregating"),
                "PARTITION BY toYear(day)\nORDER BY (kind, customer_id, day)",
            ),
            self._stored(
                "usage_daily_value",
                "    customer_id String,\n    kind LowCardinality(String),\n    day Date32,\n"
                "    property String,\n    value String",
                self._engine("Replacing"),
                "PARTITION BY toYear(day)\nORDER BY (kind, property, customer_id, day, value)",
            ),
            self._stored(
                "usage_daily_import",
                "    customer_id String,\n    kind LowCardinality(String),\n    day Date32,\n    events UInt64,\n"
                "    sum_micros Int128,\n    last_micros Nullable(Int64),\n    distinct_values Array(String),\n"
                "    version UInt64",
                self._engine("Replacing", "version"),
                "ORDER BY (kind, customer_id, day)",
            ),
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {ids}_mv{on} TO {ids} AS\n"
            f"SELECT id, content_hash, customer_id, occurred_at FROM {event}",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {daily}_mv{on} TO {daily} AS\n"
            "SELECT customer_id, kind, toDate32(occurred_at) AS day, count() AS events,\n"
            "    sum(toInt128(value)) AS sum_micros, min(value) AS min_micros, max(value) AS max_micros,\n"
            "    min(occurred_at) AS first_at, max((occurred_at, id, value)) AS last\n"
            f"FROM {event}\nGROUP BY customer_id, kind, day",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {values}_mv{on} TO {values} AS\n"
            "SELECT customer_id, kind, day, property, assumeNotNull(value) AS value FROM (\n"
            "    SELECT customer_id, kind, toDate32(occurred_at) AS day,\n"
            "        arrayJoin(JSONExtractKeys(properties)) AS property,\n"
            f"        {prop_text('properties', 'property')} AS value\n"
            f"    FROM {event}\n) WHERE value IS NOT NULL",
        ]
        if self.cluster:
            for name in TABLES:
                statements.append(
                    f"CREATE TABLE IF NOT EXISTS {self.table(name)}{on} AS {self.local(name)}\n"
                    f"ENGINE = Distributed({self.cluster}, {db}, {name}_local, cityHash64(customer_id))"
                )
        return statements


def prop_text(document: str, key: str) -> str:
    """SQL for a top-level JSON property as PostgreSQL's `->>` gives it: a string unescaped, a number, boolean,
    array or object as its JSON text, NULL for JSON null or a missing key (what `where` and `distinct` compare)."""
    kind = f"JSONType({document}, {key})"
    return (
        f"if({kind} = 'String', JSONExtractString({document}, {key}), "
        f"if({kind} = 'Null', NULL, JSONExtractRaw({document}, {key})))"
    )
