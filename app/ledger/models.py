"""The revenue ledger: immutable revenue events and the ARR changes derived from them."""

from datetime import date, datetime
from decimal import Decimal
from typing import get_args

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.ledger.schemas import MovementType
from app.money import Cents

MOVEMENT_TYPES = get_args(MovementType)  # one list: the API's Literal


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


class ArrChange(Base):
    """A date on which one product's ARR of a customer changed, classified as a movement (SPEC §3).

    Derived from revenue events and rebuilt per customer whenever its events change; never posted. Amounts are
    integer cents so SQL sums stay exact. ARR on any date is the sum of `delta_cents` up to that date.
    """

    __tablename__ = "arr_change"
    __table_args__ = (
        CheckConstraint(f"movement_type IN ({', '.join(repr(t) for t in MOVEMENT_TYPES)})", name="movement_type"),
        Index("ix_arr_change_effective_date", "effective_date"),
    )

    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    product: Mapped[str] = mapped_column(String(100), primary_key=True)
    effective_date: Mapped[date] = mapped_column(Date, primary_key=True)
    arr_before_cents: Mapped[int] = mapped_column(BigInteger)
    arr_after_cents: Mapped[int] = mapped_column(BigInteger)
    delta_cents: Mapped[int] = mapped_column(BigInteger)
    movement_type: Mapped[str] = mapped_column(String(20))


class ArrMonth(Base):
    """A customer's ARR changes summed per calendar month (a rollup of `arr_change`, rebuilt with it).

    One row per customer and month with at least one change: ARR before the month (`opening_cents`, every change
    dated before its first day), the month's net change, and its movements by type as positive amounts. Kept by
    `rebuild_ledger` in the same transaction, for the same customers, so it always equals `arr_change` summed.
    """

    __tablename__ = "arr_month"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    opening_cents: Mapped[int] = mapped_column(BigInteger)
    delta_cents: Mapped[int] = mapped_column(BigInteger)
    new: Mapped[int] = mapped_column(BigInteger)
    reactivation: Mapped[int] = mapped_column(BigInteger)
    upsell: Mapped[int] = mapped_column(BigInteger)
    cross_sell: Mapped[int] = mapped_column(BigInteger)
    downsell: Mapped[int] = mapped_column(BigInteger)
    churn: Mapped[int] = mapped_column(BigInteger)
