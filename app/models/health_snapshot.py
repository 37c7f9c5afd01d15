"""Daily health snapshots (SPEC §6)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, utcnow


class HealthSnapshot(Base):
    """A customer's health on one day, as the model of that day computed it (replayable, so overwritable)."""

    __tablename__ = "health_snapshot"
    # Whole-book reads by day (the ROI baseline, matched controls, revenue at risk) scan this index alone on
    # PostgreSQL: the score is in it, so the wide `components` rows are never read.
    __table_args__ = (
        Index("ix_health_snapshot_date_customer", "snapshot_date", "customer_id", postgresql_include=["score"]),
    )

    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey("customer.id"), primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date, primary_key=True)
    # Scores are 0..100 points, not money: a float is exact enough and sorts and averages in SQL.
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(10))
    coverage: Mapped[float] = mapped_column(Float)
    model_version: Mapped[int] = mapped_column(Integer)
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
