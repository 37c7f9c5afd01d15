"""Deliveries of outbox events to subscriptions, and every attempt made (SPEC §11)."""

from datetime import datetime
from typing import get_args

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, one_of, utcnow
from app.types import DeliveryStatus

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class WebhookDelivery(Base):
    """One event for one subscription: pending until a 2xx (delivered) or until 24 h of retries ran out (failed).

    `next_attempt_at` is when a worker may next take it; a worker that takes it moves it a lease ahead and writes
    its `claim` token, so a worker that dies mid-send only delays the delivery by the lease. `failures` counts the
    failed attempts since `window_start` (its creation, or a manual retry): the backoff grows with it, and the
    delivery fails once the next attempt would fall more than 24 h after `window_start`.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        CheckConstraint(one_of("status", get_args(DeliveryStatus)), name="status"),
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_webhook_id_id", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_event.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(40))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: when, the status code (null: no answer) or the error, how long it took."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
