"""Revenue events in, movements and ARR out."""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.batch import BatchItems, EventCounts
from app.money import Money, NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import Filter, IsoDate, Label, QueryIn, StrictIn
from app.types import MovementType, RecordId


class RevenueEventIn(StrictIn):
    """The customer's new ARR for `product` from `effective_date` on; 0 ends the product."""

    id: RecordId = Field(description="Your id for this event; re-posting it is a harmless duplicate.")
    customer: RecordId = Field(description="Customer id; an unknown one is created with only its id.")
    product: Label = Field(description="Product or plan name; ARR is tracked per product.")
    effective_date: IsoDate = Field(description="Day the new ARR takes effect (YYYY-MM-DD).")
    arr: NonNegativeMoney = Field(description="Annual recurring revenue from this date on (MRR = ARR / 12).")


class RevenueEventBatchIn(StrictIn):
    """`POST /v1/revenue-events` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "id": "rev-1001",
                            "customer": "cus-0001",
                            "product": "platform",
                            "effective_date": "2026-01-01",
                            "arr": 24000,
                        },
                        {
                            "id": "rev-1002",
                            "customer": "cus-0001",
                            "product": "analytics",
                            "effective_date": "2026-04-01",
                            "arr": "6000.00",
                        },
                    ]
                }
            ]
        }
    )

    events: BatchItems[RevenueEventIn] = Field(
        description="1 to 10,000 events (CSROI_MAX_BATCH_ITEMS; more is a 413), all or nothing; "
        "movements are derived from them per customer and product."
    )


class EventBatchResult(EventCounts):
    """What an event batch did: new events stored, and re-posted ones recognised."""


class MovementOut(BaseModel):
    """A derived ARR movement. New, reactivation and churn are whole-customer (product null)."""

    customer: str = Field(description="Customer id.")
    effective_date: date = Field(description="Day the change took effect.")
    type: MovementType = Field(
        description="new (first ARR ever), reactivation (back from 0), upsell (more of a product), cross_sell "
        "(a new product), downsell (less, above 0) or churn (to 0)."
    )
    product: str | None = Field(description="The product for upsell, cross_sell and downsell; null for the others.")
    amount: Money = Field(
        description="Size of the change in currency units (2 decimals), always positive: the new total for new and "
        "reactivation, the old total for churn, the increase or decrease for the others."
    )


class MovementQuery(ListQuery):
    """Filters of `GET /v1/movements`."""

    start: IsoDate | None = Field(None, description="First effective date (inclusive).", examples=["2026-01-01"])
    end: IsoDate | None = Field(None, description="Last effective date (inclusive).", examples=["2026-12-31"])
    type: MovementType | None = Field(None, description="Only movements of this type.", examples=["churn"])
    customer: Filter | None = Field(None, description="Only this customer's movements (customer id).")
    product: Filter | None = Field(None, description="Only this product's part of each movement.")

    @model_validator(mode="after")
    def _range_in_order(self) -> "MovementQuery":
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self


class ArrQuery(QueryIn):
    """`?as_of=` of `GET /v1/customers/{id}/arr` (default: today, UTC)."""

    as_of: IsoDate | None = Field(
        None,
        description="Day to read ARR on (after every change dated on or before it); default today, UTC.",
        examples=["2026-03-31"],
    )


class CustomerArrOut(BaseModel):
    """A customer's ARR on a date: the total and each product with ARR."""

    customer: str = Field(description="Customer id.")
    as_of: date = Field(description="The day read.")
    total: Money = Field(description="ARR on that day over all products, in currency units (2 decimals).")
    mrr: Money = Field(description="Monthly recurring revenue = total / 12, rounded to cents.")
    products: dict[str, Money] = Field(description="ARR per product name, only products with ARR above 0.")
