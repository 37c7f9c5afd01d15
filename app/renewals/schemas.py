"""Renewal bodies, read view and list query."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.batch import BatchItems
from app.money import NonNegativeMoney, PositiveMoney
from app.pagination import ListQuery
from app.schemas import Filter, IsoDate, RecordIn, StrictIn
from app.types import RecordId, RenewalStatus


class RenewalIn(RecordIn):
    """A renewal. Every PUT or batch item replaces the whole record: its fields depend on each other."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": "cus-0001",
                    "due_date": "2026-06-30",
                    "arr_up_for_renewal": 24000,
                    "status": "renewed",
                    "booked_arr": 26400,
                    "closed_on": "2026-06-12",
                },
                {"customer": "cus-0002", "due_date": "2026-09-30", "arr_up_for_renewal": "12000.00", "status": "open"},
            ]
        }
    )

    customer: RecordId = Field(description="Customer id; an unknown one is created with only its id.")
    due_date: IsoDate = Field(description="Day the contract is up for renewal; the renewals metric buckets by it.")
    arr_up_for_renewal: PositiveMoney = Field(
        description="ARR of the contract being renewed, in currency units (2 decimals)."
    )
    status: RenewalStatus = Field(description="open until decided, then renewed or churned.")
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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "ren-2026-0001",
                    "customer": "cus-0001",
                    "due_date": "2026-06-30",
                    "arr_up_for_renewal": 24000,
                    "status": "open",
                }
            ]
        }
    )

    id: RecordId = Field(description="Your CRM's renewal (opportunity) id; a known id replaces that renewal.")


class RenewalBatchIn(StrictIn):
    """`POST /v1/renewals/batch` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "renewals": [
                        {
                            "id": "ren-2026-0001",
                            "customer": "cus-0001",
                            "due_date": "2026-06-30",
                            "arr_up_for_renewal": 24000,
                            "status": "renewed",
                            "booked_arr": 26400,
                            "closed_on": "2026-06-12",
                        },
                        {
                            "id": "ren-2026-0002",
                            "customer": "cus-0002",
                            "due_date": "2026-07-31",
                            "arr_up_for_renewal": 6000,
                            "status": "churned",
                            "closed_on": "2026-07-20",
                        },
                    ]
                }
            ]
        }
    )

    renewals: BatchItems[RenewalBatchItem] = Field(
        description="1 to 10,000 renewals (CSROI_MAX_BATCH_ITEMS; more is a 413), all or nothing; "
        "the last item with an id wins."
    )


class RenewalOut(BaseModel):
    """A renewal as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The renewal's id.")
    customer: str = Field(validation_alias="customer_id", description="Customer id.")
    due_date: date = Field(description="Day the contract is up for renewal.")
    arr_up_for_renewal: PositiveMoney = Field(description="ARR being renewed, in currency units (2 decimals).")
    status: RenewalStatus = Field(description="open, renewed or churned.")
    booked_arr: NonNegativeMoney | None = Field(
        description="ARR booked at renewal (above arr_up_for_renewal when it expanded); 0 when "
        "churned; null while open."
    )
    closed_on: date | None = Field(description="Day it was renewed or churned; null while open.")
    created_at: datetime = Field(description="When the record was first stored (UTC).")
    updated_at: datetime = Field(description="When the record was last written (UTC).")


class RenewalListQuery(ListQuery):
    """Filters of `GET /v1/renewals` (date bounds inclusive)."""

    customer: Filter | None = Field(None, description="Only this customer's renewals (customer id).")
    status: RenewalStatus | None = Field(None, description="Only renewals with this status.", examples=["open"])
    due_from: IsoDate | None = Field(
        None, description="Only renewals due on or after this day.", examples=["2026-01-01"]
    )
    due_to: IsoDate | None = Field(
        None, description="Only renewals due on or before this day.", examples=["2026-12-31"]
    )
    closed_from: IsoDate | None = Field(None, description="Only renewals closed on or after this day.")
    closed_to: IsoDate | None = Field(None, description="Only renewals closed on or before this day.")

    @model_validator(mode="after")
    def _ranges_in_order(self) -> "RenewalListQuery":
        if self.due_from and self.due_to and self.due_to < self.due_from:
            raise ValueError("due_to is before due_from")
        if self.closed_from and self.closed_to and self.closed_to < self.closed_from:
            raise ValueError("closed_to is before closed_from")
        return self
