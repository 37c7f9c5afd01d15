"""arr_month: arr_change summed per customer and calendar month, kept by rebuild_ledger (retention reads it)

No backfill: there is no production data yet; rebuilding a customer's ledger fills its rows.

Revision ID: 1be05c34a631
Revises: fa6b502667c5
Create Date: 2026-11-23 19:56:55.311434
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1be05c34a631"
down_revision: str | None = "fa6b502667c5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "arr_month",
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("opening_cents", sa.BigInteger(), nullable=False),
        sa.Column("delta_cents", sa.BigInteger(), nullable=False),
        sa.Column("new", sa.BigInteger(), nullable=False),
        sa.Column("reactivation", sa.BigInteger(), nullable=False),
        sa.Column("upsell", sa.BigInteger(), nullable=False),
        sa.Column("cross_sell", sa.BigInteger(), nullable=False),
        sa.Column("downsell", sa.BigInteger(), nullable=False),
        sa.Column("churn", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("arr_month_customer_id_fkey")),
        sa.PrimaryKeyConstraint("customer_id", "month", name=op.f("arr_month_pkey")),
    )


def downgrade() -> None:
    op.drop_table("arr_month")
