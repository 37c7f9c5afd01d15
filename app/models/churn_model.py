"""Fitted churn models (SPEC §6)."""

from datetime import datetime

from sqlalchemy import Float, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class ChurnModel(Base):
    """A logistic churn model fitted on the company's snapshots: P(churn in 90 days | score)."""

    __tablename__ = "churn_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    intercept: Mapped[float] = mapped_column(Float)
    coefficient: Mapped[float] = mapped_column(Float)
    examples: Mapped[int] = mapped_column(Integer)
    churns: Mapped[int] = mapped_column(Integer)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
