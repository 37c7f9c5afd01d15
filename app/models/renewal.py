"""Renewals: a customer's contract coming up for renewal, and how it closed."""

from datetime import date, datetime
from decimal import Decimal
from typing import get_args

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, one_of, utcnow
from app.money import Cents
from app.types import RenewalStatus

# The fields depend on the status (SPEC §3): an open renewal has no outcome yet; a renewed one has its booked
# ARR and close date; a churned one booked nothing. Pydantic refuses bad bodies first; this keeps the table
# honest against any other writer.
_STATUS_FIELDS = (
    "(status = 'open' AND booked_arr IS NULL AND closed_on IS NULL)"
    " OR (status = 'renewed' AND booked_arr IS NOT NULL AND closed_on IS NOT NULL)"
    " OR (status = 'churned' AND booked_arr = 0 AND closed_on IS NOT NULL)"
)


class Renewal(Base):
    """A renewal, keyed by the CRM's id and replaced whole by every upsert."""

    __tablename__ = "renewal"
    __table_args__ = (
        CheckConstraint(one_of("status", get_args(RenewalStatus)), name="status"),
        CheckConstraint("arr_up_for_renewal > 0", name="arr_up_for_renewal"),
        CheckConstraint("booked_arr IS NULL OR booked_arr >= 0", name="booked_arr"),
        CheckConstraint(_STATUS_FIELDS, name="status_fields"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey("customer.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    arr_up_for_renewal: Mapped[Decimal] = mapped_column(Cents)
    status: Mapped[str] = mapped_column(String(10))
    booked_arr: Mapped[Decimal | None] = mapped_column(Cents)
    closed_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
