"""Subscriptions and their delivery log: what the admin routes do (SPEC §11)."""

import json
from collections import defaultdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import NotFound, Unprocessable
from app.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookTopic
from app.pagination import ListQuery, Page, make_page
from app.types import WebhookEventType
from app.webhooks import signing, urls
from app.webhooks.schemas import AttemptOut, DeliveryListQuery, DeliveryOut, WebhookIn, WebhookOut


def _view(row: Webhook, secret: str | None = None) -> WebhookOut:
    events = cast(list[WebhookEventType], row.events)
    return WebhookOut(
        id=row.id, url=row.url, events=events, secret=secret, created_at=row.created_at, updated_at=row.updated_at
    )


def get_webhook(session: Session, webhook_id: str) -> Webhook:
    """The subscription, or NotFound."""
    row = session.get(Webhook, webhook_id)
    if row is None:
        raise NotFound("webhook", webhook_id)
    return row


def find_view(session: Session, webhook_id: str) -> WebhookOut | None:
    """The subscription as the API shows it, or None (the audit log's `before`)."""
    row = session.get(Webhook, webhook_id)
    return None if row is None else _view(row)


def get_view(session: Session, webhook_id: str) -> WebhookOut:
    """The subscription as the API shows it, or NotFound."""
    return _view(get_webhook(session, webhook_id))


def put_webhook(
    session: Session, webhook_id: str, body: WebhookIn, *, allow_private: bool, resolver: urls.Resolver | None = None
) -> tuple[WebhookOut, bool]:
    """Create or replace a subscription (True when created); its URL must pass the SSRF rule (`urls.check_url`)."""
    if body.id not in (None, webhook_id):
        raise Unprocessable(
            "The body's id differs from the id in the path.",
            [{"loc": ["body", "id"], "msg": "must equal the path id", "type": "value_error"}],
        )
    try:
        urls.check_url(body.url, allow_private=allow_private, resolver=resolver)
    except urls.UrlRefused as exc:
        raise Unprocessable(
            f"The webhook URL cannot be used: {exc}.",
            [{"loc": ["body", "url"], "msg": str(exc), "type": "value_error"}],
        ) from None
    row = session.get(Webhook, webhook_id, with_for_update=True)
    now = utcnow()
    created = row is None
    generated = signing.new_secret() if created and body.secret is None else None
    if row is None:
        row = Webhook(id=webhook_id, created_at=now)
        session.add(row)
    row.url, row.events, row.updated_at = body.url, list(body.events), now
    if body.secret is not None or generated is not None:
        row.secret = body.secret or generated  # type: ignore[assignment]
    session.flush()
    session.execute(delete(WebhookTopic).where(WebhookTopic.webhook_id == webhook_id))
    session.execute(insert(WebhookTopic), [{"webhook_id": webhook_id, "type": t} for t in body.events])
    return _view(row, generated), created


def delete_webhook(session: Session, webhook_id: str) -> WebhookOut:
    """Delete a subscription with its deliveries (pending ones are never sent); the deleted view, or NotFound."""
    view = get_view(session, webhook_id)
    session.execute(delete(Webhook).where(Webhook.id == webhook_id))
    return view


def list_webhooks(session: Session, query: ListQuery) -> Page[WebhookOut]:
    """Subscriptions in id order, one cursor page."""
    stmt = select(Webhook)
    after = query.after()
    if after:
        stmt = stmt.where(Webhook.id > str(after[0]))
    rows = list(session.scalars(stmt.order_by(Webhook.id).limit(query.limit + 1)))
    page = make_page(rows, query.limit, key=lambda r: [r.id])
    return Page[WebhookOut](items=[_view(r) for r in page.items], next_cursor=page.next_cursor)


def _cursor_id(query: ListQuery) -> int | None:
    after = query.after()
    if not after:
        return None
    if not after[0].isdigit():
        raise Unprocessable(
            "The cursor is not one this list issued.",
            [{"loc": ["query", "cursor"], "msg": "not a delivery cursor", "type": "value_error"}],
        )
    return int(after[0])


_DELIVERY_COLUMNS = (
    WebhookDelivery.id,
    WebhookEvent.key,
    WebhookEvent.type,
    WebhookEvent.created_at,
    WebhookEvent.data,
    WebhookDelivery.status,
    WebhookDelivery.attempts,
    WebhookDelivery.next_attempt_at,
    WebhookDelivery.delivered_at,
    WebhookDelivery.last_status_code,
    WebhookDelivery.last_error,
)


def _delivery_views(session: Session, rows: list[Any]) -> list[DeliveryOut]:
    """Rows of `_DELIVERY_COLUMNS` with their attempts (one more statement for the whole page)."""
    attempts: dict[int, list[AttemptOut]] = defaultdict(list)
    if rows:
        found = session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([r.id for r in rows]))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id)
        ).scalars()
        for a in found:
            attempts[a.delivery_id].append(
                AttemptOut(at=a.attempted_at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms)
            )
    return [
        DeliveryOut(
            id=r.id,
            event=r.key,
            type=r.type,
            created=r.created_at,
            data=json.loads(r.data),
            status=r.status,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            delivered_at=r.delivered_at,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            attempt_log=attempts[r.id],
        )
        for r in rows
    ]


def list_deliveries(session: Session, webhook_id: str, query: DeliveryListQuery) -> Page[DeliveryOut]:
    """A subscription's deliveries, newest first, each with its attempts; NotFound for an unknown subscription."""
    get_webhook(session, webhook_id)
    stmt = (
        select(*_DELIVERY_COLUMNS)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
    )
    if query.status is not None:
        stmt = stmt.where(WebhookDelivery.status == query.status)
    before = _cursor_id(query)
    if before is not None:
        stmt = stmt.where(WebhookDelivery.id < before)
    rows = list(session.execute(stmt.order_by(WebhookDelivery.id.desc()).limit(query.limit + 1)))
    page = make_page(rows, query.limit, key=lambda r: [str(r.id)])
    return Page[DeliveryOut](items=_delivery_views(session, list(page.items)), next_cursor=page.next_cursor)


def get_delivery(session: Session, webhook_id: str, delivery_id: int) -> DeliveryOut:
    """One delivery of the subscription with its attempts, or NotFound."""
    rows = list(
        session.execute(
            select(*_DELIVERY_COLUMNS)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.id == delivery_id)
        )
    )
    if not rows:
        get_webhook(session, webhook_id)
        raise NotFound("delivery", str(delivery_id))
    return _delivery_views(session, rows)[0]


def retry_delivery(session: Session, webhook_id: str, delivery_id: int, *, now: datetime | None = None) -> DeliveryOut:
    """Make a delivery due now, whatever its status (a delivered one is sent again, for a receiver that lost it);
    a new 24 h window of retries starts. NotFound when the subscription has no such delivery."""
    now = now or utcnow()
    get_delivery(session, webhook_id, delivery_id)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status="pending", next_attempt_at=now, claim=None, failures=0, window_start=now)
    )
    return get_delivery(session, webhook_id, delivery_id)
