"""ARR changes summed per customer and calendar month (a rollup of `arr_change`)."""

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


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
