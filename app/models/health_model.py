"""Health model versions (SPEC §6)."""

from datetime import datetime
from typing import Any

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, utcnow


class HealthModel(Base):
    """One version of the health model; the highest version is the current one."""

    __tablename__ = "health_model"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    bands: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
