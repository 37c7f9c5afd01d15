"""Renewals: whole-record upserts, reads and lists, all SQL of this feature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from app import batch, records
from app.models import Renewal
from app.pagination import Page
from app.renewals.schemas import RenewalIn, RenewalListQuery


def _row(item: RenewalIn, record_id: str | None = None) -> dict[str, Any]:
    """Every column of the record: a renewal is replaced whole, so an omitted field is cleared, not kept."""
    return records.record_row(item, record_id, whole=True, columns={"customer": "customer_id"})


def upsert_renewals(session: Session, items: Sequence[RenewalIn]) -> batch.UpsertResult:
    """Create or replace renewals by id; unknown customers are created with only their id (SPEC §2)."""
    return records.write_records(session, Renewal, [_row(i) for i in items])


def put_renewal(session: Session, renewal_id: str, item: RenewalIn) -> tuple[Renewal, bool]:
    """Create or replace one renewal; True when it was created."""
    return records.put_record(session, Renewal, renewal_id, _row(item, renewal_id))


def get_renewal(session: Session, renewal_id: str) -> Renewal:
    """The renewal, or NotFound."""
    return records.get_record(session, Renewal, renewal_id)


def list_renewals(session: Session, query: RenewalListQuery) -> Page[Renewal]:
    """Renewals in id order, filtered by customer, status, due date and close date (bounds inclusive)."""
    stmt = select(Renewal)
    if query.customer is not None:
        stmt = stmt.where(Renewal.customer_id == query.customer)
    if query.status is not None:
        stmt = stmt.where(Renewal.status == query.status)
    if query.due_from is not None:
        stmt = stmt.where(Renewal.due_date >= query.due_from)
    if query.due_to is not None:
        stmt = stmt.where(Renewal.due_date <= query.due_to)
    if query.closed_from is not None:
        stmt = stmt.where(Renewal.closed_on >= query.closed_from)
    if query.closed_to is not None:
        stmt = stmt.where(Renewal.closed_on <= query.closed_to)
    return records.page_by_id(session, stmt, Renewal, query)


def open_renewal_dates(today: date) -> Select[str, date, date]:
    """Per customer with an open renewal: `next_due`, the earliest open due date (one already past due counts:
    until it is closed the customer is still being renewed), and `next_upcoming`, the earliest on or after `today`
    (what SPEC §5's "a renewal due within 90 days" reads); one grouped select for the customer read view."""
    upcoming = case((Renewal.due_date >= today, Renewal.due_date))
    return (
        select(
            Renewal.customer_id,
            func.min(Renewal.due_date).label("next_due"),
            func.min(upcoming).label("next_upcoming"),
        )
        .where(Renewal.status == "open")
        .group_by(Renewal.customer_id)
    )
