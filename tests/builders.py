"""Keyword-only builders for test data, posted through the service functions the API uses."""

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from app.customers import service as customers_service
from app.customers.schemas import CustomerBatchItem
from app.ledger import ingest
from app.ledger.schemas import EventBatchResult, RevenueEventIn

_counter = iter(range(1, 10**9))


def make_customer(session: Session, *, id: str, **fields: object) -> None:
    """Upsert one customer (segment, tier, ... as keywords)."""
    customers_service.upsert_customers(session, [CustomerBatchItem(id=id, **fields)])  # type: ignore[arg-type]


def revenue(
    customer: str, day: str, arr: int | str | Decimal, *, product: str = "core", id: str | None = None
) -> RevenueEventIn:
    """A revenue event with a fresh id unless one is given."""
    return RevenueEventIn(
        id=id or f"ev{next(_counter)}",
        customer=customer,
        product=product,
        effective_date=date.fromisoformat(day),
        arr=Decimal(str(arr)),
    )


def post_revenue(session: Session, *events: RevenueEventIn) -> EventBatchResult:
    """Ingest events as one batch."""
    return ingest.ingest_revenue_events(session, list(events))
