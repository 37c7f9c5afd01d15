"""Renewal bodies, read view and list query."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.batch import BatchItems
from app.money import NonNegativeMoney, PositiveMoney
from app.pagination import ListQuery
from app.schemas import IsoDate, RecordIn, StrictIn
from app.types import RecordId, RenewalStatus


class RenewalIn(RecordIn):
    """A renewal. Every PUT or batch item replaces the whole record: its fields depend on each other."""

    customer: RecordId = Field(description="Customer id; an unknown one is created with only its id.")
    due_date: IsoDate
    arr_up_for_renewal: PositiveMoney
    status: RenewalStatus
    # Declared after `status`, and validated even when omitted, so each rule is reported on its own field.
    booked_arr: NonNegativeMoney | None = Field(
        None,
        validate_default=True,
        description="ARR booked at renewal: required when renewed (may exceed the amount up for renewal); "
        "0 when churned (the default); absent while open.",
    )
    closed_on: IsoDate | None = Field(
        None, validate_default=True, description="When it closed: required when renewed or churned; absent while open."
    )

    @field_validator("booked_arr")
    @classmethod
    def _booked_fits_status(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        status = info.data.get("status")  # absent when status itself was invalid: that error suffices
        if status == "renewed" and value is None:
            raise ValueError("booked_arr is required when status is renewed")
        if status == "churned":
            if value not in (None, 0):
                raise ValueError("booked_arr must be 0 when status is churned")
            return Decimal("0.00")
        if status == "open" and value is not None:
            raise ValueError("booked_arr must be absent while status is open")
        return value

    @field_validator("closed_on")
    @classmethod
    def _closed_fits_status(cls, value: date | None, info: ValidationInfo) -> date | None:
        status = info.data.get("status")
        # The cost-of-renewals metric buckets bookings by the month they closed, so a closed renewal needs it.
        if status in ("renewed", "churned") and value is None:
            raise ValueError(f"closed_on is required when status is {status}")
        if status == "open" and value is not None:
            raise ValueError("closed_on must be absent while status is open")
        return value


class RenewalBatchItem(RenewalIn):
    """A renewal in a batch: `id` is required."""

    id: RecordId


class RenewalBatchIn(StrictIn):
    """`POST /v1/renewals/batch` body."""

    renewals: BatchItems[RenewalBatchItem]


class RenewalOut(BaseModel):
    """A renewal as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    customer: str = Field(validation_alias="customer_id")
    due_date: date
    arr_up_for_renewal: PositiveMoney
    status: RenewalStatus
    booked_arr: NonNegativeMoney | None
    closed_on: date | None
    created_at: datetime
    updated_at: datetime


class RenewalListQuery(ListQuery):
    """Filters of `GET /v1/renewals` (date bounds inclusive)."""

    customer: str | None = None
    status: RenewalStatus | None = None
    due_from: IsoDate | None = None
    due_to: IsoDate | None = None
    closed_from: IsoDate | None = None
    closed_to: IsoDate | None = None

    @model_validator(mode="after")
    def _ranges_in_order(self) -> "RenewalListQuery":
        if self.due_from and self.due_to and self.due_to < self.due_from:
            raise ValueError("due_to is before due_from")
        if self.closed_from and self.closed_to and self.closed_to < self.closed_from:
            raise ValueError("closed_to is before closed_from")
        return self
