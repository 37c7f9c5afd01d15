"""revenue ledger

Revision ID: 0a52fc6c6b2b
Revises: b1cabc2aae94
Create Date: 2026-11-23 18:25:24.462522
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
import app.money
from app.migrate import refuse_data_loss

revision: str = "0a52fc6c6b2b"
down_revision: str | None = "b1cabc2aae94"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "arr_change",
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("product", sa.String(length=100), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("arr_before_cents", sa.BigInteger(), nullable=False),
        sa.Column("arr_after_cents", sa.BigInteger(), nullable=False),
        sa.Column("delta_cents", sa.BigInteger(), nullable=False),
        sa.Column("movement_type", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "movement_type IN ('new', 'reactivation', 'upsell', 'cross_sell', 'downsell', 'churn')",
            name=op.f("arr_change_movement_type_check"),
        ),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("arr_change_customer_id_fkey")),
        sa.PrimaryKeyConstraint("customer_id", "product", "effective_date", name=op.f("arr_change_pkey")),
    )
    with op.batch_alter_table("arr_change", schema=None) as batch_op:
        batch_op.create_index("ix_arr_change_effective_date", ["effective_date"], unique=False)

    op.create_table(
        "revenue_event",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("product", sa.String(length=100), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("arr", app.money.Cents(), nullable=False),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("arr >= 0", name=op.f("revenue_event_arr_check")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("revenue_event_customer_id_fkey")),
        sa.PrimaryKeyConstraint("seq", name=op.f("revenue_event_pkey")),
        sa.UniqueConstraint("id", name=op.f("revenue_event_id_key")),
    )
    with op.batch_alter_table("revenue_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_revenue_event_ledger_key", ["customer_id", "product", "effective_date", "seq"], unique=False
        )


def downgrade() -> None:
    refuse_data_loss(
        "0a52fc6c6b2b",
        {
            "revenue_event": "SELECT count(*) FROM revenue_event",
        },
    )
    with op.batch_alter_table("revenue_event", schema=None) as batch_op:
        batch_op.drop_index("ix_revenue_event_ledger_key")

    op.drop_table("revenue_event")
    with op.batch_alter_table("arr_change", schema=None) as batch_op:
        batch_op.drop_index("ix_arr_change_effective_date")

    op.drop_table("arr_change")
