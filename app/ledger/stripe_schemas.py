"""Stripe's webhook event as far as csroi reads it, and what csroi answers Stripe (SPEC §11, Stripe in).

Stripe's objects carry dozens of fields and gain more with every API version, so these models ignore the fields
they do not name (unlike csroi's own bodies, which refuse unknown fields): only what the revenue events are made
of is read and validated.
"""

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, WithJsonSchema

from app.batch import EventCounts
from app.errors import worded
from app.money import Money
from app.types import ID_PATTERN

# Stripe's ids (evt_…, sub_…, si_…, cus_…, prod_…) are letters, digits and underscores; custom product ids may use
# the other characters of a csroi id. At most 100 characters, so a revenue event id built from two of them fits.
StripeId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=ID_PATTERN)]
# Unix seconds, from 1970 to the last second of 9998 (csroi's last date).
Timestamp = Annotated[StrictInt, Field(ge=0, le=253_370_764_799)]
CURRENCY_PATTERN = worded(r"^[A-Za-z]{3}$", "a currency is a three-letter ISO 4217 code, e.g. usd")
AMOUNT_DECIMAL_PATTERN = worded(
    r"^\d{1,15}(\.\d{1,12})?$", "an amount of minor units: digits, at most 12 decimals after a point, e.g. 4900.5"
)
SubscriptionStatus = Literal[
    "incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"
]


class StripeIn(BaseModel):
    """Base of Stripe's objects: fields csroi does not read are ignored, not refused."""

    model_config = ConfigDict(extra="ignore")


class StripeRef(StripeIn):
    """An expanded Stripe object where an id is usual (a product, a customer): only its id is read."""

    id: StripeId = Field(description="The object's Stripe id.")


class StripeRecurring(StripeIn):
    """How often a recurring price bills."""

    interval: Literal["day", "week", "month", "year"] = Field(description="The billing period's unit.")
    interval_count: StrictInt = Field(
        1, ge=1, le=1095, description="Periods of `interval` between bills: 3 with `month` bills every quarter."
    )
    usage_type: Literal["licensed", "metered"] = Field(
        "licensed", description="`licensed` bills `quantity` units; `metered` bills usage, which is not ARR here."
    )


class StripePrice(StripeIn):
    """A subscription item's price."""

    product: StripeId | StripeRef = Field(description="The product (its id, or the expanded product): csroi's product.")
    currency: Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)] = Field(
        description="ISO 4217 code, lower case in Stripe; must be CSROI_CURRENCY."
    )
    unit_amount: Annotated[StrictInt, Field(ge=0, le=10**15)] | None = Field(
        None, description="Price of one unit per billing period, in the currency's minor unit (cents; yen for JPY)."
    )
    unit_amount_decimal: Annotated[str, StringConstraints(pattern=AMOUNT_DECIMAL_PATTERN, max_length=28)] | None = (
        Field(None, description="The same price as a decimal string of minor units, read first when present.")
    )
    recurring: StripeRecurring | None = Field(None, description="The billing period; a subscription price has one.")
    billing_scheme: Literal["per_unit", "tiered"] = Field(
        "per_unit", description="`tiered` prices carry no unit amount: csroi cannot derive their ARR."
    )


class StripeItem(StripeIn):
    """One subscription item: a price and a quantity."""

    id: StripeId | None = Field(None, description="The subscription item's id (si_…); not read.")
    price: StripePrice = Field(description="The item's price.")
    quantity: Annotated[StrictInt, Field(ge=0, le=10**9)] | None = Field(
        None, description="Units subscribed (absent: 1); Stripe leaves it out for metered prices, which are not ARR."
    )
    current_period_start: Timestamp | None = Field(
        None, description="Start of the item's billing period (Unix seconds; API versions from 2025-03-31)."
    )


class StripeItems(StripeIn):
    """A subscription's items, as Stripe embeds the list in an event."""

    data: list[StripeItem] = Field(max_length=100, description="The items Stripe sent (at most 10 in an event).")
    has_more: StrictBool = Field(
        False, description="True when the subscription has more items than the event carries: refused, as unknowable."
    )


# A monthly subscription of 5 seats at $49.00 for the csroi customer cus-0001 (an example in the OpenAPI document).
SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "id": "sub_1QabcXyz",
    "object": "subscription",
    "customer": "cus_QabcXyz",
    "status": "active",
    "metadata": {"csroi_customer": "cus-0001"},
    "current_period_start": 1767225600,
    "items": {
        "object": "list",
        "data": [
            {
                "id": "si_QabcXyz",
                "quantity": 5,
                "price": {
                    "id": "price_1QabcXyz",
                    "product": "prod_Platform",
                    "currency": "usd",
                    "unit_amount": 4900,
                    "recurring": {"interval": "month", "interval_count": 1},
                },
            }
        ],
        "has_more": False,
    },
}


class StripeSubscription(StripeIn):
    """The subscription a `customer.subscription.*` event is about (the fields csroi reads)."""

    model_config = ConfigDict(json_schema_extra={"examples": [SUBSCRIPTION_EXAMPLE]})

    id: StripeId | None = Field(None, description="The subscription's id (sub_…); not read.")
    object: Literal["subscription"] = Field("subscription", description="Always `subscription`.")
    customer: StripeId | StripeRef = Field(description="The Stripe customer (cus_…): the csroi customer by default.")
    status: SubscriptionStatus = Field(
        "active", description="Only `active` and `past_due` subscriptions are ARR; every other status is ARR 0."
    )
    metadata: dict[str, str] = Field(
        default_factory=dict, description="`csroi_customer`, when set, is the csroi customer id this subscription is."
    )
    items: StripeItems = Field(description="The subscription's items.")
    current_period_start: Timestamp | None = Field(
        None, description="Start of the current billing period (Unix seconds; API versions before 2025-03-31)."
    )
    ended_at: Timestamp | None = Field(None, description="When the subscription ended (Unix seconds).")
    canceled_at: Timestamp | None = Field(None, description="When the subscription was canceled (Unix seconds).")


class StripePreviousPrice(StripeIn):
    """A price as it was before an update (only its product is read)."""

    product: StripeId | StripeRef = Field(description="The product the item was priced in.")


class StripePreviousItem(StripeIn):
    """An item as it was before an update."""

    price: StripePreviousPrice = Field(description="The item's price before the update.")


class StripePreviousItems(StripeIn):
    """The subscription's items before an update."""

    data: list[StripePreviousItem] = Field(max_length=100, description="Every item before the update.")


class StripePreviousAttributes(StripeIn):
    """What a `customer.subscription.updated` event changed, with the values from before."""

    items: StripePreviousItems | None = Field(
        None, description="The items before the update: a product no current item has drops to ARR 0."
    )
    metadata: dict[str, str | None] | None = Field(
        None, description="Changed metadata keys with their values before (null: the key was not set)."
    )


_OBJECT_SCHEMA = WithJsonSchema(
    {
        "anyOf": [{"$ref": "#/components/schemas/StripeSubscription"}, {"type": "object"}],
        "description": "The object the event is about: a subscription for `customer.subscription.*` events.",
    }
)
_PREVIOUS_SCHEMA = WithJsonSchema(
    {
        "anyOf": [{"$ref": "#/components/schemas/StripePreviousAttributes"}, {"type": "null"}],
        "description": "On `*.updated` events: the changed attributes with their values from before.",
    }
)


class StripeEventData(StripeIn):
    """The event's object, and for updates what changed."""

    object: Annotated[dict[str, Any], _OBJECT_SCHEMA] = Field(description="The object the event is about.")
    previous_attributes: Annotated[dict[str, Any] | None, _PREVIOUS_SCHEMA] = Field(
        None, description="On updates: the changed attributes, as they were."
    )


class StripeEventIn(StripeIn):
    """A Stripe webhook event, as Stripe posts it (the fields csroi reads)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "evt_1QabcXyz",
                    "object": "event",
                    "type": "customer.subscription.created",
                    "created": 1767225600,
                    "data": {"object": SUBSCRIPTION_EXAMPLE},
                }
            ]
        }
    )

    id: StripeId = Field(description="The event's id (evt_…); Stripe's retries repeat it.")
    type: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The event type; csroi reads `customer.subscription.created`, `.updated` and `.deleted`."
    )
    created: Timestamp = Field(
        0, description="When Stripe created the event (Unix seconds; Stripe always sends it, absent reads as 0)."
    )
    data: StripeEventData = Field(description="The event's payload.")


class StripeRevenueEvent(BaseModel):
    """A revenue event derived from a Stripe event (SPEC §3), as it goes into the ledger."""

    id: str = Field(description="`stripe:<event created>:<event id>:<product>`, the same for each retry of the event.")
    customer: str = Field(description="The csroi customer: `metadata.csroi_customer`, else the Stripe customer id.")
    product: str = Field(description="The price's product id.")
    effective_date: date = Field(description="The current period's start (ended or canceled day for a deletion), UTC.")
    arr: Money = Field(description="The product's new ARR: Σ unit amount × quantity × periods per year, major units.")


class StripeEventResult(EventCounts):
    """What csroi did with a Stripe event."""

    event: str = Field(description="The Stripe event's id.")
    type: str = Field(description="The Stripe event's type.")
    ignored: bool = Field(description="True when csroi does not use this event type: nothing was written.")
    detail: str = Field(description="What happened, in words.")
    superseded: int = Field(
        description="Revenue events not written because a later Stripe event for the same customer, product and "
        "date is already stored (Stripe does not deliver events in order)."
    )
    revenue_events: list[StripeRevenueEvent] = Field(description="The revenue events derived from the event.")
