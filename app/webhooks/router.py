"""Outbound webhook subscriptions and their delivery log over HTTP (SPEC §11, admin): thin routes."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from app.audit import service as audit
from app.auth import AdminAuth
from app.config import SettingsDep, get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import SessionDep, WriteSessionDep
from app.errors import problem_responses
from app.pagination import ListQuery, PageOut, page_out
from app.types import IdPath
from app.webhooks import subscriptions as service
from app.webhooks.schemas import DeliveryListQuery, DeliveryOut, WebhookIn, WebhookOut

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
DeliveryNumber = Annotated[
    int, Path(ge=1, le=2**63 - 1, description="The delivery's number (`id` in the delivery log).", examples=[1])
]


@router.put(
    "/{webhook_id}",
    response_model=WebhookOut,
    responses={201: {"model": WebhookOut, "description": "Created"}, **problem_responses(401, 403, 409, 422)},
)
def put_webhook(
    _auth: AdminAuth,
    webhook_id: IdPath,
    body: WebhookIn,
    *,
    session: WriteSessionDep,
    response: Response,
    settings: SettingsDep,
    actor: audit.ActorDep,
) -> Any:
    """Create or replace a subscription (201 when created); a generated secret is in this answer only."""
    before = service.find_view(session, webhook_id)
    view, created = service.put_webhook(session, webhook_id, body, allow_private=settings.webhook_allow_private)
    after = view.model_copy(update={"secret": None})  # the audit log never holds a secret
    audit.record(session, actor, "webhook.put", f"webhook/{webhook_id}", before=before, after=after)
    session.commit()
    response.status_code = 201 if created else 200
    return view


@router.get("", response_model=PageOut[WebhookOut], responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)})
def list_webhooks(_auth: AdminAuth, request: Request, query: Annotated[ListQuery, Query()], session: SessionDep) -> Any:
    """Subscriptions in id order, one cursor page at a time (JSON or CSV); never their secrets."""
    page = service.list_webhooks(session, query)
    if wants_csv(request, query.format):
        return csv_response(page.items, WebhookOut, next_cursor=page.next_cursor, filename="webhooks.csv")
    return page_out(page, get_app_settings(request).currency)


@router.get("/{webhook_id}", responses=READ_ERRORS)
def get_webhook(_auth: AdminAuth, webhook_id: IdPath, session: SessionDep) -> WebhookOut:
    """One subscription (never its secret)."""
    return service.get_view(session, webhook_id)


@router.delete("/{webhook_id}", status_code=204, responses=READ_ERRORS)
def delete_webhook(_auth: AdminAuth, webhook_id: IdPath, session: WriteSessionDep, actor: audit.ActorDep) -> Response:
    """Delete a subscription and its delivery log; its pending deliveries are never sent."""
    before = service.delete_webhook(session, webhook_id)
    audit.record(session, actor, "webhook.delete", f"webhook/{webhook_id}", before=before)
    session.commit()
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=PageOut[DeliveryOut],
    responses={**CSV_RESPONSE, **READ_ERRORS},
)
def list_deliveries(
    _auth: AdminAuth,
    request: Request,
    webhook_id: IdPath,
    query: Annotated[DeliveryListQuery, Query()],
    session: SessionDep,
) -> Any:
    """The subscription's deliveries, newest first, each with status and every attempt (JSON or CSV)."""
    page = service.list_deliveries(session, webhook_id, query)
    if wants_csv(request, query.format):
        name = f"{webhook_id}-deliveries.csv"
        return csv_response(page.items, DeliveryOut, next_cursor=page.next_cursor, filename=name)
    return page_out(page, get_app_settings(request).currency)


@router.post("/{webhook_id}/deliveries/{n}/retry", responses=READ_ERRORS)
def retry_delivery(
    _auth: AdminAuth, webhook_id: IdPath, n: DeliveryNumber, session: WriteSessionDep, actor: audit.ActorDep
) -> DeliveryOut:
    """Send a delivery again at the worker's next look (within seconds), failed or delivered; its 24 h of retries
    start afresh."""
    before = service.get_delivery(session, webhook_id, n)
    after = service.retry_delivery(session, webhook_id, n)
    obj = f"webhook/{webhook_id}/delivery/{n}"
    without_log = {"attempt_log"}
    audit.record(
        session,
        actor,
        "webhook.delivery_retry",
        obj,
        before=before.model_dump(mode="json", exclude=without_log),
        after=after.model_dump(mode="json", exclude=without_log),
    )
    session.commit()
    return after
