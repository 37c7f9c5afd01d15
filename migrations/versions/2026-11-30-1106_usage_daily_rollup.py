"""usage_daily: the daily usage rollup health reads (SPEC §14), its distinct values, facets and feeds

The upgrade fills the rollup from the stored usage_event rows for facet '' of every kind, the facets and distinct
properties of the default health model and of every stored version, so a database that already holds events scores
the same health before and after; every (customer, kind) with events is recorded as fed by raw events. The SQL is
frozen here as this revision wrote it (a migration never imports code later revisions may change). The downgrade
drops only derived rows.

Revision ID: 21bf39b8d23f
Revises: 447e66067005
Create Date: 2026-11-30 11:06:50.306925
"""

# ruff: noqa: S608 - identifiers and fixed fragments only; every value is a bound parameter
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from app.migrate import refuse_data_loss

revision: str = "21bf39b8d23f"
down_revision: str | None = "447e66067005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("facet", sa.String(length=2000), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column(
            "sum_micros", sa.BigInteger().with_variant(sa.Numeric(precision=38, scale=0), "postgresql"), nullable=False
        ),
        sa.Column("min_micros", sa.BigInteger(), nullable=True),
        sa.Column("max_micros", sa.BigInteger(), nullable=True),
        sa.Column("first_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_id", sa.String(length=255), nullable=True),
        sa.Column("last_micros", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=5), nullable=False),
        sa.CheckConstraint("source IN ('raw', 'daily')", name=op.f("usage_daily_source_check")),
        sa.PrimaryKeyConstraint("customer_id", "kind", "facet", "day", name=op.f("usage_daily_pkey")),
    )
    op.create_table(
        "usage_daily_value",
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("facet", sa.String(length=2000), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("property", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "customer_id", "kind", "facet", "day", "property", "value", name=op.f("usage_daily_value_pkey")
        ),
    )
    op.create_table(
        "usage_feed",
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=5), nullable=False),
        sa.CheckConstraint("source IN ('raw', 'daily')", name=op.f("usage_feed_source_check")),
        sa.PrimaryKeyConstraint("customer_id", "kind", name=op.f("usage_feed_pkey")),
    )
    op.create_table(
        "usage_rollup_facet",
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("facet", sa.String(length=2000), nullable=False),
        sa.Column("property", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("kind", "facet", "property", name=op.f("usage_rollup_facet_pkey")),
    )
    backfill()


def downgrade() -> None:
    # Raw-fed rows are derived (the upgrade rebuilds them); daily aggregates were sent by a warehouse: data.
    refuse_data_loss(
        "21bf39b8d23f",
        {"usage_daily (daily aggregates)": "SELECT count(*) FROM usage_daily WHERE source = 'daily'"},
    )
    op.drop_table("usage_rollup_facet")
    op.drop_table("usage_feed")
    op.drop_table("usage_daily_value")
    op.drop_table("usage_daily")


# What the built-in default model (version 1) reads beyond facet '': (kind, facet, property).
DEFAULT_SPECS = [
    ("feature_used", "", "feature"),
    ("survey_response", '{"survey":"csat"}', ""),
    ("survey_response", '{"survey":"nps"}', ""),
]


def _specs(components: list[dict]) -> set[tuple[str, str, str]]:
    specs = set()
    for c in components:
        where = c.get("where") or {}
        facet = json.dumps(where, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if where else ""
        if facet:
            specs.add((c["kind"], facet, ""))
        if c.get("aggregate") == "distinct":
            specs.add((c["kind"], facet, c["property"]))
    return specs


def backfill() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    specs = set(DEFAULT_SPECS)
    for (components,) in bind.execute(sa.text("SELECT components FROM health_model")):
        specs |= _specs(components if isinstance(components, list) else json.loads(components))
    ordered = sorted(specs)
    for kind, facet, prop in ordered:
        bind.execute(
            sa.text("INSERT INTO usage_rollup_facet (kind, facet, property) VALUES (:k, :f, :p)"),
            {"k": kind, "f": facet, "p": prop},
        )
    params: dict = {}

    def bind_value(value: object) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f":{name}"

    def prop(key: str) -> str:
        if pg:
            return f"CAST((properties ->> {bind_value(key)}) AS VARCHAR)"
        return f"CAST(json_extract(properties, {bind_value(chr(36) + '.' + chr(34) + key + chr(34))}) AS VARCHAR)"

    columns = "id, customer_id, kind, occurred_at, value, properties"
    day = "CAST((occurred_at AT TIME ZONE 'UTC') AS DATE)" if pg else "date(occurred_at)"
    parts = [f"SELECT CAST('' AS VARCHAR) AS facet, {columns} FROM usage_event"]
    for kind, facet in sorted({(k, f) for k, f, _ in ordered if f}):
        where = [f"kind = {bind_value(kind)}"] + [
            f"{prop(key)} = {bind_value(value)}" for key, value in json.loads(facet).items()
        ]
        parts.append(
            f"SELECT CAST({bind_value(facet)} AS VARCHAR) AS facet, {columns} FROM usage_event"
            f" WHERE {' AND '.join(where)}"
        )
    matched = " UNION ALL ".join(parts)
    bind.execute(
        sa.text(
            f"WITH matched AS ({matched}) INSERT INTO usage_daily (customer_id, kind, facet, day, events, sum_micros,"
            " min_micros, max_micros, first_at, last_at, last_id, last_micros, source)"
            " SELECT customer_id, kind, facet, day, count(*), sum(value), min(value), max(value), min(occurred_at),"
            " max(CASE WHEN rn = 1 THEN occurred_at END), max(CASE WHEN rn = 1 THEN id END),"
            " max(CASE WHEN rn = 1 THEN value END), 'raw'"
            f" FROM (SELECT m.*, {day} AS day, row_number() OVER (PARTITION BY customer_id, kind, facet, {day}"
            " ORDER BY occurred_at DESC, id DESC) AS rn FROM matched m) t GROUP BY customer_id, kind, facet, day"
        ),
        params,
    )
    values = []
    for kind, facet, name in (s for s in ordered if s[2]):
        value = prop(name)
        kept = f"CASE WHEN length({value}) > 256 THEN 'md5:' || md5({value}) ELSE {value} END" if pg else value
        values.append(
            f"SELECT customer_id, kind, facet, {day} AS day, CAST({bind_value(name)} AS VARCHAR) AS property,"
            f" {kept} AS value FROM matched WHERE kind = {bind_value(kind)} AND facet = {bind_value(facet)}"
            f" AND {value} IS NOT NULL"
        )
    if values:
        bind.execute(
            sa.text(
                f"WITH matched AS ({matched}) INSERT INTO usage_daily_value (customer_id, kind, facet, day, property,"
                f" value) SELECT DISTINCT * FROM ({' UNION ALL '.join(values)}) v"
            ),
            params,
        )
    bind.execute(
        sa.text(
            "INSERT INTO usage_feed (customer_id, kind, source) SELECT DISTINCT customer_id, kind, 'raw'"
            " FROM usage_event"
        )
    )
