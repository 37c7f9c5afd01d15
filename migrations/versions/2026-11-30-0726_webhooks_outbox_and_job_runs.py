"""webhook subscriptions, the outbox of events, deliveries and attempts; job runs of the worker (SPEC §11)

Revision ID: 361106d85519
Revises: 179b3d28d37c
Create Date: 2026-11-30 07:26:28.164033
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db
from app.migrate import refuse_data_loss

revision: str = "361106d85519"
down_revision: str | None = "179b3d28d37c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("slot", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column(
            "result",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name=op.f("job_run_status_check")),
        sa.CheckConstraint("trigger IN ('schedule', 'manual', 'poll')", name=op.f("job_run_trigger_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("job_run_pkey")),
        sa.UniqueConstraint("job", "slot", name=op.f("job_run_job_slot_key")),
    )
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.create_index("ix_job_run_job_id", ["job", "id"], unique=False)
        batch_op.create_index("ix_job_run_started_at", ["started_at"], unique=False)

    op.create_table(
        "webhook",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column(
            "events",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("webhook_pkey")),
    )
    op.create_table(
        "webhook_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=True),
        sa.Column("dedupe_key", sa.String(length=1000), nullable=True),
        sa.Column("dispatched", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "type IN ('health.band_changed', 'customer.at_risk', 'renewal.due', 'intervention.outcome_measured', 'revenue.churned', 'revenue.expanded', 'experiment.ready', 'scorecard.closed')",
            name=op.f("webhook_event_type_check"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("webhook_event_customer_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("webhook_event_pkey")),
        sa.UniqueConstraint("dedupe_key", name=op.f("webhook_event_dedupe_key_key")),
    )
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_event_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_webhook_event_dispatched_id", ["dispatched", "id"], unique=False)

    op.create_table(
        "webhook_topic",
        sa.Column("webhook_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "type IN ('health.band_changed', 'customer.at_risk', 'renewal.due', 'intervention.outcome_measured', 'revenue.churned', 'revenue.expanded', 'experiment.ready', 'scorecard.closed')",
            name=op.f("webhook_topic_type_check"),
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhook.id"], name=op.f("webhook_topic_webhook_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("webhook_id", "type", name=op.f("webhook_topic_pkey")),
    )
    with op.batch_alter_table("webhook_topic", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_topic_type", ["type"], unique=False)

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("webhook_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.String(length=40), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f("webhook_delivery_status_check")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["webhook_event.id"], name=op.f("webhook_delivery_event_id_fkey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhook.id"], name=op.f("webhook_delivery_webhook_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("webhook_delivery_pkey")),
        sa.UniqueConstraint("webhook_id", "event_id", name=op.f("webhook_delivery_webhook_id_event_id_key")),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_delivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_delivery_event_id"), ["event_id"], unique=False)
        batch_op.create_index("ix_webhook_delivery_webhook_id_id", ["webhook_id", "id"], unique=False)

    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attempted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["webhook_delivery.id"], name=op.f("webhook_attempt_delivery_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("webhook_attempt_pkey")),
    )
    with op.batch_alter_table("webhook_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_attempt_delivery_id"), ["delivery_id"], unique=False)


def downgrade() -> None:
    # Subscriptions are configuration and the outbox holds events not yet sent; job runs and attempts are logs.
    refuse_data_loss(
        "361106d85519",
        {"webhook": "SELECT count(*) FROM webhook", "webhook_event": "SELECT count(*) FROM webhook_event"},
    )
    with op.batch_alter_table("webhook_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_attempt_delivery_id"))

    op.drop_table("webhook_attempt")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_delivery_webhook_id_id")
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_event_id"))
        batch_op.drop_index("ix_webhook_delivery_due")

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("webhook_topic", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_topic_type")

    op.drop_table("webhook_topic")
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_event_dispatched_id")
        batch_op.drop_index(batch_op.f("ix_webhook_event_customer_id"))

    op.drop_table("webhook_event")
    op.drop_table("webhook")
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_index("ix_job_run_started_at")
        batch_op.drop_index("ix_job_run_job_id")

    op.drop_table("job_run")
