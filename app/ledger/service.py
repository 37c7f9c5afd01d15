"""Reading the ledger: ARR on a date (the one definition), first paid date, and movements."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    FromClause,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from app import formulas, records
from app.errors import Unprocessable
from app.ledger.schemas import CustomerArrOut, MovementOut, MovementQuery
from app.models import ArrChange, Customer
from app.money import CENT, money_from_cents
from app.pagination import Page, make_page

# New, reactivation and churn move the whole customer (SPEC §3): listed once, without a product.
WHOLE_CUSTOMER = ("new", "reactivation", "churn")


# --- ARR on a date: THE definition (SPEC §3) ------------------------------------------------------------------
# ARR on a date is the sum of the changes dated on or before it. Every reader of "ARR on a date" (this module, the
# customer view, impact attribution, the health, staffing and retention metrics) uses `arr_as_of`, or
# `arr_before` where one scan of a customer's changes gathers more than its ARR.

EXPANSION = ("upsell", "cross_sell")


def arr_as_of(
    on: date | ColumnElement[date],
    *,
    dates: FromClause | None = None,
    keys: Sequence[ColumnElement[Any]] = (),
    customer: ColumnElement[str] | None = None,
    customer_ids: Sequence[str] | None = None,
    by_product: bool = False,
    paying_only: bool = False,
) -> Select[Any]:
    """ARR in cents on a date per customer (and product): columns (*keys, customer_id, [product], arr_cents).

    `on` is one date, or a date column of `dates` (a table of dates: periods, or (customer, date) pairs) whose
    `keys` lead each row, so any number of dates is answered by one grouped statement. `customer` ties each row
    of `dates` to one customer (per-customer dates); `customer_ids` limits the customers; `paying_only` keeps the
    customers paying on the date (ARR > 0). A customer without a change up to the date has no row: its ARR is 0.
    The caller adds `.cte(...)`, `.subquery()` or ordering; the select is the one place the sum is written.
    """
    arr = func.sum(ArrChange.delta_cents)
    owner: list[Any] = [ArrChange.customer_id, ArrChange.product] if by_product else [ArrChange.customer_id]
    dated = ArrChange.effective_date <= on
    stmt = select(*keys, *[column.label(column.key) for column in owner], arr.label("arr_cents"))
    if dates is not None:
        stmt = stmt.select_from(dates).join(
            ArrChange, dated if customer is None else and_(customer == ArrChange.customer_id, dated)
        )
    else:
        stmt = stmt.where(dated)
    if customer_ids is not None:
        stmt = stmt.where(ArrChange.customer_id.in_(customer_ids))
    stmt = stmt.group_by(*keys, *owner)
    return stmt.having(arr > 0) if paying_only else stmt


def arr_before(day: ColumnElement[date]) -> ColumnElement[int]:
    """ARR in cents on the day before `day`, as an aggregate over a group of changes (`arr_as_of`'s sum, for a
    statement that reads each customer's changes once for several figures, such as per-period balances)."""
    return func.sum(case((ArrChange.effective_date < day, ArrChange.delta_cents), else_=0))


def first_paid_on() -> ColumnElement[date]:
    """The first day a customer paid, as an aggregate: its first `new` movement (SPEC §3: later returns are
    reactivations). Combine with `arr_as_of` (or a date filter) to ignore changes after a date."""
    return func.min(case((ArrChange.movement_type == "new", ArrChange.effective_date)))


@dataclass(frozen=True)
class LedgerFacts:
    """What the ledger says about one customer up to a date: ARR, first paid day, latest expansion."""

    arr_cents: int
    first_paid_on: date | None
    last_expansion_on: date | None


NO_FACTS = LedgerFacts(0, None, None)


def ledger_facts(session: Session, customer_ids: Sequence[str], as_of: date) -> dict[str, LedgerFacts]:
    """Per customer with a change up to `as_of`: ARR on `as_of`, first paid day and latest expansion; one query."""
    expansion = ArrChange.movement_type.in_(EXPANSION)
    stmt = arr_as_of(as_of, customer_ids=customer_ids).add_columns(
        first_paid_on().label("first_paid"),
        func.max(case((expansion, ArrChange.effective_date))).label("last_expansion"),
    )
    return {
        r.customer_id: LedgerFacts(int(r.arr_cents or 0), r.first_paid, r.last_expansion) for r in session.execute(stmt)
    }


def first_paid(session: Session, customer_id: str, as_of: date) -> date | None:
    """The first day the customer paid, on or before `as_of` (None if it had not paid yet)."""
    return ledger_facts(session, [customer_id], as_of).get(customer_id, NO_FACTS).first_paid_on


# Pairs per statement of arr_on: SQLite allows at most 500 terms in a compound SELECT (SQLITE_MAX_COMPOUND_SELECT).
ARR_ON_PAIRS = 250


def arr_on(session: Session, points: set[tuple[str, date]]) -> dict[tuple[str, date], int]:
    """Cents of total ARR of each (customer, date) pair; one query per 250 pairs."""
    found: dict[tuple[str, date], int] = {}
    ordered = sorted(points)
    for first in range(0, len(ordered), ARR_ON_PAIRS):
        rows = [
            select(literal(c, String).label("customer_id"), literal(d, Date).label("on_date"))
            for c, d in ordered[first : first + ARR_ON_PAIRS]
        ]
        wanted = (union_all(*rows) if len(rows) > 1 else rows[0]).cte("wanted")
        stmt = arr_as_of(wanted.c.on_date, dates=wanted, keys=[wanted.c.on_date], customer=wanted.c.customer_id)
        found.update({(r.customer_id, r.on_date): int(r.arr_cents) for r in session.execute(stmt)})
    return {point: found.get(point, 0) for point in points}


def expansions(session: Session, customer_ids: set[str], until: date) -> list[tuple[str, str, date, int]]:
    """Upsell and cross-sell changes (customer, product, date, cents) of these customers up to `until`."""
    stmt = select(ArrChange.customer_id, ArrChange.product, ArrChange.effective_date, ArrChange.delta_cents).where(
        ArrChange.customer_id.in_(sorted(customer_ids)),
        ArrChange.movement_type.in_(EXPANSION),
        ArrChange.effective_date <= until,
    )
    return [(c, p, d, int(cents)) for c, p, d, cents in session.execute(stmt)]


def arr_by_product(session: Session, customer_id: str, as_of: date) -> dict[str, int]:
    """Cents of ARR per product on `as_of` (products at 0 left out)."""
    rows = session.execute(arr_as_of(as_of, customer_ids=[customer_id], by_product=True).order_by(ArrChange.product))
    return {r.product: int(r.arr_cents) for r in rows if r.arr_cents}


def total_arr(session: Session, customer_id: str, as_of: date) -> int:
    """Cents of the customer's total ARR on `as_of`."""
    return sum(arr_by_product(session, customer_id, as_of).values())


# --- Reads over HTTP ------------------------------------------------------------------------------------------


def get_customer_arr(session: Session, customer_id: str, as_of: date) -> CustomerArrOut:
    """A customer's ARR on `as_of`, total and per product (NotFound for an unknown customer)."""
    records.get_record(session, Customer, customer_id)
    products = arr_by_product(session, customer_id, as_of)
    total = money_from_cents(sum(products.values()))
    return CustomerArrOut(
        customer=customer_id,
        as_of=as_of,
        total=total,
        mrr=formulas.mrr(total).quantize(CENT),
        products={p: money_from_cents(c) for p, c in products.items()},
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
            amount=money_from_cents(r.amount_cents),
        )
        for r in rows
    ]
    return make_page(
        items, query.limit, key=lambda m: [m.effective_date.isoformat(), m.customer, m.type, m.product or ""]
    )
