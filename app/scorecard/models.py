"""Scorecard targets and closed (frozen) months (SPEC §7)."""

from datetime import datetime
from typing import Any, get_args

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.customers.models import JSONType
from app.db import Base, UTCDateTime, utcnow
from app.scorecard.schemas import Direction

DIRECTIONS = get_args(Direction)  # one list: the API's Literal


class Target(Base):
    """The target of one scorecard metric and which way is good.

    `value` is the exact decimal as text (e.g. `1.05`, `30`, `85.5`): targets are ratios, counts, scores and
    money alike, and ratios need more places than the cents the money columns keep; text is exact on both
    databases and targets are never summed in SQL.
    """

    __tablename__ = "target"
    __table_args__ = (CheckConstraint(f"direction IN ({', '.join(repr(d) for d in DIRECTIONS)})", name="direction"),)

    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClosedMonth(Base):
    """A month whose scorecard was frozen: `figures` is the scorecard as it was read at close (decimals as text)."""

    __tablename__ = "closed_month"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType)
