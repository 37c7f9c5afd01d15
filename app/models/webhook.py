"""Outbound webhook subscriptions (SPEC §11) and the event types each one wants."""

from datetime import datetime
from typing import get_args

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, one_of, utcnow
from app.types import WebhookEventType


class Webhook(Base):
    """A receiver: where to POST, which event types, and the secret its signatures are made with.

    The secret is stored as given (an HMAC needs it; a hash would not do) and shown only in the answer that
    generated it.
    """

    __tablename__ = "webhook"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType)
    secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookTopic(Base):
    """One (subscription, event type) pair: `webhook.events` as rows, so "does anyone want revenue.churned?" and the
    fan-out of events to deliveries are plain indexed joins on both databases."""

    __tablename__ = "webhook_topic"
    __table_args__ = (
        CheckConstraint(one_of("type", get_args(WebhookEventType)), name="type"),
        Index("ix_webhook_topic_type", "type"),
    )

    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), primary_key=True)
    type: Mapped[str] = mapped_column(String(40), primary_key=True)
