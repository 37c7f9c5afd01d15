"""Scorecard targets (exact decimal text, direction) and closed months (frozen figures as JSON)

Revision ID: fa6b502667c5
Revises: 15173cdb7dd5
Create Date: 2026-11-23 18:48:25.932348
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db
from app.migrate import refuse_data_loss

revision: str = "fa6b502667c5"
down_revision: str | None = "15173cdb7dd5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "closed_month",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "figures",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("month", name=op.f("closed_month_pkey")),
    )
    op.create_table(
        "target",
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN ('higher_is_better', 'lower_is_better')", name=op.f("target_direction_check")),
        sa.PrimaryKeyConstraint("metric", name=op.f("target_pkey")),
    )


def downgrade() -> None:
    refuse_data_loss(
        "fa6b502667c5",
        {
            "target": "SELECT count(*) FROM target",
            "closed_month": "SELECT count(*) FROM closed_month",
        },
    )
    op.drop_table("target")
    op.drop_table("closed_month")
