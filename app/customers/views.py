"""Customer read views and the CSM's worklist (SPEC §3, §12).

One select computes every derived field of the view for the whole book (ARR, latest health, stage, at risk, next
renewal, churn probability, revenue at risk, open interventions) from four grouped subqueries, so the list can
filter and sort on any of them in SQL: a page of 1,000 customers costs one statement (besides the read of the latest
churn fit), as does one customer.
Keyset pages: the cursor holds the sort, the last row's sort value and its id.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, cast, false, func, or_, select, true
from sqlalchemy.orm import Session

from app import formulas
from app.customers import service
from app.customers.schemas import CustomerHealth, CustomerListQuery, CustomerOut
from app.errors import NotFound, Unprocessable
from app.health import service as health
from app.models import Customer, HealthSnapshot, Intervention
from app.money import from_cents, to_cents
from app.pagination import Page, encode_cursor
from app.types import OPEN_INTERVENTION

# The customer's own columns in the answer; the rest are derived.
_STORED = [name for name in CustomerOut.model_fields if hasattr(Customer, name)]


@dataclass(frozen=True)
class View:
    """The read view's select (a `Customer` and the derived columns, by label) and its derived columns."""

    stmt: Select[Any]
    columns: dict[str, ColumnElement[Any]]


def _open_interventions() -> Any:
    """Per customer: how many of its interventions are planned or in progress."""
    return (
        select(Intervention.customer_id, func.count().label("open"))
        .where(Intervention.status.in_(OPEN_INTERVENTION))
        .group_by(Intervention.customer_id)
        .subquery("work")
    )


def customer_view(session: Session, *, today: date, churn_defaults: Mapping[str, float]) -> View:
    """Every customer with its derived fields on `today` (the latest snapshot up to today; the latest churn fit,
    else the band defaults): the one definition of the read view, as one select."""
    facts, due, stage = service.stage_parts(today)
    latest = health.latest_snapshot_days(through=today).subquery("latest")
    work = _open_interventions()
    arr = func.coalesce(facts.c.arr_cents, 0)
    fit = health.latest_churn_fit(session)
    score, band = HealthSnapshot.score.expression, HealthSnapshot.band.expression
    probability = formulas.churn_probability_sql(score, band, fit=fit, defaults=churn_defaults)
    columns: dict[str, ColumnElement[Any]] = {
        "arr": arr,
        "health": score,
        "band": band,
        "snapshot_date": HealthSnapshot.snapshot_date.expression,
        "stage": stage,
        "at_risk": service.at_risk_sql(band, due.c.next_upcoming, today),
        "next_renewal_due": due.c.next_due,
        "churn_probability": probability,
        # In SQL only to sort by it: the answer's cents come from formulas.revenue_at_risk (below).
        "revenue_at_risk": cast(arr, Float) * probability,
        "open_interventions": func.coalesce(work.c.open, 0),
    }
    stmt = (
        select(Customer, *(column.label(name) for name, column in columns.items()))
        .outerjoin(facts, facts.c.customer_id == Customer.id)
        .outerjoin(due, due.c.customer_id == Customer.id)
        .outerjoin(latest, latest.c.customer_id == Customer.id)
        .outerjoin(
            HealthSnapshot,
            and_(HealthSnapshot.customer_id == latest.c.customer_id, HealthSnapshot.snapshot_date == latest.c.day),
        )
        .outerjoin(work, work.c.customer_id == Customer.id)
    )
    return View(stmt, columns)


def _out(row: Any) -> CustomerOut:
    """A row of the view's select as the answer."""
    customer: Customer = row.Customer
    arr_cents = int(row.arr)
    health_of = None
    if row.snapshot_date is not None:
        health_of = CustomerHealth(score=row.health, band=row.band, as_of=row.snapshot_date)
    probability = row.churn_probability
    return CustomerOut(
        **{name: getattr(customer, name) for name in _STORED},
        arr=from_cents(arr_cents),
        health=health_of,
        stage=row.stage,
        at_risk=bool(row.at_risk),
        next_renewal_due=row.next_renewal_due,
        churn_probability=probability,
        # SPEC §12: arr × churn probability, to the cent as /v1/metrics/health sums it (one formula).
        revenue_at_risk=None if probability is None else formulas.revenue_at_risk([(arr_cents, probability)]),
        open_interventions=int(row.open_interventions),
    )


def get_customer_view(
    session: Session, customer_id: str, *, today: date, churn_defaults: Mapping[str, float]
) -> CustomerOut:
    """One customer's read view, or NotFound."""
    view = customer_view(session, today=today, churn_defaults=churn_defaults)
    row = session.execute(view.stmt.where(Customer.id == customer_id)).first()
    if row is None:
        raise NotFound("customer", customer_id)
    return _out(row)


# --- The list: filters, sort and keyset pages (SPEC §12) --------------------------------------------------------


def _filtered(view: View, query: CustomerListQuery, today: date) -> Select[Any]:
    """The view restricted by every filter the query gives."""
    stmt, c = view.stmt, view.columns
    for name in ("segment", "region", "industry", "tier", "csm"):
        value = getattr(query, name)
        if value is not None:
            stmt = stmt.where(getattr(Customer, name) == value)
    if query.band is not None:
        stmt = stmt.where(c["band"] == query.band)
    if query.stage is not None:
        stmt = stmt.where(c["stage"] == query.stage)
    if query.at_risk is not None:
        stmt = stmt.where(c["at_risk"] == (true() if query.at_risk else false()))
    if query.renewal_due_within_days is not None:
        # The earliest open renewal is the one to look at: past due ones are due "within" any window.
        stmt = stmt.where(c["next_renewal_due"] <= today + timedelta(days=query.renewal_due_within_days))
    if query.min_arr is not None:
        stmt = stmt.where(c["arr"] >= to_cents(query.min_arr))
    if query.has_open_intervention is not None:
        stmt = stmt.where(c["open_interventions"] > 0 if query.has_open_intervention else c["open_interventions"] == 0)
    return stmt


def _bad_cursor() -> Unprocessable:
    return Unprocessable(
        "The cursor does not belong to this list and sort.",
        [{"loc": ["query", "cursor"], "msg": "not a cursor of this list and sort", "type": "value_error"}],
    )


def _key_text(name: str, value: Any) -> str:
    """A sort value as cursor text: whole cents, a float's exact repr, an ISO date."""
    if name == "arr":
        return str(int(value))
    if name == "next_renewal_due":
        return str(value.isoformat())
    return repr(float(value))


def _key_value(name: str, text: str) -> Any:
    """The sort value a cursor's text stands for; ValueError when it is not one."""
    if name == "arr":
        return int(text)
    if name == "next_renewal_due":
        return date.fromisoformat(text)
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _after(stmt: Select[Any], query: CustomerListQuery, key: ColumnElement[Any] | None) -> Select[Any]:
    """Rows after the cursor: by id for the default order; else after (value, id) with nulls last, in the sort's
    direction. A cursor issued for another sort is a 422."""
    after = query.after()
    if after is None:
        return stmt
    if query.sort is None or key is None:
        if len(after) != 1:
            raise _bad_cursor()
        return stmt.where(Customer.id > after[0])
    if len(after) not in (2, 3) or after[0] != query.sort:
        raise _bad_cursor()
    last_id = after[1]
    if len(after) == 2:  # the last row had no value: only null rows follow, in id order
        return stmt.where(key.is_(None), Customer.id > last_id)
    try:
        value = _key_value(query.sort.lstrip("-"), after[2])
    except ValueError:
        raise _bad_cursor() from None
    beyond = key < value if query.sort.startswith("-") else key > value
    return stmt.where(or_(beyond, and_(key == value, Customer.id > last_id), key.is_(None)))


def list_customer_views(
    session: Session, query: CustomerListQuery, *, today: date, churn_defaults: Mapping[str, float]
) -> Page[CustomerOut]:
    """A full page of the filtered view, in the query's sort (nulls last, ties by id) or in id order."""
    view = customer_view(session, today=today, churn_defaults=churn_defaults)
    name = query.sort.lstrip("-") if query.sort else None
    key = view.columns[name] if name else None
    stmt = _after(_filtered(view, query, today), query, key)
    if key is None:
        stmt = stmt.order_by(Customer.id)
    else:
        direction = key.desc() if query.sort and query.sort.startswith("-") else key.asc()
        stmt = stmt.order_by(direction.nulls_last(), Customer.id)
    rows = session.execute(stmt.limit(query.limit + 1)).all()
    items = [_out(row) for row in rows[: query.limit]]
    if len(rows) <= query.limit:
        return Page[CustomerOut](items=items, next_cursor=None)
    last = rows[query.limit - 1]
    if name is None or query.sort is None:
        cursor = [last.Customer.id]
    else:
        value = getattr(last, name)
        cursor = [query.sort, last.Customer.id] + ([] if value is None else [_key_text(name, value)])
    return Page[CustomerOut](items=items, next_cursor=encode_cursor(cursor))
