"""Someone on the CS team (or around it)."""

from datetime import date, datetime
from decimal import Decimal
from typing import get_args

from sqlalchemy import CheckConstraint, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, one_of, utcnow
from app.money import Cents
from app.types import Role


class TeamMember(Base):
    """Someone on the CS (or adjacent) team, with the loaded cost of one hour."""

    __tablename__ = "team_member"
    __table_args__ = (
        CheckConstraint(one_of("role", get_args(Role), nullable=True), name="role"),
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
