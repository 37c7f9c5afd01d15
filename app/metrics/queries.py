"""Set-based SQL shared by metrics: period tables and per-period ARR balances (SPEC §4)."""

from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import CTE, Date, DateTime, Integer, and_, case, cast, func, literal, select, union_all

from app.db import UTCDateTime, day_end
from app.ledger import service as ledger
from app.metrics.periods import Period
from app.models import ArrChange

MOVEMENT_COLUMNS = ("new", "reactivation", "upsell", "cross_sell", "downsell", "churn")


def periods_cte(periods: Sequence[Period], name: str = "periods", *, dialect: str = "", instants: bool = False) -> CTE:
    """The periods as a table, the one column vocabulary every metric joins to (SPEC §2 periods):

    - `pid`: the period's index (Period.index), `ps` and `pe`: its first and last day;
    - with `instants`, `at_start` and `at_end`: the first instant of `ps` and the first instant after `pe` (UTC),
      for timestamped events (at_start <= occurred_at < at_end).

    A UNION ALL of literal SELECTs, not VALUES (SQLite cannot name a VALUES list's columns): a 20-year range
    (MetricQuery's limit) is at most 241 months, plus 23 for the cost average, within SQLite's 500 terms per
    compound SELECT. With `dialect="postgresql"` the literals are CAST, so PostgreSQL sees typed values in the
    UNION; SQLite must keep the untyped literals (a CAST AS DATE would yield a number there).
    """
    typed = dialect == "postgresql"

    def value(bound: Any, bind_type: Any, sql_type: Any) -> Any:
        literal_value = literal(bound, bind_type)
        return cast(literal_value, sql_type) if typed else literal_value

    def columns(p: Period) -> list[Any]:
        found = [
            literal(p.index, Integer).label("pid"),
            value(p.start, Date, Date).label("ps"),
            value(p.end, Date, Date).label("pe"),
        ]
        if instants:
            start = datetime.combine(p.start, time(), tzinfo=UTC)
            found.append(value(start, UTCDateTime, DateTime(timezone=True)).label("at_start"))
            found.append(value(day_end(p.end), UTCDateTime, DateTime(timezone=True)).label("at_end"))
        return found

    selects = [select(*columns(p)) for p in periods]
    return (union_all(*selects) if len(selects) > 1 else selects[0]).cte(name)


def balances_cte(periods: CTE, *, by_product: bool, name: str = "balances") -> CTE:
    """Per period and customer (and product): ARR before the period, ARR at its end, and its movements.

    ARR at start counts every change dated before `start`; ARR at end every change on or before `end`
    (SPEC §4). Movement sums are the changes dated inside the period, by type, as positive amounts.

    The ledger is read once, not once per period: each customer's ARR before the first period, plus its changes
    inside each period; ARR at a period's end is then that opening ARR plus a running sum of the per-period net
    changes. This needs contiguous periods numbered in date order, which is what `split_periods` makes. A
    customer has a row in every period from the one of its first change on.
    """
    first_day = select(func.min(periods.c.ps)).scalar_subquery()
    last_day = select(func.max(periods.c.pe)).scalar_subquery()
    keys: list[Any] = [ArrChange.customer_id.label("customer_id")]
    if by_product:
        keys.append(ArrChange.product.label("product"))

    opening = (
        select(
            *keys,
            func.min(ArrChange.effective_date).label("first_change"),
            ledger.arr_before(first_day).label("opening"),
        )
        .where(ArrChange.effective_date <= last_day)
        .group_by(*keys)
        .cte(f"{name}_opening")
    )
    moved = [
        func.sum(case((ArrChange.movement_type == movement, func.abs(ArrChange.delta_cents)), else_=0)).label(movement)
        for movement in MOVEMENT_COLUMNS
    ]
    inside = (ArrChange.effective_date >= periods.c.ps) & (ArrChange.effective_date <= periods.c.pe)
    moves = (
        select(periods.c.pid, *keys, func.sum(ArrChange.delta_cents).label("delta"), *moved)
        .select_from(periods)
        .join(ArrChange, inside)
        .group_by(periods.c.pid, *keys)
        .cte(f"{name}_moves")
    )

    owner = [opening.c[key.name] for key in keys]
    matches = and_(moves.c.pid == periods.c.pid, *[moves.c[key.name] == opening.c[key.name] for key in keys])
    delta = func.coalesce(moves.c.delta, 0)
    arr_end = opening.c.opening + func.sum(delta).over(partition_by=owner, order_by=periods.c.pid)
    columns: list[Any] = [
        periods.c.pid,
        *owner,
        (arr_end - delta).label("arr_start"),
        arr_end.label("arr_end"),
        *[func.coalesce(moves.c[movement], 0).label(movement) for movement in MOVEMENT_COLUMNS],
    ]
    stmt = (
        select(*columns)
        .select_from(opening)
        .join(periods, opening.c.first_change <= periods.c.pe)
        .outerjoin(moves, matches)
    )
    return stmt.cte(name)
