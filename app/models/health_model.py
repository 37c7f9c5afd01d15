"""Health model versions (SPEC §6) and the day each takes effect (SPEC §10)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, utcnow


class HealthModel(Base):
    """One version of the health model: on a day d the highest version with effective_from <= d is in force."""

    __tablename__ = "health_model"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    bands: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The first day it scores: its PUT's day (UTC) unless the PUT gave one; never edited, like the rest of it.
    effective_from: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
