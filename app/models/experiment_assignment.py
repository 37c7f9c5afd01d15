"""A customer's arm in an experiment: written once by `assign`, never moved (SPEC §9)."""

from datetime import date, datetime
from typing import get_args

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, one_of, utcnow
from app.types import Arm


class ExperimentAssignment(Base):
    """One enrolled customer: its arm, enrollment day (its window's first day) and stratum."""

    __tablename__ = "experiment_assignment"
    __table_args__ = (CheckConstraint(one_of("arm", get_args(Arm)), name="arm"),)

    experiment_id: Mapped[str] = mapped_column(String(255), ForeignKey("experiment.id"), primary_key=True)
    # Indexed: creating an intervention looks up the customer's holdout assignments (the 409 check).
    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey("customer.id"), primary_key=True, index=True)
    arm: Mapped[str] = mapped_column(String(10))
    enrolled_on: Mapped[date] = mapped_column(Date)
    # The stratum it was drawn in, e.g. `band=red|tier=high_touch` (SPEC §9: stratified per assign call).
    stratum: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
