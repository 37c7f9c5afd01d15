"""Holdout experiments: a play, who is eligible, and how much of each stratum is held out (SPEC §9)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

from sqlalchemy import CheckConstraint, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, Micros, UTCDateTime, one_of, utcnow
from app.types import Framework


class Experiment(Base):
    """One experiment. Its assignments (`experiment_assignment`) never change once made."""

    __tablename__ = "experiment"
    __table_args__ = (
        CheckConstraint(one_of("play_framework", get_args(Framework)), name="play_framework"),
        # Micros: 0.05..0.5 as millionths.
        CheckConstraint("holdout_share >= 50000 AND holdout_share <= 500000", name="holdout_share"),
        CheckConstraint("ends_on >= starts_on", name="dates"),
        CheckConstraint("window_days >= 1", name="window_days"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    hypothesis: Mapped[str | None] = mapped_column(Text)
    # The play under test: interventions of this type and framework are the treatment.
    play_type: Mapped[str] = mapped_column(String(50))
    play_framework: Mapped[str] = mapped_column(String(30))
    # {band?, segment?, tier?, stage?, at_risk?, min_arr?}: every given condition must hold on the enrollment day.
    eligibility: Mapped[dict[str, Any]] = mapped_column(JSONType)
    holdout_share: Mapped[Decimal] = mapped_column(Micros)
    stratify_by: Mapped[list[str]] = mapped_column(JSONType)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    window_days: Mapped[int] = mapped_column(Integer, default=90)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
