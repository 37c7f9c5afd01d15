"""Set-based SQL for health components: one query per component for a whole set of customers (SPEC §6)."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, case, distinct, func, select, type_coerce
from sqlalchemy.orm import Session

from app.health.schemas import ComponentIn
from app.usage.models import UsageEvent, from_micros

_RAW_VALUE = type_coerce(UsageEvent.value, BigInteger)  # millionths, summed exactly in SQL


def day_end(as_of: date) -> datetime:
    """The first instant after `as_of` (UTC): events strictly before it count for that day."""
    return datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)


def _filters(kind: str, where: dict[str, str] | None, end: datetime, customers: Sequence[str] | None) -> list[Any]:
    conditions: list[ColumnElement[bool]] = [UsageEvent.kind == kind, UsageEvent.occurred_at < end]
    for key, value in (where or {}).items():
        conditions.append(UsageEvent.properties[key].as_string() == value)
    if customers is not None:
        conditions.append(UsageEvent.customer_id.in_(customers))
    return conditions


def latest_values(
    session: Session, *, kind: str, where: dict[str, str] | None, as_of: date, customers: Sequence[str] | None
) -> dict[str, tuple[Decimal, datetime]]:
    """Each customer's latest value of `kind` up to as_of, with when it occurred (ties: highest id)."""
    rank = func.row_number().over(
        partition_by=UsageEvent.customer_id, order_by=(UsageEvent.occurred_at.desc(), UsageEvent.id.desc())
    )
    ranked = (
        select(UsageEvent.customer_id, _RAW_VALUE.label("value"), UsageEvent.occurred_at, rank.label("rn"))
        .where(*_filters(kind, where, day_end(as_of), customers))
        .subquery()
    )
    stmt = select(ranked.c.customer_id, ranked.c.value, ranked.c.occurred_at).where(ranked.c.rn == 1)
    result: dict[str, tuple[Decimal, datetime]] = {}
    for customer_id, micros, occurred in session.execute(stmt):
        value = from_micros(micros)
        assert value is not None  # noqa: S101 - the column is NOT NULL
        result[customer_id] = (value, occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC))
    return result


def _window_stmt(component: ComponentIn, as_of: date, customers: Sequence[str] | None) -> Select[Any]:
    end = day_end(as_of)
    in_window = UsageEvent.occurred_at >= end - timedelta(days=component.window_days)
    if component.aggregate == "distinct":
        assert component.property is not None  # noqa: S101 - the schema requires it
        measure: Any = func.count(distinct(case((in_window, UsageEvent.properties[component.property].as_string()))))
    else:
        measure = func.sum(case((in_window, _RAW_VALUE)))
    return (
        select(UsageEvent.customer_id, func.count(case((in_window, 1))), measure)
        .where(*_filters(component.kind, component.where, end, customers))
        .group_by(UsageEvent.customer_id)
    )


def component_raw(
    session: Session, component: ComponentIn, *, as_of: date, customers: Sequence[str] | None
) -> dict[str, Decimal | None]:
    """SPEC §6 raw values for every customer that ever had the component's events up to as_of.

    A customer missing from the answer has no data. An empty window is 0 for count, sum and distinct, and
    no data (None) for avg and last. Per-seat division happens in the service, which knows the seats.
    """
    if component.aggregate == "last":
        start = day_end(as_of) - timedelta(days=component.window_days)
        latest = latest_values(session, kind=component.kind, where=component.where, as_of=as_of, customers=customers)
        return {cid: (value if occurred >= start else None) for cid, (value, occurred) in latest.items()}
    result: dict[str, Decimal | None] = {}
    for customer_id, count, measure in session.execute(_window_stmt(component, as_of, customers)):
        if component.aggregate == "count":
            result[customer_id] = Decimal(count)
        elif component.aggregate == "distinct":
            result[customer_id] = Decimal(measure)
        elif component.aggregate == "sum":
            result[customer_id] = from_micros(measure) if count else Decimal(0)
        else:  # avg
            total = from_micros(measure)
            result[customer_id] = total / count if count and total is not None else None
    return result
