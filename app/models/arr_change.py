"""ARR changes: the movements derived from revenue events (SPEC §3)."""

from datetime import date
from typing import get_args

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, one_of
from app.types import MovementType


class ArrChange(Base):
    """A date on which one product's ARR of a customer changed, classified as a movement (SPEC §3).

    Derived from revenue events and rebuilt per customer whenever its events change; never posted. Amounts are
    integer cents so SQL sums stay exact. ARR on any date is the sum of `delta_cents` up to that date.
    """

    __tablename__ = "arr_change"
    __table_args__ = (
        CheckConstraint(one_of("movement_type", get_args(MovementType)), name="movement_type"),
        Index("ix_arr_change_effective_date", "effective_date"),
    )

    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    product: Mapped[str] = mapped_column(String(100), primary_key=True)
    effective_date: Mapped[date] = mapped_column(Date, primary_key=True)
    arr_before_cents: Mapped[int] = mapped_column(BigInteger)
    arr_after_cents: Mapped[int] = mapped_column(BigInteger)
    delta_cents: Mapped[int] = mapped_column(BigInteger)
    movement_type: Mapped[str] = mapped_column(String(20))
