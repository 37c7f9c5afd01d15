"""Webhook subscription bodies, read views, and the delivery log (SPEC §11)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.errors import worded
from app.pagination import ListQuery
from app.schemas import RecordIn
from app.types import WEBHOOK_EVENT_TYPES, DeliveryStatus, WebhookEventType

_URL = worded(r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\x00/?#]+[^\s\x00]*$", "a webhook URL is http:// or https:// and a host")
WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2000, pattern=_URL)]
_SECRET = worded(r"^[\x21-\x7e]{16,200}$", "a secret is 16 to 200 printable ASCII characters without spaces")
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200, pattern=_SECRET)]


class WebhookIn(RecordIn):
    """A subscription: where to POST which events. Without `secret`, a new subscription gets a generated one (shown
    once, in this answer) and an existing one keeps its own; send `secret` to set or rotate it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"url": "https://hooks.example.com/csroi", "events": ["revenue.churned", "customer.at_risk"]},
                {
                    "url": "https://crm.example.com/webhooks/csroi",
                    "events": ["renewal.due"],
                    "secret": "whsec_my-own-secret-of-32-chars-min",
                },
            ]
        }
    )

    url: WebhookUrl = Field(
        description="Where deliveries are POSTed: http:// or https://, up to 2000 characters. Refused (422) when "
        "its host resolves to a loopback or private address, unless the service runs with "
        "CSROI_WEBHOOK_ALLOW_PRIVATE=true. Redirects are not followed."
    )
    events: list[WebhookEventType] = Field(
        min_length=1,
        max_length=len(WEBHOOK_EVENT_TYPES),
        description="The event types to deliver (at least one; a type listed twice counts once): "
        + ", ".join(f"`{t}`" for t in WEBHOOK_EVENT_TYPES)
        + ".",
    )
    secret: Secret | None = Field(
        None,
        description="The HMAC-SHA256 key of the `Csroi-Signature` header: 16 to 200 printable ASCII characters. "
        "Omitted: generated for a new subscription (and shown once, in the answer), kept for an existing one.",
    )

    @field_validator("events")
    @classmethod
    def _once_each(cls, value: list[WebhookEventType]) -> list[WebhookEventType]:
        return list(dict.fromkeys(value))


class WebhookOut(BaseModel):
    """A subscription as stored (never its secret, except once: in the answer that generated it)."""

    id: str = Field(description="The subscription's id, as given in the path.")
    url: str = Field(description="Where deliveries are POSTed.")
    events: list[WebhookEventType] = Field(description="The event types delivered to it.")
    secret: str | None = Field(
        None,
        description="The generated signing secret, in the answer to the PUT that generated it and never again "
        "(store it now); null otherwise.",
    )
    created_at: datetime = Field(description="When the subscription was created, UTC.")
    updated_at: datetime = Field(description="When it was last changed, UTC.")


class AttemptOut(BaseModel):
    """One HTTP attempt of a delivery."""

    at: datetime = Field(description="When the attempt was made, UTC.")
    status_code: int | None = Field(description="The receiver's HTTP status; null when no answer came.")
    error: str | None = Field(description="Why it failed without a status (timeout, refused address…); else null.")
    duration_ms: int = Field(description="How long the attempt took, in milliseconds.")


class DeliveryOut(BaseModel):
    """One event's delivery to one subscription, with every attempt made."""

    id: int = Field(description="The delivery's number `n` (`POST /v1/webhooks/{id}/deliveries/{n}/retry`).")
    event: str = Field(description="The event's id (`id` in the body): receivers dedupe on it.")
    type: WebhookEventType = Field(description="The event type.")
    created: datetime = Field(description="When the event was written, UTC (`created` in the body).")
    data: Any = Field(description="The event's `data`, as sent.")
    status: DeliveryStatus = Field(
        description="pending: waiting for its next attempt; delivered: a 2xx answered; failed: no 2xx within 24 h "
        "of retries."
    )
    attempts: int = Field(description="How many attempts were made.")
    next_attempt_at: datetime | None = Field(description="When the next attempt is due, UTC; null once done.")
    delivered_at: datetime | None = Field(description="When a 2xx answered, UTC; null until then.")
    last_status_code: int | None = Field(description="The HTTP status of the latest attempt; null without one.")
    last_error: str | None = Field(description="The latest attempt's error (or `HTTP 500`…); null when delivered.")
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first.")


class DeliveryListQuery(ListQuery):
    """A subscription's deliveries, newest first."""

    status: DeliveryStatus | None = Field(None, description="Only deliveries in this status.", examples=["failed"])
