"""usage_event partitioned by month on PostgreSQL, the id directory, no foreign key to customer (issue 14)

PostgreSQL: the table becomes declaratively partitioned by RANGE of `occurred_at`, one partition per UTC month
(`usage_event_pYYYYMM`, made here for the months that hold events and afterwards by the ingest that needs one);
its primary key becomes (id, occurred_at), as a partitioned table's unique keys must contain the partition key,
and `usage_event_id (id, content_hash)` keeps event ids unique across months (app/usage/partitions.py). Rows move
in one transaction: create the new table, copy, drop the old one; the (customer_id, kind, occurred_at) index keeps
its name.

Both databases: the foreign key usage_event.customer_id -> customer.id goes. The service's insert ran 1.28-1.35x
as fast without it (benchmarks/usage_ingest.py), and it guards nothing the code does not:
ingest creates the stub customer in the same transaction, and erasure deletes a customer's events explicitly
(app/usage/service.py says how the two cannot interleave). The downgrade restores it (creating stub customers
for any event whose customer is missing, as ingest would have).

Revision ID: 5c1d3e7a9b20
Revises: 21bf39b8d23f
Create Date: 2026-11-30 11:20:00
"""

from collections.abc import Sequence

from alembic import op

from app.usage import partitions

revision: str = "5c1d3e7a9b20"
down_revision: str | None = "21bf39b8d23f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "usage_event_customer_id_fkey"
INDEX = "ix_usage_event_customer_id_kind_occurred_at"
COLUMNS = "id, customer_id, kind, occurred_at, value, properties, content_hash, received_at"
COLUMN_DDL = (
    "id VARCHAR(255) NOT NULL, customer_id VARCHAR(255) NOT NULL, kind VARCHAR(100) NOT NULL,"
    " occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, value BIGINT NOT NULL, properties JSONB NOT NULL,"
    " content_hash VARCHAR(32) NOT NULL, received_at TIMESTAMP WITH TIME ZONE NOT NULL"
)
# Events whose customer row is missing (none, unless erased mid-ingest): stubs, as ingest makes them.
STUBS = (
    "INSERT INTO customer (id, created_at, updated_at) SELECT DISTINCT customer_id, {now}, {now} FROM usage_event"
    " WHERE customer_id NOT IN (SELECT id FROM customer)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("usage_event", schema=None) as batch_op:
            batch_op.drop_constraint(FK, type_="foreignkey")
        return
    op.execute("ALTER TABLE usage_event RENAME TO usage_event_unpartitioned")
    op.execute("ALTER TABLE usage_event_unpartitioned RENAME CONSTRAINT usage_event_pkey TO usage_event_old_pkey")
    op.execute(f"ALTER INDEX {INDEX} RENAME TO ix_usage_event_old")
    op.execute(
        f"CREATE TABLE usage_event ({COLUMN_DDL}, CONSTRAINT usage_event_pkey PRIMARY KEY (id, occurred_at))"
        " PARTITION BY RANGE (occurred_at)"
    )
    op.execute(f"CREATE INDEX {INDEX} ON usage_event (customer_id, kind, occurred_at)")
    op.execute(
        f"CREATE TABLE {partitions.DIRECTORY} (id VARCHAR(255) NOT NULL, content_hash VARCHAR(32) NOT NULL,"
        f" CONSTRAINT {partitions.DIRECTORY}_pkey PRIMARY KEY (id))"
    )
    months = op.get_bind().exec_driver_sql(
        "SELECT DISTINCT extract(year FROM t)::int, extract(month FROM t)::int"
        " FROM (SELECT occurred_at AT TIME ZONE 'UTC' AS t FROM usage_event_unpartitioned) s"
    )
    for month in sorted((int(y), int(m)) for y, m in months):
        for statement in partitions.create_sql(month):
            op.execute(statement)
    op.execute(f"INSERT INTO usage_event ({COLUMNS}) SELECT {COLUMNS} FROM usage_event_unpartitioned")  # noqa: S608
    op.execute(f"INSERT INTO {partitions.DIRECTORY} (id, content_hash) SELECT id, content_hash FROM usage_event")  # noqa: S608
    op.execute("DROP TABLE usage_event_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(STUBS.format(now="strftime('%Y-%m-%d %H:%M:%f000', 'now')"))
        with op.batch_alter_table("usage_event", schema=None) as batch_op:
            batch_op.create_foreign_key(FK, "customer", ["customer_id"], ["id"])
        return
    op.execute(STUBS.format(now="now()"))
    op.execute(
        f"CREATE TABLE usage_event_unpartitioned ({COLUMN_DDL}, CONSTRAINT usage_event_old_pkey PRIMARY KEY (id))"
    )
    op.execute(f"INSERT INTO usage_event_unpartitioned ({COLUMNS}) SELECT {COLUMNS} FROM usage_event")  # noqa: S608
    op.execute("DROP TABLE usage_event")  # its partitions with it
    op.execute(f"DROP TABLE {partitions.DIRECTORY}")
    op.execute("ALTER TABLE usage_event_unpartitioned RENAME TO usage_event")
    op.execute("ALTER TABLE usage_event RENAME CONSTRAINT usage_event_old_pkey TO usage_event_pkey")
    op.execute(f"CREATE INDEX {INDEX} ON usage_event (customer_id, kind, occurred_at)")
    op.execute(f"ALTER TABLE usage_event ADD CONSTRAINT {FK} FOREIGN KEY (customer_id) REFERENCES customer (id)")
