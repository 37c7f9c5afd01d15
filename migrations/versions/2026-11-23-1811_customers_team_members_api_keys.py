"""customers team members api keys

Revision ID: b1cabc2aae94
Revises:
Create Date: 2026-11-23 18:11:33.008088
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db
import app.money
from app.migrate import refuse_data_loss

revision: str = "b1cabc2aae94"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("api_key_pkey")),
        sa.UniqueConstraint("key_hash", name=op.f("api_key_key_hash_key")),
    )
    op.create_table(
        "customer",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("segment", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("tier", sa.String(length=20), nullable=True),
        sa.Column("csm", sa.String(length=255), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "tier IS NULL OR tier IN ('high_touch', 'low_touch', 'tech_touch')",
            name=op.f("customer_tier_check"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("customer_pkey")),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_csm"), ["csm"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_industry"), ["industry"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_segment"), ["segment"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_tier"), ["tier"], unique=False)

    op.create_table(
        "team_member",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("role", sa.String(length=30), nullable=True),
        sa.Column("hourly_cost", app.money.Cents(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IS NULL OR role IN ('csm', 'onboarding', 'renewals', 'support', 'account_manager', 'manager', 'other')",
            name=op.f("team_member_role_check"),
        ),
        sa.CheckConstraint(
            "ended_on IS NULL OR started_on IS NULL OR ended_on >= started_on",
            name=op.f("team_member_dates_check"),
        ),
        sa.CheckConstraint("hourly_cost IS NULL OR hourly_cost >= 0", name=op.f("team_member_hourly_cost_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("team_member_pkey")),
    )
    with op.batch_alter_table("team_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_member_role"), ["role"], unique=False)


def downgrade() -> None:
    refuse_data_loss(
        "b1cabc2aae94",
        {
            "customer": "SELECT count(*) FROM customer",
            "team_member": "SELECT count(*) FROM team_member",
            "api_key": "SELECT count(*) FROM api_key",
        },
    )
    with op.batch_alter_table("team_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_member_role"))

    op.drop_table("team_member")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_tier"))
        batch_op.drop_index(batch_op.f("ix_customer_segment"))
        batch_op.drop_index(batch_op.f("ix_customer_region"))
        batch_op.drop_index(batch_op.f("ix_customer_industry"))
        batch_op.drop_index(batch_op.f("ix_customer_csm"))

    op.drop_table("customer")
    op.drop_table("api_key")
