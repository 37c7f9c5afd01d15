"""Customers and the CS team."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

from sqlalchemy import JSON, CheckConstraint, Date, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.customers.schemas import Role, Tier
from app.db import Base, UTCDateTime, utcnow
from app.money import Cents

# none_as_null: Python None is SQL NULL (not the JSON value null), so `IS NULL` filters work.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
TIERS = get_args(Tier)  # one list: the API's Literal
ROLES = get_args(Role)  # one list: the API's Literal


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IS NULL OR {column} IN ({', '.join(repr(v) for v in values)})"


class Customer(Base):
    """A customer, keyed by the CRM's id; a stub (id only) when first seen in a revenue or event batch."""

    __tablename__ = "customer"
    __table_args__ = (CheckConstraint(_in("tier", TIERS), name="tier"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(500))
    segment: Mapped[str | None] = mapped_column(String(100), index=True)
    region: Mapped[str | None] = mapped_column(String(100), index=True)
    industry: Mapped[str | None] = mapped_column(String(100), index=True)
    tier: Mapped[str | None] = mapped_column(String(20), index=True)
    # A team member id, deliberately not a foreign key: CRMs send customers before their CSMs.
    csm: Mapped[str | None] = mapped_column(String(255), index=True)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Base):
    """Someone on the CS (or adjacent) team, with the loaded cost of one hour."""

    __tablename__ = "team_member"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint("ended_on IS NULL OR started_on IS NULL OR ended_on >= started_on", name="dates"),
        CheckConstraint("hourly_cost IS NULL OR hourly_cost >= 0", name="hourly_cost"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(30), index=True)
    hourly_cost: Mapped[Decimal | None] = mapped_column(Cents)
    started_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
