"""Stripe webhook payloads in Stripe's documented shapes (the Event and Subscription objects), and their signatures.

Only the fields csroi reads are filled in, plus a few of the others Stripe always sends, so the tests also show that
unknown fields are ignored. Amounts are in minor units (cents) as Stripe sends them; times are Unix seconds.
"""

import json
import time
from datetime import UTC, date, datetime
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from stripe import WebhookSignature

SECRET = "whsec_test_5f2b0c8e1d"
URL = "/v1/integrations/stripe"


def ts(day: str) -> int:
    """Midnight UTC of an ISO day, in Unix seconds (2026-01-01 is 1767225600)."""
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp())


def price(
    product: str = "prod_core",
    unit_amount: int | None = 4900,
    *,
    interval: str = "month",
    interval_count: int = 1,
    currency: str = "usd",
    **extra: Any,
) -> dict[str, Any]:
    """A recurring Price object."""
    return {
        "id": f"price_{product}_{interval}",
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "currency": currency,
        "product": product,
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        "recurring": {"interval": interval, "interval_count": interval_count, "usage_type": "licensed"},
        **extra,
    }


def item(item_id: str, item_price: dict[str, Any], quantity: int | None = 1, **extra: Any) -> dict[str, Any]:
    """A SubscriptionItem object."""
    return {"id": item_id, "object": "subscription_item", "price": item_price, "quantity": quantity, **extra}


def subscription(
    *items: dict[str, Any],
    sub_id: str = "sub_1",
    customer: str = "cus_1",
    status: str = "active",
    period_start: str | None = "2026-01-01",
    metadata: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Subscription object (API versions before 2025-03-31 carry the period on the subscription)."""
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "currency": "usd",
        "cancel_at_period_end": False,
        "current_period_start": None if period_start is None else ts(period_start),
        "metadata": metadata or {},
        "items": {
            "object": "list",
            "data": list(items),
            "has_more": False,
            "url": f"/v1/subscription_items?s={sub_id}",
        },
        **extra,
    }


def event(
    kind: str,
    obj: dict[str, Any],
    *,
    event_id: str = "evt_1",
    created: int | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Event object; `kind` is `created`, `updated` or `deleted` for customer.subscription.*, else a full type."""
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": ts("2026-01-01") if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": kind if "." in kind else f"customer.subscription.{kind}",
        "data": data,
    }


def signature(payload: str, *, secret: str = SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send, made by the `stripe` package's own helper."""
    return WebhookSignature.generate_signature_header(payload, secret, timestamp=at or int(time.time()))


def post(client: TestClient, body: dict[str, Any], *, secret: str = SECRET, at: int | None = None) -> Response:
    """Post `body` as Stripe does: compact JSON, signed."""
    payload = json.dumps(body, separators=(",", ":"))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature(payload, secret=secret, at=at),
    }
    return client.post(URL, content=payload, headers=headers)
