"""Holdout experiments (SPEC §9): experiment, experiment_assignment, and intervention.override_holdout

No backfill: experiments are new; existing interventions keep override_holdout NULL (no override was given).

Revision ID: 6016d84e70e8
Revises: 1be05c34a631
Create Date: 2026-11-30 02:22:29.647595
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db
from app.migrate import refuse_data_loss

revision: str = "6016d84e70e8"
down_revision: str | None = "1be05c34a631"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiment",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hypothesis", sa.Text(), nullable=True),
        sa.Column("play_type", sa.String(length=50), nullable=False),
        sa.Column("play_framework", sa.String(length=30), nullable=False),
        sa.Column(
            "eligibility",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("holdout_share", app.db.Micros(), nullable=False),
        sa.Column(
            "stratify_by",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("stopped_on", sa.Date(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "play_framework IN ('loss_aversion', 'commitment_escalation', 'habit_formation', 'social_proof', 'other')",
            name=op.f("experiment_play_framework_check"),
        ),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("experiment_dates_check")),
        sa.CheckConstraint(
            "holdout_share >= 50000 AND holdout_share <= 500000", name=op.f("experiment_holdout_share_check")
        ),
        sa.CheckConstraint("window_days >= 1", name=op.f("experiment_window_days_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("experiment_pkey")),
    )
    op.create_table(
        "experiment_assignment",
        sa.Column("experiment_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("arm", sa.String(length=10), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("stratum", sa.String(length=500), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("arm IN ('treatment', 'holdout')", name=op.f("experiment_assignment_arm_check")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("experiment_assignment_customer_id_fkey")),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiment.id"], name=op.f("experiment_assignment_experiment_id_fkey")
        ),
        sa.PrimaryKeyConstraint("experiment_id", "customer_id", name=op.f("experiment_assignment_pkey")),
    )
    with op.batch_alter_table("experiment_assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_experiment_assignment_customer_id"), ["customer_id"], unique=False)

    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.add_column(sa.Column("override_holdout", sa.Boolean(), nullable=True))


def downgrade() -> None:
    refuse_data_loss(
        "6016d84e70e8",
        {
            "experiment": "SELECT count(*) FROM experiment",
            "experiment_assignment": "SELECT count(*) FROM experiment_assignment",
            "intervention.override_holdout": "SELECT count(*) FROM intervention WHERE override_holdout IS NOT NULL",
        },
    )
    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.drop_column("override_holdout")

    with op.batch_alter_table("experiment_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiment_assignment_customer_id"))

    op.drop_table("experiment_assignment")
    op.drop_table("experiment")
