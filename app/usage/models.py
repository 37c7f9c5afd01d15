"""Usage events: immutable facts from products, support desks and surveys (SPEC §3)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.customers.models import JSONType
from app.db import Base, UTCDateTime, utcnow

# Event values are exact: stored as integer millionths. SQLite keeps NUMERIC as a float (ENGINEERING.md
# pitfall 8), while a BigInteger sums exactly on both databases; six decimals cover minutes, scores and ratios.
VALUE_SCALE = 1_000_000


def to_micros(value: Decimal) -> int:
    """An exact event value to integer millionths."""
    return int(value * VALUE_SCALE)


def from_micros(micros: int | Decimal | None) -> Decimal | None:
    """Integer millionths (or a SQL SUM of them) back to an exact Decimal."""
    return None if micros is None else Decimal(int(micros)) / VALUE_SCALE


class Micros(TypeDecorator[Decimal]):
    """An exact decimal value with up to six decimals, stored as a BigInteger of millionths."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(Decimal(value))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return from_micros(value)


class UsageEvent(Base):
    """One usage, support or survey event, keyed by the client's id; never updated."""

    __tablename__ = "usage_event"
    __table_args__ = (Index("ix_usage_event_customer_id_kind_occurred_at", "customer_id", "kind", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[Decimal] = mapped_column(Micros)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # A digest of the content: a re-post is told apart from a conflicting one without comparing JSON.
    content_hash: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
