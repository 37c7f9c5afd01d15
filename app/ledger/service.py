"""Reading the ledger: ARR on a date (the one definition), first paid date, and movements."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np
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
from app.db import in_values
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


def facts_as_of(as_of: date, *, customer_ids: Sequence[str] | None = None) -> Select[Any]:
    """Per customer with a change up to `as_of`: columns customer_id, arr_cents (ARR on `as_of`), first_paid and
    last_expansion, as one grouped select (the customer read view joins it; `ledger_facts` runs it)."""
    expansion = ArrChange.movement_type.in_(EXPANSION)
    return arr_as_of(as_of, customer_ids=customer_ids).add_columns(
        first_paid_on().label("first_paid"),
        func.max(case((expansion, ArrChange.effective_date))).label("last_expansion"),
    )


def ledger_facts(session: Session, customer_ids: Sequence[str], as_of: date) -> dict[str, LedgerFacts]:
    """Per customer with a change up to `as_of`: ARR on `as_of`, first paid day and latest expansion; one query."""
    stmt = facts_as_of(as_of, customer_ids=customer_ids)
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
        in_values(session, ArrChange.customer_id, customer_ids),
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


# --- The ledger as arrays: ARR and expansion of many customers on many days at once ---------------------------
# The changes are read once, as step functions per customer: cumulative sums in (customer, date) order, looked up
# by binary search. What matched controls need: ARR at the start and end of thousands of windows, and the
# expansion inside them, without a statement per window. Same definition as arr_as_of: the sum of the changes
# dated on or before the day.

_SPAN = 1 << 22  # day ordinals are below this (year 9999 is 3,652,059): customer * _SPAN + day is one sort key


@dataclass(frozen=True)
class LedgerSeries:
    """Per customer (rows of `index`), its changes' cumulative ARR and cumulative expansion, by date."""

    index: dict[str, int]
    keys: np.ndarray  # customer row * _SPAN + day ordinal, ascending, one per (customer, day) with a change
    arr: np.ndarray  # cents of ARR after that day's changes
    expanded: np.ndarray  # cents of upsell + cross-sell up to and including that day

    def _lookup(self, rows: np.ndarray, days: np.ndarray, values: np.ndarray) -> np.ndarray:
        wanted = rows.astype(np.int64) * _SPAN + days
        at = np.searchsorted(self.keys, wanted, side="right") - 1
        found = at >= 0
        found[found] &= self.keys[at[found]] // _SPAN == rows[found]
        result = np.zeros(len(rows), dtype=np.int64)
        result[found] = values[at[found]]
        return result

    def arr_at(self, points: set[tuple[str, date]]) -> dict[tuple[str, date], int]:
        """Cents of ARR of each (customer, day) pair (`arr_on`'s answer, without a statement)."""
        ordered = sorted(points)
        rows = np.array([self.index.get(c, -1) for c, _ in ordered], dtype=np.int64)
        days = np.array([d.toordinal() for _, d in ordered], dtype=np.int64)
        found = self.arr_on(rows, days) if ordered else np.zeros(0, dtype=np.int64)
        return {point: int(cents) for point, cents in zip(ordered, found, strict=True)}

    def arr_on(self, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Cents of ARR of customer `rows[i]` on day ordinal `days[i]` (0 before its first change)."""
        return self._lookup(rows, days, self.arr)

    def expansion_between(self, rows: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Cents of upsell + cross-sell of customer `rows[i]` dated in [first[i], last[i]] (ordinals; 0 if empty)."""
        upto = self._lookup(rows, last, self.expanded)
        before = self._lookup(rows, first - 1, self.expanded)
        return np.where(last >= first, upto - before, 0)

    def arr_grid(self, days: np.ndarray, customers: int) -> np.ndarray:
        """len(days) × customers cents of ARR of every customer row on each of `days` (ordinals, ascending)."""
        return self._grid(days, customers, self.arr)

    def expansion_grid(self, days: np.ndarray, customers: int) -> np.ndarray:
        """len(days) × customers cents of upsell + cross-sell of every customer row up to and including each day."""
        return self._grid(days, customers, self.expanded)

    def _grid(self, days: np.ndarray, customers: int, running: np.ndarray) -> np.ndarray:
        # Each change moves the running value from the first of `days` on or after its date: a difference array per
        # customer, summed along the days (no lookup per customer and day).
        rows, on, first = self._changes
        step = np.where(first, running, running - np.r_[0, running[:-1]])
        # One bincount (float sums of whole cents are exact far beyond any book: 2^53 cents) instead of np.add.at.
        cells = np.searchsorted(days, on, side="left") * customers + rows
        # The running sum in place on the float sums (exact: whole cents, every partial sum far below 2^53), then one
        # conversion: one days × customers array fewer than converting first.
        diff = np.bincount(cells, weights=step, minlength=(len(days) + 1) * customers).reshape(len(days) + 1, customers)
        np.cumsum(diff, axis=0, out=diff)
        grid: np.ndarray = diff[:-1].astype(np.int64)
        return grid

    @cached_property
    def _changes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each key's customer row and day, and whether it is its customer's first."""
        rows, on = self.keys // _SPAN, self.keys % _SPAN
        return rows, on, np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, dtype=bool)


def ledger_series(session: Session, customers: Sequence[str]) -> LedgerSeries:
    """The changes of every customer in `customers` (their row is their position), in one grouped statement."""
    index = {cid: n for n, cid in enumerate(customers)}
    expansion = func.sum(case((ArrChange.movement_type.in_(EXPANSION), ArrChange.delta_cents), else_=0))
    stmt = (
        select(ArrChange.customer_id, ArrChange.effective_date, func.sum(ArrChange.delta_cents), expansion)
        .group_by(ArrChange.customer_id, ArrChange.effective_date)
        .order_by(ArrChange.customer_id, ArrChange.effective_date)
    )
    rows = [
        (index[c], d.toordinal(), int(delta), int(grown or 0))
        for c, d, delta, grown in session.execute(stmt)
        if c in index
    ]
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return LedgerSeries(index, empty, empty, empty)
    customer, day, delta, grown = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    keys = customer * _SPAN + day
    order = np.argsort(keys, kind="stable")
    keys, customer, delta, grown = keys[order], customer[order], delta[order], grown[order]
    return LedgerSeries(index, keys, _cumulative(customer, delta), _cumulative(customer, grown))


def _cumulative(customer: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sums of `values` that restart at each new customer (rows sorted by customer)."""
    total = np.cumsum(values)
    starts = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1]])
    offset = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, len(values)]))
    running: np.ndarray = total - offset
    return running


def ordinal(day: date) -> int:
    """A date as the ordinal the arrays use."""
    return day.toordinal()
