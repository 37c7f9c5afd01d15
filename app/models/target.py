"""Scorecard targets (SPEC §7)."""

from datetime import datetime
from typing import get_args

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, one_of, utcnow
from app.types import Direction


class Target(Base):
    """The target of one scorecard metric and which way is good.

    `value` is the exact decimal as text (e.g. `1.05`, `30`, `85.5`): targets are ratios, counts, scores and
    money alike, and ratios need more places than the cents the money columns keep; text is exact on both
    databases and targets are never summed in SQL.
    """

    __tablename__ = "target"
    __table_args__ = (CheckConstraint(one_of("direction", get_args(Direction)), name="direction"),)

    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
