"""Stripe in over HTTP: the one /v1 route authenticated by a signature instead of an API key (SPEC §11)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.security import APIKeyHeader

from app.config import SettingsDep
from app.db import WriteSessionDep, commit_retrying
from app.errors import problem_responses
from app.ledger import stripe_ingest
from app.ledger.stripe_schemas import StripeEventIn, StripeEventResult, StripePreviousAttributes, StripeSubscription

router = APIRouter(tags=["integrations"])

_signature = APIKeyHeader(
    name="Stripe-Signature",
    scheme_name="StripeSignature",
    auto_error=False,
    description='Stripe signs each event it posts: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` '
    "with the endpoint's signing secret (CSROI_STRIPE_WEBHOOK_SECRET). Only `POST /v1/integrations/stripe` takes it.",
)

# Declared by hand: the body must reach the signature check as the exact bytes Stripe signed, so FastAPI must not
# parse it first (a JSON error would then be a 422 before an unsigned request is refused with its 400).
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StripeEventIn"}}},
    }
}


async def _raw_body(request: Request) -> bytes:
    """The body as sent (the body limit applies while it streams in)."""
    return await request.body()


def verified_event(
    payload: Annotated[bytes, Depends(_raw_body)],
    signature: Annotated[str | None, Security(_signature)],
    settings: SettingsDep,
) -> StripeEventIn:
    """The posted event once its Stripe-Signature verifies: the route's authentication, before any transaction."""
    secret = settings.stripe_webhook_secret
    return stripe_ingest.verify_event(payload, signature, secret=secret.get_secret_value() if secret else None)


@router.post(
    "/integrations/stripe",
    responses={
        **problem_responses(400, 404, 409, 413, 422),
        400: {
            **problem_responses(400)[400],
            "description": "The Stripe-Signature header is missing or does not verify, or the body is not UTF-8",
        },
        404: {
            **problem_responses(404)[404],
            "description": "Stripe ingest is off: CSROI_STRIPE_WEBHOOK_SECRET is unset",
        },
    },
    openapi_extra=_BODY,
)
def post_stripe_event(
    event: Annotated[StripeEventIn, Depends(verified_event)], session: WriteSessionDep, settings: SettingsDep
) -> StripeEventResult:
    """Stripe's webhook: subscription events become revenue events (other types are answered 200 and ignored)."""
    return commit_retrying(session, stripe_ingest.ingest_stripe_event, event, currency=settings.currency)


def stripe_schemas() -> dict[str, Any]:
    """The Stripe event's component schemas (the body is declared by hand), as FastAPI writes a model body's."""
    probe = APIRouter()

    @probe.post("/event")
    def _event(body: StripeEventIn) -> None: ...

    @probe.post("/subscription")
    def _subscription(body: StripeSubscription) -> None: ...

    @probe.post("/previous")
    def _previous(body: StripePreviousAttributes) -> None: ...

    schemas: dict[str, Any] = get_openapi(title="", version="", routes=probe.routes)["components"]["schemas"]
    return {name: schema for name, schema in schemas.items() if name.startswith("Stripe")}
