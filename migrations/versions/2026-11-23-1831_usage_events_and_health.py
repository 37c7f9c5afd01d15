"""usage events and health

Revision ID: 8fdac5a9d59e
Revises: b7a8b80442fb
Create Date: 2026-11-23 18:18:32.513910
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db
from app.migrate import refuse_data_loss

revision: str = "8fdac5a9d59e"
down_revision: str | None = "b7a8b80442fb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "churn_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intercept", sa.Float(), nullable=False),
        sa.Column("coefficient", sa.Float(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("churns", sa.Integer(), nullable=False),
        sa.Column("fitted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("churn_model_pkey")),
    )
    op.create_table(
        "health_model",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "components", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "bands", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("health_model_pkey")),
    )
    op.create_table(
        "health_snapshot",
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("band", sa.String(length=10), nullable=True),
        sa.Column("coverage", sa.Float(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column(
            "components", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("health_snapshot_customer_id_fkey")),
        sa.PrimaryKeyConstraint("customer_id", "snapshot_date", name=op.f("health_snapshot_pkey")),
    )
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_snapshot_snapshot_date"), ["snapshot_date"], unique=False)

    op.create_table(
        "usage_event",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("value", app.db.Micros(), nullable=False),
        sa.Column(
            "properties", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("usage_event_customer_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("usage_event_pkey")),
    )
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_event_customer_id_kind_occurred_at", ["customer_id", "kind", "occurred_at"], unique=False
        )


def downgrade() -> None:
    refuse_data_loss(
        "8fdac5a9d59e",
        {
            "usage_event": "SELECT count(*) FROM usage_event",
            "health_snapshot": "SELECT count(*) FROM health_snapshot",
            "health_model": "SELECT count(*) FROM health_model",
            "churn_model": "SELECT count(*) FROM churn_model",
        },
    )
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_event_customer_id_kind_occurred_at")

    op.drop_table("usage_event")
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_snapshot_snapshot_date"))

    op.drop_table("health_snapshot")
    op.drop_table("health_model")
    op.drop_table("churn_model")
