"""A customer, keyed by the CRM's id."""

from datetime import datetime
from typing import Any, get_args

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, one_of, utcnow
from app.types import Tier


class Customer(Base):
    """A customer, keyed by the CRM's id; a stub (id only) when first seen in a revenue or event batch."""

    __tablename__ = "customer"
    __table_args__ = (CheckConstraint(one_of("tier", get_args(Tier), nullable=True), name="tier"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(500))
    segment: Mapped[str | None] = mapped_column(String(100), index=True)
    region: Mapped[str | None] = mapped_column(String(100), index=True)
    industry: Mapped[str | None] = mapped_column(String(100), index=True)
    tier: Mapped[str | None] = mapped_column(String(20), index=True)
    # A team member id, deliberately not a foreign key: CRMs send customers before their CSMs.
    csm: Mapped[str | None] = mapped_column(String(255), index=True)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
