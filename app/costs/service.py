"""Costs: whole-record upserts, reads and lists, all SQL of this feature."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import batch, records
from app.costs.schemas import CostIn, CostListQuery
from app.models import Cost
from app.pagination import Page

# API field → column: references end in `_id` in the table (STYLE.md) but not on the wire.
_COLUMNS = {"customer": "customer_id", "team_member": "team_member_id", "intervention": "intervention_id"}


def _row(item: CostIn, record_id: str | None = None) -> dict[str, Any]:
    """Every column of the record: a cost is replaced whole, so an omitted field is cleared, not kept."""
    return records.record_row(item, record_id, whole=True, columns=_COLUMNS)


def upsert_costs(session: Session, items: Sequence[CostIn]) -> batch.UpsertResult:
    """Create or replace costs by id; unknown customers are created with only their id (SPEC §2)."""
    return records.write_records(session, Cost, [_row(i) for i in items])


def put_cost(session: Session, cost_id: str, item: CostIn) -> tuple[Cost, bool]:
    """Create or replace one cost; True when it was created."""
    return records.put_record(session, Cost, cost_id, _row(item, cost_id))


def get_cost(session: Session, cost_id: str) -> Cost:
    """The cost, or NotFound."""
    return records.get_record(session, Cost, cost_id)


def list_costs(session: Session, query: CostListQuery) -> Page[Cost]:
    """Costs in id order, filtered by month (or a month range), team, motion and customer."""
    stmt = select(Cost)
    if query.month is not None:
        stmt = stmt.where(Cost.month == query.month)
    if query.month_from is not None:
        stmt = stmt.where(Cost.month >= query.month_from)
    if query.month_to is not None:
        stmt = stmt.where(Cost.month <= query.month_to)
    for name in ("team", "motion"):
        value = getattr(query, name)
        if value is not None:
            stmt = stmt.where(getattr(Cost, name) == value)
    if query.customer is not None:
        stmt = stmt.where(Cost.customer_id == query.customer)
    return records.page_by_id(session, stmt, Cost, query)
