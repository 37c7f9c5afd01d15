"""Revenue events: the immutable input of the revenue ledger (SPEC §3)."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.money import Cents


class RevenueEvent(Base):
    """A customer's new ARR for a product from a date on (SPEC §3); never updated or deleted.

    `seq` orders events by arrival, so for one customer, product and date the one received last wins.
    """

    __tablename__ = "revenue_event"
    __table_args__ = (
        CheckConstraint("arr >= 0", name="arr"),
        Index("ix_revenue_event_ledger_key", "customer_id", "product", "effective_date", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"))
    product: Mapped[str] = mapped_column(String(100))
    effective_date: Mapped[date] = mapped_column(Date)
    arr: Mapped[Decimal] = mapped_column(Cents)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
