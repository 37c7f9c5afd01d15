"""Stripe in (SPEC §11): a verified Stripe subscription event becomes revenue events, posted like the API's.

Each `customer.subscription.created|updated|deleted` event gives, for every product its items name, the customer's
new ARR for that product from the event's date on; `ingest.ingest_revenue_events` then stores them exactly as
`POST /v1/revenue-events` does (duplicates, conflicts, stub customers, the ledger rebuild).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from stripe import SignatureVerificationError, WebhookSignature

from app import formulas, records
from app.errors import AppError, InvalidInput
from app.ledger import ingest
from app.ledger.schemas import EventBatchResult, RevenueEventIn
from app.ledger.stripe_schemas import (
    StripeEventIn,
    StripeEventResult,
    StripeItem,
    StripePreviousAttributes,
    StripeRef,
    StripeRevenueEvent,
    StripeSubscription,
)
from app.models import RevenueEvent
from app.money import MAX_MONEY
from app.types import RecordId

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
# A signature older than this is refused (Stripe's own default): a captured request cannot be replayed later.
TOLERANCE_SECONDS = 300
# Statuses whose items are recurring revenue. Trials, unpaid first invoices (incomplete), unpaid and paused
# subscriptions bill nothing; `past_due` is still revenue while Stripe retries the payment.
PAYING_STATUSES = frozenset({"active", "past_due"})
# Stripe amounts are in the currency's minor unit; these currencies have none or three decimals
# (https://docs.stripe.com/currencies#zero-decimal). Every other currency has two.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
ID_PREFIX = "stripe"
_OBJECT = ("body", "data", "object")
_CUSTOMER_ID = TypeAdapter(RecordId)


class StripeNotConfigured(AppError):
    status, title, slug = 404, "Not Found", "stripe-not-configured"


class BadSignature(AppError):
    status, title, slug = 400, "Bad Request", "bad-signature"


def verify_event(payload: bytes, signature: str | None, *, secret: str | None) -> StripeEventIn:
    """The event in `payload`, once `signature` (the Stripe-Signature header) proves Stripe sent it recently.

    Verified by the `stripe` package over the raw body, as Stripe signs it; nothing is parsed before.
    """
    if secret is None:
        raise StripeNotConfigured(
            "Stripe ingest is off: set CSROI_STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)."
        )
    if not signature:
        raise BadSignature("The Stripe-Signature header is missing: this route takes events signed by Stripe.")
    try:
        text = payload.decode("utf-8")
        WebhookSignature.verify_header(text, signature, secret, TOLERANCE_SECONDS)
    except (SignatureVerificationError, UnicodeDecodeError) as exc:
        reason = exc.user_message if isinstance(exc, SignatureVerificationError) else "the body is not UTF-8"
        raise BadSignature(
            f"The Stripe-Signature header does not verify with CSROI_STRIPE_WEBHOOK_SECRET ({reason}); "
            f"signatures older than {TOLERANCE_SECONDS} seconds are refused."
        ) from None
    # Parsed from text, not bytes: a JSON error on bytes would read as "not sent as JSON" (a 415, app.errors).
    return _parse(StripeEventIn, text, ("body",))


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: Any, where: tuple[str | int, ...]) -> M:
    """`data` (JSON text, or already parsed) as `model`; a 422 naming each bad field under `where` otherwise."""
    try:
        if isinstance(data, str):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        located = [{**error, "loc": (*where, *error["loc"])} for error in exc.errors(include_url=False)]
        raise InvalidInput(located) from None


def ingest_stripe_event(session: Session, event: StripeEventIn, *, currency: str) -> StripeEventResult:
    """Post the revenue events of a subscription event (other types are ignored); the answer says what happened.

    Stripe retries an event it got no 2xx for, under the same id: the same revenue event ids, so duplicates.
    """
    if event.type not in SUBSCRIPTION_EVENTS:
        detail = f"csroi reads only {', '.join(SUBSCRIPTION_EVENTS)}; {event.type} was ignored, nothing written."
        return _result(event, detail, ignored=True)
    events = revenue_events(event, currency=currency)
    # The customers' row locks first (as the ingest takes them): a concurrent delivery for them commits before the
    # look-up for later Stripe events, so a racing newer event is seen (PostgreSQL; SQLite has one writer anyway).
    customer_ids = sorted({e.customer for e in events})
    records.ensure_customers(session, customer_ids)
    ingest.lock_customers(session, customer_ids)
    later = _superseded(session, events, created=event.created)
    counts = ingest.ingest_revenue_events(session, [e for e in events if e.id not in later])
    customers = ", ".join(dict.fromkeys(e.customer for e in events))
    detail = (
        f"{len(events)} revenue event(s) for {customers} from {events[0].effective_date}: {counts.accepted} "
        f"accepted, {counts.duplicates} duplicate(s), {len(later)} superseded by a later Stripe event."
        if events
        else "The subscription has no items: nothing to write."
    )
    return _result(event, detail, counts=counts, superseded=len(later), events=events)


def _result(
    event: StripeEventIn,
    detail: str,
    *,
    ignored: bool = False,
    counts: EventBatchResult | None = None,
    superseded: int = 0,
    events: Sequence[RevenueEventIn] = (),
) -> StripeEventResult:
    return StripeEventResult(
        event=event.id,
        type=event.type,
        ignored=ignored,
        detail=detail,
        accepted=counts.accepted if counts else 0,
        duplicates=counts.duplicates if counts else 0,
        superseded=superseded,
        revenue_events=[StripeRevenueEvent(**e.model_dump()) for e in events],
    )


# --- from a subscription to revenue events (no database) ------------------------------------------------------


@dataclass(frozen=True)
class _Change:
    """One product's new ARR for one customer; `moved` for the customer the subscription was mapped to before."""

    customer: str
    product: str
    arr: Decimal
    moved: bool = False


def revenue_events(event: StripeEventIn, *, currency: str) -> list[RevenueEventIn]:
    """The revenue events a `customer.subscription.*` event stands for (SPEC §11), one per product its items name.

    A product's ARR is the sum over its licensed items of unit amount × quantity × periods per year, in major
    units, while the subscription is active or past due; 0 otherwise, after a deletion, and for a product that only
    the update's previous items name (an item removed). All on one day: the current period's start (a deletion: the
    day it ended or was canceled). InvalidInput (a 422, nothing written) when it cannot be read exactly: another
    currency than `currency`, a price without a unit amount, a non-recurring price, more items than the event holds.
    """
    subscription = _parse(StripeSubscription, event.data.object, _OBJECT)
    previous = _parse(
        StripePreviousAttributes, event.data.previous_attributes or {}, ("body", "data", "previous_attributes")
    )
    errors = _refusals(subscription, currency)
    customer = _customer(subscription, errors)
    paying = event.type != "customer.subscription.deleted" and subscription.status in PAYING_STATUSES
    arr = _arr_by_product(subscription, paying=paying, exponent=_exponent(currency), errors=errors)
    if errors:
        raise InvalidInput(errors)
    products = list(arr)
    products += [p for p in _previous_products(previous) if p not in arr]
    changes = [_Change(customer, product, arr.get(product, Decimal(0))) for product in products]
    before = _previous_customer(subscription, previous)
    if before is not None and before != customer:
        changes += [_Change(before, product, Decimal(0), moved=True) for product in products]
    day = _effective_day(event, subscription)
    return [
        RevenueEventIn(
            id=f"{ID_PREFIX}:{event.created}:{event.id}:{c.product}" + (":moved" if c.moved else ""),
            customer=c.customer,
            product=c.product,
            effective_date=day,
            arr=c.arr,
        )
        for c in changes
    ]


def _refusals(subscription: StripeSubscription, currency: str) -> list[dict[str, Any]]:
    """Why the subscription's items cannot be turned into ARR exactly, one error per item and reason."""
    errors: list[dict[str, Any]] = []
    if subscription.items.has_more:
        errors.append(
            _error(
                ("items", "has_more"),
                "has_more",
                "the event carries only the first of this subscription's items, so its ARR is unknown; post this "
                "customer's revenue through POST /v1/revenue-events",
            )
        )
    for index, item in enumerate(subscription.items.data):
        price, where = item.price, ("items", "data", index, "price")
        if price.currency.upper() != currency:
            message = f"{price.currency.upper()} is not CSROI_CURRENCY ({currency}): csroi keeps one currency"
            errors.append(_error((*where, "currency"), "currency", message))
        if price.recurring is None:
            errors.append(_error((*where, "recurring"), "missing", "a subscription item's price must be recurring"))
        elif price.recurring.usage_type == "licensed" and _unit_amount(item) is None:
            message = "the price has no unit amount (tiered pricing), so its ARR is unknown; post it as revenue events"
            errors.append(_error((*where, "unit_amount"), "tiered_price", message))
    return errors


def _error(where: tuple[str | int, ...], kind: str, message: str) -> dict[str, Any]:
    return {"loc": (*_OBJECT, *where), "msg": message, "type": kind}


def _customer(subscription: StripeSubscription, errors: list[dict[str, Any]]) -> str:
    """`metadata.csroi_customer` when set, else the Stripe customer id (SPEC §11)."""
    mapped = subscription.metadata.get("csroi_customer", "").strip()
    if not mapped:
        return _id(subscription.customer)
    try:
        return _CUSTOMER_ID.validate_python(mapped)
    except ValidationError as exc:
        errors += _located_errors(exc, ("metadata", "csroi_customer"))
        return mapped


def _located_errors(exc: ValidationError, where: tuple[str | int, ...]) -> list[dict[str, Any]]:
    return [{**error, "loc": (*_OBJECT, *where)} for error in exc.errors(include_url=False)]


def _previous_customer(subscription: StripeSubscription, previous: StripePreviousAttributes) -> str | None:
    """The customer the subscription was mapped to before an update that changed `metadata.csroi_customer`."""
    if previous.metadata is None or "csroi_customer" not in previous.metadata:
        return None
    before = (previous.metadata["csroi_customer"] or "").strip() or _id(subscription.customer)
    try:
        return _CUSTOMER_ID.validate_python(before)
    except ValidationError:
        return None  # an id csroi refused then: nothing was written under it


def _id(value: str | StripeRef) -> str:
    return value.id if isinstance(value, StripeRef) else value


def _previous_products(previous: StripePreviousAttributes) -> list[str]:
    items = previous.items.data if previous.items else []
    return list(dict.fromkeys(_id(item.price.product) for item in items))


def _exponent(currency: str) -> int:
    """Decimals of the currency's minor unit, as Stripe counts amounts."""
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def _unit_amount(item: StripeItem) -> Decimal | None:
    """The price of one unit in minor units: `unit_amount_decimal` (exact, may have decimals), else `unit_amount`."""
    price = item.price
    if price.billing_scheme == "tiered":
        return None
    if price.unit_amount_decimal is not None:
        return Decimal(price.unit_amount_decimal)
    return None if price.unit_amount is None else Decimal(price.unit_amount)


def _arr_by_product(
    subscription: StripeSubscription, *, paying: bool, exponent: int, errors: list[dict[str, Any]]
) -> dict[str, Decimal]:
    """Each product's ARR over the subscription's licensed items (metered items are usage, not ARR)."""
    arr: dict[str, Decimal] = {}
    for index, item in enumerate(subscription.items.data):
        product = _id(item.price.product)
        arr.setdefault(product, Decimal(0))
        recurring, unit = item.price.recurring, _unit_amount(item)
        if not paying or recurring is None or recurring.usage_type == "metered" or unit is None:
            continue
        quantity = 1 if item.quantity is None else item.quantity
        arr[product] += formulas.subscription_arr(
            unit.scaleb(-exponent), quantity, interval=recurring.interval, interval_count=recurring.interval_count
        )
        if arr[product] >= MAX_MONEY:
            message = f"the ARR of {product} would be {arr[product]:,}, above csroi's limit of 10^12"
            errors.append(_error(("items", "data", index, "quantity"), "arr_too_large", message))
    return arr


def _effective_day(event: StripeEventIn, subscription: StripeSubscription) -> date:
    """The current period's start (subscription-level before API 2025-03-31, item-level since); for a deletion the
    moment it ended (else was canceled); the event's own time when the object says none. A UTC day."""
    if event.type == "customer.subscription.deleted":
        moments = [subscription.ended_at, subscription.canceled_at]
    else:
        starts = [i.current_period_start for i in subscription.items.data if i.current_period_start is not None]
        moments = [subscription.current_period_start, min(starts, default=None)]
    moment = next((m for m in moments if m is not None), event.created)
    return datetime.fromtimestamp(moment, UTC).date()


# --- Stripe delivers events out of order ----------------------------------------------------------------------


def _superseded(session: Session, events: Sequence[RevenueEventIn], *, created: int) -> set[str]:
    """Ids among `events`, not stored yet, whose customer, product and date hold a Stripe event created later.

    Every change within a billing period is dated at the period's start, and for one customer, product and date the
    revenue event received last wins (SPEC §3). Stripe does not deliver in order (a retry may come after a later
    event), so a late-delivered older event must not overwrite the newer state: it is skipped. Its retries stay
    skipped; an event already stored is left to the ingest, which counts it a duplicate. One statement.
    """
    if not events:
        return set()
    table = RevenueEvent.__table__
    rows = session.execute(
        select(table.c.id, table.c.customer_id, table.c.product).where(
            table.c.customer_id.in_({e.customer for e in events}),
            table.c.product.in_({e.product for e in events}),
            table.c.effective_date == events[0].effective_date,
            table.c.id.startswith(f"{ID_PREFIX}:"),
        )
    ).all()
    stored = {row.id for row in rows}
    newer = {(row.customer_id, row.product) for row in rows if _created_of(row.id) > created}
    return {e.id for e in events if e.id not in stored and (e.customer, e.product) in newer}


def _created_of(event_id: str) -> int:
    """The Stripe `created` second a revenue event id carries (`stripe:<created>:...`); -1 for other ids."""
    parts = event_id.split(":")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else -1
