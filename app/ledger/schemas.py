"""Revenue events in, movements and ARR out."""

from datetime import date

from pydantic import BaseModel, Field, model_validator

from app.batch import BatchItems, EventCounts
from app.money import Money, NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import IsoDate, Label, QueryIn, StrictIn
from app.types import MovementType, RecordId


class RevenueEventIn(StrictIn):
    """The customer's new ARR for `product` from `effective_date` on; 0 ends the product."""

    id: RecordId = Field(description="Your id for this event; re-posting it is a harmless duplicate.")
    customer: RecordId
    product: Label = Field(description="Product or plan name; ARR is tracked per product.")
    effective_date: IsoDate
    arr: NonNegativeMoney = Field(description="Annual recurring revenue from this date on (MRR = ARR / 12).")


class RevenueEventBatchIn(StrictIn):
    """`POST /v1/revenue-events` body."""

    events: BatchItems[RevenueEventIn]


class EventBatchResult(EventCounts):
    """What an event batch did: new events stored, and re-posted ones recognised."""


class MovementOut(BaseModel):
    """A derived ARR movement. New, reactivation and churn are whole-customer (product null)."""

    customer: str
    effective_date: date
    type: MovementType
    product: str | None
    amount: Money


class MovementQuery(ListQuery):
    """Filters of `GET /v1/movements`."""

    start: IsoDate | None = Field(None, description="First effective date (inclusive).")
    end: IsoDate | None = Field(None, description="Last effective date (inclusive).")
    type: MovementType | None = None
    customer: str | None = None
    product: str | None = Field(None, description="Only this product's part of each movement.")

    @model_validator(mode="after")
    def _range_in_order(self) -> "MovementQuery":
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self


class ArrQuery(QueryIn):
    """`?as_of=` of `GET /v1/customers/{id}/arr` (default: today, UTC)."""

    as_of: IsoDate | None = None


class CustomerArrOut(BaseModel):
    """A customer's ARR on a date: the total and each product with ARR."""

    customer: str
    as_of: date
    total: Money
    mrr: Money
    products: dict[str, Money]
