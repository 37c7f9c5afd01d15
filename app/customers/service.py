"""Customers and team members: upserts, reads and lists, all SQL of this feature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import ColumnElement, case, func, literal, or_, select
from sqlalchemy.orm import Session

from app import batch, records, risk
from app.customers.schemas import TeamMemberListQuery
from app.ledger import service as ledger
from app.models import Customer, TeamMember
from app.pagination import Page
from app.renewals import service as renewals
from app.types import Stage

# SPEC §3 speaks of 90 days for every stage window.
STAGE_WINDOW = timedelta(days=90)
# SPEC §5: a yellow customer is at risk with an open renewal due within 90 days.


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


def stage_sql(
    *,
    arr_cents: ColumnElement[int],
    first_paid: ColumnElement[date],
    last_expansion: ColumnElement[date],
    next_due: ColumnElement[date],
    today: date,
) -> ColumnElement[str]:
    """The lifecycle stage as a SQL expression (SPEC §3): the first that holds of churned, prospect, renew, land,
    expand, adopt, over the ledger's facts on `today` (`ledger.facts_as_of`) and the earliest open renewal
    (`renewals.open_renewal_dates`)."""
    # "Less than 90 days ago" / "in the last 90 days": day 0 is today, so day 89 is in and day 90 is out.
    recent = today - STAGE_WINDOW
    return case(
        # Never paid (by today) comes first: a customer without a first payment cannot have churned.
        (first_paid.is_(None), literal("prospect")),
        (arr_cents <= 0, literal("churned")),
        # An open renewal already past due counts: until it is closed the customer is still being renewed.
        (next_due <= today + STAGE_WINDOW, literal("renew")),
        (first_paid > recent, literal("land")),
        (last_expansion > recent, literal("expand")),
        else_=literal("adopt"),
    )


def at_risk_sql(band: ColumnElement[Any], next_upcoming: ColumnElement[Any], today: date) -> ColumnElement[bool]:
    """SPEC §5's at-risk rule as a SQL boolean, never NULL: the band is red, or yellow with an open renewal due
    within 90 days from `today` (`next_upcoming`: the earliest open due date on or after `today`)."""
    return risk.at_risk_sql(band, next_upcoming <= today + timedelta(days=risk.RENEWAL_HORIZON_DAYS))


def stage_parts(today: date, *, customer_ids: Sequence[str] | None = None) -> tuple[Any, Any, ColumnElement[str]]:
    """The ledger facts and open renewal dates as subqueries (outer-join them to `Customer`), and the stage over
    them: what every reader of a customer's stage selects."""
    facts = ledger.facts_as_of(today, customer_ids=customer_ids).subquery("facts")
    due = renewals.open_renewal_dates(today).subquery("due")
    stage = stage_sql(
        arr_cents=func.coalesce(facts.c.arr_cents, 0),
        first_paid=facts.c.first_paid,
        last_expansion=facts.c.last_expansion,
        next_due=due.c.next_due,
        today=today,
    )
    return facts, due, stage


def stages(session: Session, customer_ids: Sequence[str], *, today: date) -> dict[str, Stage]:
    """Each customer's lifecycle stage on `today`, in one statement."""
    if not customer_ids:
        return {}
    facts, due, stage = stage_parts(today, customer_ids=customer_ids)
    stmt = (
        select(Customer.id, stage)
        .outerjoin(facts, facts.c.customer_id == Customer.id)
        .outerjoin(due, due.c.customer_id == Customer.id)
        .where(Customer.id.in_(customer_ids))
    )
    return {cid: cast(Stage, value) for cid, value in session.execute(stmt)}
