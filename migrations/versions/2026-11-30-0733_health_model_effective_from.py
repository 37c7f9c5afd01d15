"""health_model.effective_from: the first day each version scores (SPEC §10 "models in force")

Backfill: a version stored before this column existed takes effect on the UTC day it was stored (its created_at's
date), which is when it started to score the reads and snapshot runs of that time. Days before the first stored
version are then scored by the built-in default (version 1), as they were when they were today.

Revision ID: 447e66067005
Revises: 361106d85519
Create Date: 2026-11-30 07:33:32.832263
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "447e66067005"
down_revision: str | None = "361106d85519"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# created_at is a timestamptz on PostgreSQL and UTC text ('YYYY-MM-DD HH:MM:SS.ffffff') on SQLite.
BACKFILL = {
    "postgresql": "UPDATE health_model SET effective_from = (created_at AT TIME ZONE 'UTC')::date",
    "sqlite": "UPDATE health_model SET effective_from = date(created_at)",
}


def upgrade() -> None:
    with op.batch_alter_table("health_model", schema=None) as batch_op:
        batch_op.add_column(sa.Column("effective_from", sa.Date(), nullable=True))
    op.execute(BACKFILL[op.get_bind().dialect.name])
    with op.batch_alter_table("health_model", schema=None) as batch_op:
        batch_op.alter_column("effective_from", existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    # Dropping the day loses no version: each then scores from its storing on, as before this revision.
    with op.batch_alter_table("health_model", schema=None) as batch_op:
        batch_op.drop_column("effective_from")
