"""usage_event on PostgreSQL without its (id, occurred_at) primary key: the id directory keeps ids unique (issue 14)

The partitioned table's primary key (id, occurred_at) enforced nothing `usage_event_id` (id PRIMARY KEY) does not
already: an id is claimed in the directory before its row is inserted, and no query looks an event up by id in
usage_event (erasure and retention join the directory through the (customer_id, kind, occurred_at) index or a
partition scan). Each ingested event paid one more btree insert and its WAL for it: without it the ingest's
PostgreSQL backends used 0.3 CPU s less per 100,000 events (2.6 instead of 2.9) and wrote 11 % less WAL
(benchmarks/usage_ingest.py's live feed; docs/benchmarks.md). SQLite keeps its primary key on id.

Revision ID: 8e4f0c2d6a17
Revises: 5c1d3e7a9b20
Create Date: 2026-11-30 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8e4f0c2d6a17"
down_revision: str | None = "5c1d3e7a9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE usage_event DROP CONSTRAINT usage_event_pkey")  # and every partition's copy


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE usage_event ADD CONSTRAINT usage_event_pkey PRIMARY KEY (id, occurred_at)")
