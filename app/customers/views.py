"""Customer read views: current ARR, latest health and lifecycle stage for a whole page at once (SPEC §3).

Three grouped queries per page (ledger, open renewals, latest snapshots), each limited to the page's ids, so
a page of 1,000 customers costs three statements, not three thousand.
"""

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.customers import service
from app.customers.schemas import CustomerHealth, CustomerListQuery, CustomerOut
from app.health import service as health
from app.ledger import service as ledger
from app.models import Customer
from app.money import from_cents
from app.pagination import Page
from app.renewals import service as renewals


def _latest_health(session: Session, ids: list[str], today: date) -> dict[str, CustomerHealth]:
    """Each customer's latest snapshot up to today (SPEC §6: portfolio reads use snapshots)."""
    stmt = health.latest_snapshots(customer_ids=ids, through=today)
    return {
        s.customer_id: CustomerHealth(score=s.score, band=s.band, as_of=s.snapshot_date) for s in session.scalars(stmt)
    }


def customer_views(session: Session, customers: list[Customer], *, today: date) -> list[CustomerOut]:
    """Read views of `customers`, in their order, from three set-based queries."""
    ids = [c.id for c in customers]
    if not ids:
        return []
    facts_of, renewing, health_of = (
        ledger.ledger_facts(session, ids, today),
        renewals.renewing(session, ids, today=today, within=service.STAGE_WINDOW),
        _latest_health(session, ids, today),
    )
    views = []
    for customer in customers:
        facts = facts_of.get(customer.id, ledger.NO_FACTS)
        fields: dict[str, Any] = {
            name: getattr(customer, name) for name in CustomerOut.model_fields if name not in ("arr", "health", "stage")
        }
        views.append(
            CustomerOut(
                **fields,
                arr=from_cents(facts.arr_cents),
                health=health_of.get(customer.id),
                stage=service.lifecycle_stage(facts, renewal_due_soon=customer.id in renewing, today=today),
            )
        )
    return views


def get_customer_view(session: Session, customer_id: str, *, today: date) -> CustomerOut:
    """One customer's read view, or NotFound."""
    return customer_views(session, [service.get_customer(session, customer_id)], today=today)[0]


def list_customer_views(session: Session, query: CustomerListQuery, *, today: date) -> Page[CustomerOut]:
    """A page of customer read views (filters and cursor as `list_customers`)."""
    page = service.list_customers(session, query)
    return Page[CustomerOut](items=customer_views(session, page.items, today=today), next_cursor=page.next_cursor)
