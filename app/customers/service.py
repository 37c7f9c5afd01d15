"""Customers and team members: upserts, reads and lists, all SQL of this feature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app import batch, records
from app.customers.schemas import CustomerListQuery, TeamMemberListQuery
from app.health import service as health
from app.ledger import service as ledger
from app.models import Customer, TeamMember
from app.pagination import Page
from app.renewals import service as renewals
from app.types import Stage

# SPEC §3 speaks of 90 days for every stage window.
STAGE_WINDOW = timedelta(days=90)


def _row(item: BaseModel, record_id: str | None = None) -> dict[str, Any]:
    """The columns an item carries (omitted fields are left out, so they keep their stored value)."""
    return records.record_row(item, record_id, whole=False)


def upsert_customers(session: Session, items: Sequence[BaseModel]) -> batch.UpsertResult:
    """Create or update customers by id (SPEC §2 records)."""
    return records.write_records(session, Customer, [_row(i) for i in items])


def put_customer(session: Session, customer_id: str, item: BaseModel) -> tuple[Customer, bool]:
    """Create or update one customer; True when it was created."""
    return records.put_record(session, Customer, customer_id, _row(item, customer_id))


def get_customer(session: Session, customer_id: str) -> Customer:
    """The customer, or NotFound."""
    return records.get_record(session, Customer, customer_id)


def find_customer(session: Session, customer_id: str) -> Customer | None:
    """The customer, or None."""
    return session.get(Customer, customer_id)


def ensure_customers(session: Session, customer_ids: Sequence[str]) -> int:
    """Create id-only customers for ids a batch references before the CRM sent them (SPEC §2)."""
    return records.ensure_customers(session, customer_ids)


def list_customers(session: Session, query: CustomerListQuery) -> Page[Customer]:
    """Customers in id order, filtered by segment, region, industry, tier and CSM."""
    stmt = select(Customer)
    for name in ("segment", "region", "industry", "tier", "csm"):
        value = getattr(query, name)
        if value is not None:
            stmt = stmt.where(getattr(Customer, name) == value)
    if query.band is not None:
        stmt = stmt.where(Customer.id.in_(health.customers_in_band(query.band)))
    return records.page_by_id(session, stmt, Customer, query)


def upsert_team_members(session: Session, items: Sequence[BaseModel]) -> batch.UpsertResult:
    """Create or update team members by id."""
    return records.write_records(session, TeamMember, [_row(i) for i in items])


def put_team_member(session: Session, member_id: str, item: BaseModel) -> tuple[TeamMember, bool]:
    """Create or update one team member; True when it was created."""
    return records.put_record(session, TeamMember, member_id, _row(item, member_id))


def get_team_member(session: Session, member_id: str) -> TeamMember:
    """The team member, or NotFound."""
    return records.get_record(session, TeamMember, member_id)


def list_team_members(session: Session, query: TeamMemberListQuery) -> Page[TeamMember]:
    """Team members in id order, by role and by who was employed on a date."""
    stmt = select(TeamMember)
    if query.role is not None:
        stmt = stmt.where(TeamMember.role == query.role)
    if query.active_on is not None:
        day = query.active_on
        stmt = stmt.where(
            or_(TeamMember.started_on.is_(None), TeamMember.started_on <= day),
            or_(TeamMember.ended_on.is_(None), TeamMember.ended_on >= day),
        )
    return records.page_by_id(session, stmt, TeamMember, query)


def lifecycle_stage(facts: ledger.LedgerFacts, *, renewal_due_soon: bool, today: date) -> Stage:
    """The first stage that holds, in SPEC §3 order: churned, prospect, renew, land, expand, adopt."""
    if facts.first_paid_on is None:
        return "prospect"
    if facts.arr_cents <= 0:
        return "churned"
    if renewal_due_soon:
        return "renew"
    # "Less than 90 days ago" / "in the last 90 days": day 0 is today, so day 89 is in and day 90 is out.
    if today - facts.first_paid_on < STAGE_WINDOW:
        return "land"
    if facts.last_expansion_on is not None and today - facts.last_expansion_on < STAGE_WINDOW:
        return "expand"
    return "adopt"


def stages(session: Session, customer_ids: Sequence[str], *, today: date) -> dict[str, Stage]:
    """Each customer's lifecycle stage on `today`, from two grouped queries (ledger facts, open renewals)."""
    if not customer_ids:
        return {}
    facts_of = ledger.ledger_facts(session, customer_ids, today)
    renewing = renewals.renewing(session, customer_ids, today=today, within=STAGE_WINDOW)
    return {
        cid: lifecycle_stage(facts_of.get(cid, ledger.NO_FACTS), renewal_due_soon=cid in renewing, today=today)
        for cid in customer_ids
    }
