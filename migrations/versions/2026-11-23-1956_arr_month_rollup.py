"""arr_month: arr_change summed per customer and calendar month, kept by rebuild_ledger (retention reads it)

The upgrade fills it from arr_change (the same sums the ledger's rebuild writes), so a database that already
holds a ledger reads the same retention and scorecard before and after; the downgrade drops only derived rows.

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
    month = (
        "CAST(date_trunc('month', effective_date) AS DATE)"
        if op.get_bind().dialect.name == "postgresql"
        else "date(effective_date, 'start of month')"
    )
    op.execute(BACKFILL.format(month=month))


# Every customer's changes summed per calendar month, with the ARR before each month (frozen here as it was when
# this revision was written: a migration never imports the code that later revisions may change).
BACKFILL = """
INSERT INTO arr_month (customer_id, month, opening_cents, delta_cents, new, reactivation, upsell, cross_sell,
                       downsell, churn)
SELECT customer_id, month,
       CAST(SUM(SUM(delta_cents)) OVER (PARTITION BY customer_id ORDER BY month) - SUM(delta_cents) AS BIGINT),
       CAST(SUM(delta_cents) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'new' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'reactivation' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'upsell' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'cross_sell' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'downsell' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'churn' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT)
FROM (SELECT customer_id, {month} AS month, delta_cents, movement_type FROM arr_change) changes
GROUP BY customer_id, month
"""


def downgrade() -> None:
    op.drop_table("arr_month")
