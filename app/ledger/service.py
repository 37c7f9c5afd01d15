"""Reading the ledger: ARR on a date, and movements."""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, literal, select, tuple_
from sqlalchemy.orm import Session

from app import formulas
from app.customers import service as customers_service
from app.errors import Unprocessable
from app.ledger.models import ArrChange
from app.ledger.schemas import CustomerArrOut, MovementOut, MovementQuery
from app.money import CENT, from_cents
from app.pagination import Page, make_page

# New, reactivation and churn move the whole customer (SPEC §3): listed once, without a product.
WHOLE_CUSTOMER = ("new", "reactivation", "churn")


def _money(cents: int | None) -> Decimal:
    return from_cents(cents or 0) or Decimal("0.00")


def arr_by_product(session: Session, customer_id: str, as_of: date) -> dict[str, int]:
    """Cents of ARR per product after every change dated on or before `as_of` (products at 0 left out)."""
    rows = session.execute(
        select(ArrChange.product, func.sum(ArrChange.delta_cents))
        .where(ArrChange.customer_id == customer_id, ArrChange.effective_date <= as_of)
        .group_by(ArrChange.product)
        .order_by(ArrChange.product)
    )
    return {product: int(cents) for product, cents in rows if cents}


def get_customer_arr(session: Session, customer_id: str, as_of: date) -> CustomerArrOut:
    """A customer's ARR on `as_of`, total and per product (NotFound for an unknown customer)."""
    customers_service.get_customer(session, customer_id)
    products = arr_by_product(session, customer_id, as_of)
    total = _money(sum(products.values()))
    return CustomerArrOut(
        customer=customer_id,
        as_of=as_of,
        total=total,
        mrr=formulas.mrr(total).quantize(CENT),
        products={p: _money(c) for p, c in products.items()},
    )


def _movements_statement(query: MovementQuery) -> Select[Any]:
    """Movements as SPEC §3 lists them: grouped from product-level changes, in (date, customer, type, product)."""
    whole = ArrChange.movement_type.in_(WHOLE_CUSTOMER)
    product = ArrChange.product if query.product else case((whole, literal(None)), else_=ArrChange.product)
    amount = func.sum(func.abs(ArrChange.delta_cents))
    stmt = select(
        ArrChange.effective_date.label("effective_date"),
        ArrChange.customer_id.label("customer"),
        ArrChange.movement_type.label("type"),
        product.label("product"),
        amount.label("amount_cents"),
    )
    if query.start is not None:
        stmt = stmt.where(ArrChange.effective_date >= query.start)
    if query.end is not None:
        stmt = stmt.where(ArrChange.effective_date <= query.end)
    for column, value in (
        (ArrChange.movement_type, query.type),
        (ArrChange.customer_id, query.customer),
        (ArrChange.product, query.product),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt.group_by(ArrChange.effective_date, ArrChange.customer_id, ArrChange.movement_type, product)


def _movement_cursor(after: list[Any]) -> tuple[date, str, str, str]:
    """The (date, customer, type, product) a movements cursor carries; Unprocessable for any other shape."""
    if len(after) == 4 and all(isinstance(part, str) for part in after):
        try:
            return date.fromisoformat(after[0]), after[1], after[2], after[3]
        except ValueError:
            pass
    raise Unprocessable(
        "The cursor does not belong to this list.",
        [{"loc": ["query", "cursor"], "msg": "not a cursor of this list", "type": "value_error"}],
    )


def list_movements(session: Session, query: MovementQuery) -> Page[MovementOut]:
    """Movements in date order, one cursor page at a time."""
    grouped = _movements_statement(query).subquery()
    sort_key = (grouped.c.effective_date, grouped.c.customer, grouped.c.type, func.coalesce(grouped.c.product, ""))
    stmt = select(grouped)
    after = query.after()
    if after:
        stmt = stmt.where(tuple_(*sort_key) > tuple_(*_movement_cursor(after)))
    rows = session.execute(stmt.order_by(*sort_key).limit(query.limit + 1)).all()
    items = [
        MovementOut(
            customer=r.customer,
            effective_date=r.effective_date,
            type=r.type,
            product=r.product,
            amount=_money(r.amount_cents),
        )
        for r in rows
    ]
    return make_page(
        items, query.limit, key=lambda m: [m.effective_date.isoformat(), m.customer, m.type, m.product or ""]
    )
