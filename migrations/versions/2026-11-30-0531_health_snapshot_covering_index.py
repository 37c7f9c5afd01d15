"""health_snapshot: one (snapshot_date, customer_id) index carrying the score, for whole-book reads by day

It replaces the index on snapshot_date alone; on PostgreSQL the score is INCLUDEd, so reading every customer's
score on a set of days is an index-only scan that never touches the wide `components` rows.

Revision ID: 179b3d28d37c
Revises: 79889c815587
Create Date: 2026-11-30 05:31:49.458459
"""

from collections.abc import Sequence

from alembic import op

revision: str = "179b3d28d37c"
down_revision: str | None = "79889c815587"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_snapshot_snapshot_date"))
        batch_op.create_index(
            "ix_health_snapshot_date_customer",
            ["snapshot_date", "customer_id"],
            unique=False,
            postgresql_include=["score"],
        )


def downgrade() -> None:
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.drop_index("ix_health_snapshot_date_customer", postgresql_include=["score"])
        batch_op.create_index(batch_op.f("ix_health_snapshot_snapshot_date"), ["snapshot_date"], unique=False)
