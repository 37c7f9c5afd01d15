"""Usage events: immutable facts from products, support desks and surveys (SPEC §3)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Index, String, type_coerce
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, Micros, UTCDateTime, utcnow


class UsageEvent(Base):
    """One usage, support or survey event, keyed by the client's id; never updated.

    On PostgreSQL the table is partitioned by UTC month of `occurred_at` and has no primary key (a partitioned
    table's would have to include occurred_at and would enforce nothing more): the id stays unique through the
    `usage_event_id` directory (app/usage/partitions.py), so the mapper's identity is the id on both databases. No
    foreign key to `customer`: the insert ran 1.28-1.35x as fast without it, and ingest makes the stub customer in
    the same transaction while erasure deletes the events itself (docs/operations.md).
    """

    __tablename__ = "usage_event"
    __table_args__ = (Index("ix_usage_event_customer_id_kind_occurred_at", "customer_id", "kind", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[Decimal] = mapped_column(Micros)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # A digest of the content: a re-post is told apart from a conflicting one without comparing JSON.
    content_hash: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# `value` as its stored integer millionths: SQL sums and comparisons stay exact on both databases.
VALUE_MICROS = type_coerce(UsageEvent.value, BigInteger)
