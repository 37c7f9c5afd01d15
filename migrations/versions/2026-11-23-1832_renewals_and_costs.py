"""renewals and costs: the renewal and cost tables (records replaced whole by each upsert)

Revision ID: 15173cdb7dd5
Revises: 8fdac5a9d59e
Create Date: 2026-11-23 18:28:16.518349
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
import app.money
from app.migrate import refuse_data_loss

revision: str = "15173cdb7dd5"
down_revision: str | None = "8fdac5a9d59e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cost",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", app.money.Cents(), nullable=False),
        sa.Column("team", sa.String(length=30), nullable=False),
        sa.Column("motion", sa.String(length=10), nullable=False),
        sa.Column("category", sa.String(length=10), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=True),
        sa.Column("team_member_id", sa.String(length=255), nullable=True),
        sa.Column("intervention_id", sa.String(length=255), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('salary', 'tools', 'services', 'travel', 'other')", name=op.f("cost_category_check")
        ),
        sa.CheckConstraint("motion IN ('acquire', 'expand', 'retain')", name=op.f("cost_motion_check")),
        sa.CheckConstraint(
            "team IN ('customer_success', 'onboarding', 'renewals', 'support', 'account_management', 'sales', 'marketing', 'services', 'training', 'tools', 'other')",
            name=op.f("cost_team_check"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("cost_amount_check")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("cost_customer_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("cost_pkey")),
    )
    with op.batch_alter_table("cost", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cost_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cost_intervention_id"), ["intervention_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cost_month"), ["month"], unique=False)
        batch_op.create_index(batch_op.f("ix_cost_team"), ["team"], unique=False)

    op.create_table(
        "renewal",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("arr_up_for_renewal", app.money.Cents(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("booked_arr", app.money.Cents(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'open' AND booked_arr IS NULL AND closed_on IS NULL) OR (status = 'renewed' AND booked_arr IS NOT NULL AND closed_on IS NOT NULL) OR (status = 'churned' AND booked_arr = 0 AND closed_on IS NOT NULL)",
            name=op.f("renewal_status_fields_check"),
        ),
        sa.CheckConstraint("status IN ('open', 'renewed', 'churned')", name=op.f("renewal_status_check")),
        sa.CheckConstraint("arr_up_for_renewal > 0", name=op.f("renewal_arr_up_for_renewal_check")),
        sa.CheckConstraint("booked_arr IS NULL OR booked_arr >= 0", name=op.f("renewal_booked_arr_check")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("renewal_customer_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("renewal_pkey")),
    )
    with op.batch_alter_table("renewal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_renewal_closed_on"), ["closed_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_renewal_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_renewal_due_date"), ["due_date"], unique=False)


def downgrade() -> None:
    refuse_data_loss(
        "15173cdb7dd5",
        {
            "renewal": "SELECT count(*) FROM renewal",
            "cost": "SELECT count(*) FROM cost",
        },
    )
    with op.batch_alter_table("renewal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renewal_due_date"))
        batch_op.drop_index(batch_op.f("ix_renewal_customer_id"))
        batch_op.drop_index(batch_op.f("ix_renewal_closed_on"))

    op.drop_table("renewal")
    with op.batch_alter_table("cost", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cost_team"))
        batch_op.drop_index(batch_op.f("ix_cost_month"))
        batch_op.drop_index(batch_op.f("ix_cost_intervention_id"))
        batch_op.drop_index(batch_op.f("ix_cost_customer_id"))

    op.drop_table("cost")
