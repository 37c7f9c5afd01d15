"""Interventions: what CS did, why, what it expected, and (derived) what it earned (SPEC §5)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, one_of, utcnow
from app.money import Cents
from app.types import Framework, InterventionStatus


class Intervention(Base):
    """One CS intervention. `context` is captured once, at start, and never rewritten."""

    __tablename__ = "intervention"
    __table_args__ = (
        CheckConstraint(one_of("status", get_args(InterventionStatus)), name="status"),
        CheckConstraint(one_of("framework", get_args(Framework)), name="framework"),
        CheckConstraint("attribution_days >= 1", name="attribution_days"),
        CheckConstraint("hours >= 0 AND direct_cost >= 0", name="costs"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    type: Mapped[str] = mapped_column(String(50), index=True)
    framework: Mapped[str] = mapped_column(String(30), index=True)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    planned_on: Mapped[date | None] = mapped_column(Date)
    started_on: Mapped[date | None] = mapped_column(Date, index=True)
    completed_on: Mapped[date | None] = mapped_column(Date)
    cancelled_on: Mapped[date | None] = mapped_column(Date)
    # Hundredths of an hour, exact like money (the Cents type is a generic ×100 integer column).
    hours: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    direct_cost: Mapped[Decimal] = mapped_column(Cents, default=Decimal(0))
    expected: Mapped[dict[str, Any]] = mapped_column(JSONType)
    at_risk_override: Mapped[bool | None] = mapped_column(Boolean)
    attribution_days: Mapped[int] = mapped_column(Integer, default=90)
    # Set at start: started_on + attribution_days, stored so SQL can join movements to windows on both databases.
    window_end: Mapped[date | None] = mapped_column(Date)
    at_risk: Mapped[bool | None] = mapped_column(Boolean)
    # Created for a holdout customer of an experiment of its play with `override_holdout` (SPEC §9 contamination).
    override_holdout: Mapped[bool | None] = mapped_column(Boolean)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    outcome_override: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    impact_override: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
