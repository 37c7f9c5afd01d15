"""The transactional outbox of webhook events (SPEC §11)."""

from datetime import datetime
from typing import get_args

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, one_of, utcnow
from app.types import WebhookEventType


class WebhookEvent(Base):
    """An event, written in the same transaction as the change that caused it (a rollback leaves none).

    Written only when some subscription wants its type. `data` is JSON text, kept verbatim: the body a receiver
    gets (and whose signature it checks) carries exactly what was emitted. `dedupe_key` makes an event that must
    be sent once (a renewal's notice, a snapshot day's band change) an `ON CONFLICT DO NOTHING`. The worker fans
    each event out to the subscriptions wanting its type, then sets `dispatched`.
    """

    __tablename__ = "webhook_event"
    __table_args__ = (
        CheckConstraint(one_of("type", get_args(WebhookEventType)), name="type"),
        Index("ix_webhook_event_dispatched_id", "dispatched", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    # The body's `id` (`evt_` and 32 hex digits): random, so receivers can dedupe across installations. Not indexed:
    # nothing looks an event up by it, and 128 random bits do not collide; an index would only slow the outbox.
    key: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[str] = mapped_column(Text)
    # The customer the event is about, if any: erasing the customer (SPEC §11) deletes its events, and their
    # deliveries, by this foreign key's cascade, so nothing about it is sent afterwards.
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(1000), unique=True)
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
