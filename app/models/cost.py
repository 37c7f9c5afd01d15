"""Costs: what the CS team (and the teams around it) cost, month by month."""

from datetime import date, datetime
from decimal import Decimal
from typing import get_args

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, one_of, utcnow
from app.money import Cents
from app.types import Category, Motion, Team


class Cost(Base):
    """A cost of one month (stored as the month's first day), keyed by the client's id, replaced whole."""

    __tablename__ = "cost"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint(one_of("team", get_args(Team)), name="team"),
        CheckConstraint(one_of("motion", get_args(Motion)), name="motion"),
        CheckConstraint(one_of("category", get_args(Category)), name="category"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    month: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Cents)
    team: Mapped[str] = mapped_column(String(30), index=True)
    motion: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[str | None] = mapped_column(String(255), ForeignKey("customer.id"), index=True)
    # Plain ids, not foreign keys: team members may arrive later, and interventions come in a later issue.
    team_member_id: Mapped[str | None] = mapped_column(String(255))
    intervention_id: Mapped[str | None] = mapped_column(String(255), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
