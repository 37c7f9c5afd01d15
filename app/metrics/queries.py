"""Set-based SQL shared by metrics: period tables and per-period ARR balances (SPEC §4)."""

from typing import Any

from sqlalchemy import CTE, Date, Integer, case, func, literal, select, union_all

from app.ledger.models import ArrChange
from app.metrics.periods import Period

MOVEMENT_COLUMNS = ("new", "reactivation", "upsell", "cross_sell", "downsell", "churn")


def periods_cte(periods: list[Period], name: str = "periods") -> CTE:
    """The periods as a table (pid, ps, pe); UNION ALL of literals works on SQLite and PostgreSQL alike."""
    selects = [
        select(
            literal(p.index, Integer).label("pid"), literal(p.start, Date).label("ps"), literal(p.end, Date).label("pe")
        )
        for p in periods
    ]
    return (union_all(*selects) if len(selects) > 1 else selects[0]).cte(name)


def balances_cte(periods: CTE, *, by_product: bool, name: str = "balances") -> CTE:
    """Per period and customer (and product): ARR before the period, ARR at its end, and its movements.

    ARR at start counts every change dated before `start`; ARR at end every change on or before `end`
    (SPEC §4). Movement sums are the changes dated inside the period, by type, as positive amounts.
    """
    inside = ArrChange.effective_date >= periods.c.ps
    columns: list[Any] = [
        periods.c.pid,
        ArrChange.customer_id.label("customer_id"),
        func.sum(case((ArrChange.effective_date < periods.c.ps, ArrChange.delta_cents), else_=0)).label("arr_start"),
        func.sum(ArrChange.delta_cents).label("arr_end"),
    ]
    for movement in MOVEMENT_COLUMNS:
        moved = case((inside & (ArrChange.movement_type == movement), func.abs(ArrChange.delta_cents)), else_=0)
        columns.append(func.sum(moved).label(movement))
    group = [periods.c.pid, ArrChange.customer_id]
    if by_product:
        columns.append(ArrChange.product.label("product"))
        group.append(ArrChange.product)
    stmt = select(*columns).select_from(periods).join(ArrChange, ArrChange.effective_date <= periods.c.pe)
    return stmt.group_by(*group).cte(name)
