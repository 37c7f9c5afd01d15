"""Pruning the outbox (`jobs.prune`): finished deliveries go after CSROI_WEBHOOK_HISTORY_DAYS, pending ones never, and
an event's dedupe key outlives its body so nothing is sent twice."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from app.webhooks import delivery
from tests.builders import make_event, make_webhook

NOW = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
OLD = NOW - timedelta(days=45)
RECENT = NOW - timedelta(days=3)
BEFORE = NOW - timedelta(days=30)


def outbox(session: Session, n: int, *, dedupe: bool = False) -> list[int]:
    """n events for one subscription, fanned out: one delivery each; returns the delivery ids in event order."""
    for i in range(n):
        make_event(session, dedupe_key=f"test:{i}" if dedupe else None)
    delivery.dispatch(session)
    return list(session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.event_id)))


def age(session: Session, delivery_id: int, *, status: str, at: datetime) -> None:
    """Make a delivery `status` with its window (and its event) started at `at`, with one attempt."""
    row = session.get(WebhookDelivery, delivery_id)
    assert row is not None
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(status=status, window_start=at)
    )
    session.execute(update(WebhookEvent).where(WebhookEvent.id == row.event_id).values(created_at=at))
    session.add(WebhookAttempt(delivery_id=delivery_id, attempted_at=at, status_code=200, duration_ms=5))
    session.flush()


def test_old_finished_deliveries_go_with_their_attempts_and_events(session: Session) -> None:
    make_webhook(session)
    delivered_old, failed_old, delivered_recent, pending_old = outbox(session, 4)
    age(session, delivered_old, status="delivered", at=OLD)
    age(session, failed_old, status="failed", at=OLD)
    age(session, delivered_recent, status="delivered", at=RECENT)
    age(session, pending_old, status="pending", at=OLD)  # a manual retry restarted nothing: still pending, kept

    pruned = delivery.prune(session, before=BEFORE)

    # Two old finished deliveries, one attempt each, and their two events; the recent and the pending stay whole.
    assert pruned == delivery.Pruned(deliveries=2, attempts=2, events=2)
    left = set(session.scalars(select(WebhookDelivery.id)))
    assert left == {delivered_recent, pending_old}
    assert session.scalar(select(WebhookAttempt.id).where(WebhookAttempt.delivery_id == delivered_old)) is None
    assert len(session.scalars(select(WebhookEvent.id)).all()) == 2
    assert delivery.prune(session, before=BEFORE) == delivery.Pruned(deliveries=0, attempts=0, events=0)


def test_an_event_with_a_dedupe_key_keeps_its_key_and_is_not_sent_again(session: Session) -> None:
    make_webhook(session)
    [only] = outbox(session, 1, dedupe=True)
    age(session, only, status="delivered", at=OLD)

    assert delivery.prune(session, before=BEFORE) == delivery.Pruned(deliveries=1, attempts=1, events=0)
    [event] = session.scalars(select(WebhookEvent))
    assert (event.dedupe_key, event.data) == ("test:0", "{}")
    # Emitting the same key again is still a no-op: the notice is not sent twice.
    assert make_event(session, dedupe_key="test:0") == 0
    assert delivery.dispatch(session) == 0


def test_a_recently_retried_delivery_is_kept(session: Session) -> None:
    """A manual retry restarts the window: the delivery, though created long ago, keeps its history."""
    make_webhook(session)
    [only] = outbox(session, 1)
    age(session, only, status="failed", at=OLD)
    session.execute(update(WebhookDelivery).values(window_start=RECENT))
    assert delivery.prune(session, before=BEFORE).deliveries == 0
