"""Closed (frozen) scorecard months (SPEC §7)."""

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, utcnow


class ClosedMonth(Base):
    """A month whose scorecard was frozen: `figures` is the scorecard as it was read at close (decimals as text)."""

    __tablename__ = "closed_month"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType)
