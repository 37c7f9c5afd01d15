"""interventions

Revision ID: b7a8b80442fb
Revises: 0a52fc6c6b2b
Create Date: 2026-11-23 18:30:39.493799
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db
import app.money
from app.migrate import refuse_data_loss

revision: str = "b7a8b80442fb"
down_revision: str | None = "0a52fc6c6b2b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intervention",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("framework", sa.String(length=30), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("hours", app.money.Cents(), nullable=False),
        sa.Column("direct_cost", app.money.Cents(), nullable=False),
        sa.Column(
            "expected",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("at_risk_override", sa.Boolean(), nullable=True),
        sa.Column("attribution_days", sa.Integer(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=True),
        sa.Column("at_risk", sa.Boolean(), nullable=True),
        sa.Column(
            "context",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "outcome",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "outcome_override",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "impact_override",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "framework IN ('loss_aversion', 'commitment_escalation', 'habit_formation', 'social_proof', 'other')",
            name=op.f("intervention_framework_check"),
        ),
        sa.CheckConstraint(
            "status IN ('planned', 'in_progress', 'completed', 'cancelled')", name=op.f("intervention_status_check")
        ),
        sa.CheckConstraint("attribution_days >= 1", name=op.f("intervention_attribution_days_check")),
        sa.CheckConstraint("hours >= 0 AND direct_cost >= 0", name=op.f("intervention_costs_check")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("intervention_customer_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("intervention_pkey")),
    )
    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intervention_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_intervention_framework"), ["framework"], unique=False)
        batch_op.create_index(batch_op.f("ix_intervention_owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_intervention_started_on"), ["started_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_intervention_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_intervention_type"), ["type"], unique=False)


def downgrade() -> None:
    refuse_data_loss(
        "b7a8b80442fb",
        {
            "intervention": "SELECT count(*) FROM intervention",
        },
    )
    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intervention_type"))
        batch_op.drop_index(batch_op.f("ix_intervention_status"))
        batch_op.drop_index(batch_op.f("ix_intervention_started_on"))
        batch_op.drop_index(batch_op.f("ix_intervention_owner"))
        batch_op.drop_index(batch_op.f("ix_intervention_framework"))
        batch_op.drop_index(batch_op.f("ix_intervention_customer_id"))

    op.drop_table("intervention")
