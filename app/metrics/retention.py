"""`/v1/metrics/retention`: NRR, GRR, logo churn and ARR growth per period and group (SPEC §4)."""

from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from app import formulas
from app.metrics.groups import customer_group_column
from app.metrics.periods import Period, month_end, split_periods
from app.metrics.queries import MOVEMENT_COLUMNS, balances_cte, periods_cte
from app.metrics.schemas import MetricAnswer, RetentionQuery, RetentionRow, metric_meta
from app.models import ArrMonth, Customer
from app.money import from_cents

SUM_FIELDS = (
    "customers_start",
    "starting_arr",
    "ending_arr",
    "upsell",
    "cross_sell",
    "downsell",
    "churn",
    "reactivation",
    "churned_customers",
    "retained_arr",
    "total_starting_arr",
    "total_ending_arr",
    "new",
    "new_customers",
)


def _aggregate(session: Session, periods: list[Period], group_by: str | None) -> list[dict[str, Any]]:
    """One row per (period, group) of cent sums and counts, in one statement."""
    by_product = group_by == "product"
    balances = balances_cte(periods_cte(periods), by_product=by_product)
    cohort = balances.c.arr_start > 0  # the cohort: customers (of the product) paying at start (SPEC §4)

    def in_cohort(expression: ColumnElement[Any] | int) -> ColumnElement[Any]:
        return func.sum(case((cohort, expression), else_=0))

    group = balances.c.product if by_product else customer_group_column(group_by)  # type: ignore[arg-type]
    kept = case((balances.c.arr_end < balances.c.arr_start, balances.c.arr_end), else_=balances.c.arr_start)
    stmt = select(
        balances.c.pid,
        group.label("grp"),
        in_cohort(1).label("customers_start"),
        in_cohort(balances.c.arr_start).label("starting_arr"),
        in_cohort(balances.c.arr_end).label("ending_arr"),
        *[in_cohort(balances.c[m]).label(m) for m in MOVEMENT_COLUMNS if m != "new"],
        func.sum(case((cohort & (balances.c.arr_end == 0), 1), else_=0)).label("churned_customers"),
        in_cohort(kept).label("retained_arr"),
        func.sum(balances.c.arr_start).label("total_starting_arr"),
        func.sum(balances.c.arr_end).label("total_ending_arr"),
        func.sum(balances.c.new).label("new"),
        func.sum(case((balances.c.new > 0, 1), else_=0)).label("new_customers"),
    )
    if not by_product:
        stmt = stmt.join(Customer, Customer.id == balances.c.customer_id)
    result = session.execute(stmt.group_by(balances.c.pid, group).order_by(balances.c.pid, group))
    return [dict(row._mapping) for row in result]


def _whole_months(periods: list[Period]) -> bool:
    """Every period is one whole calendar month, so `arr_month` holds its changes exactly."""
    return all(p.start.day == 1 and p.end == month_end(p.start) for p in periods)


def _aggregate_months(session: Session, periods: list[Period], group_by: str | None) -> list[dict[str, Any]]:
    """`_aggregate` for whole-month periods, from the `arr_month` rollup instead of `arr_change`: same sums.

    A customer without a change in a month keeps its ARR B through it: it is in the cohort when B > 0 and adds B
    to the starting, ending, retained and both total ARRs, and nothing else. So per group and month it is enough
    to know the customers with a change that month (their rollup rows) and, from the months before, how many
    customers pay and the total ARR; the unchanged customers are those totals minus the changed ones' share.
    """
    first, last = periods[0].start, periods[-1].start
    s, e = ArrMonth.opening_cents, ArrMonth.opening_cents + ArrMonth.delta_cents
    inner = (
        select(
            customer_group_column(group_by).label("grp"),  # type: ignore[arg-type]
            case((ArrMonth.month >= first, ArrMonth.month), else_=None).label("bucket"),
            s.label("s"),
            e.label("e"),
            *[ArrMonth.__table__.c[m] for m in MOVEMENT_COLUMNS],
        )
        .join(Customer, Customer.id == ArrMonth.customer_id)
        .where(ArrMonth.month <= last)
        .subquery("changed")
    )
    # Per (group, month) over the customers with a change that month: the change in how many customers pay and in
    # total ARR, and the SUM_FIELDS of those customers (s = ARR before the month, e = after).
    c = inner.c
    cohort = c.s > 0

    def in_cohort(expression: ColumnElement[Any] | int) -> ColumnElement[Any]:
        return func.sum(case((cohort, expression), else_=0))

    stmt = (
        select(
            c.grp,
            c.bucket,
            func.sum(case((c.e > 0, 1), else_=0) - case((cohort, 1), else_=0)).label("paying_change"),
            func.sum(c.e - c.s).label("arr_change"),
            in_cohort(1).label("customers_start"),
            in_cohort(c.s).label("starting_arr"),
            in_cohort(c.e).label("ending_arr"),
            *[in_cohort(c[m]).label(m) for m in MOVEMENT_COLUMNS if m != "new"],
            func.sum(case((cohort & (c.e == 0), 1), else_=0)).label("churned_customers"),
            in_cohort(case((c.e < c.s, c.e), else_=c.s)).label("retained_arr"),
            func.sum(c.s).label("total_starting_arr"),
            func.sum(c.e).label("total_ending_arr"),
            func.sum(c.new).label("new"),
            func.sum(case((c.new > 0, 1), else_=0)).label("new_customers"),
        )
        .group_by(c.grp, c.bucket)
        .order_by(c.grp, c.bucket)
    )
    by_group: dict[Any, dict[Any, dict[str, int]]] = {}  # in the database's order of groups
    for row in session.execute(stmt):
        by_group.setdefault(row.grp, {})[row.bucket] = {
            k: int(v or 0) for k, v in row._mapping.items() if k not in ("grp", "bucket")
        }
    out: list[dict[str, Any]] = []
    for group, months in by_group.items():
        before = months.get(None)
        paying, arr, seen = (before["paying_change"], before["arr_change"], True) if before else (0, 0, False)
        for period in periods:
            changed = months.get(period.start)
            seen = seen or changed is not None
            if seen:
                sums = {name: (changed or {}).get(name, 0) for name in SUM_FIELDS}
                unchanged_paying = paying - sums["customers_start"]
                unchanged_arr = arr - sums["total_starting_arr"]
                sums["customers_start"] += unchanged_paying
                for name in ("starting_arr", "ending_arr", "retained_arr", "total_starting_arr", "total_ending_arr"):
                    sums[name] += unchanged_arr
                out.append({"pid": period.index, "grp": group, **sums})
            if changed is not None:
                paying += changed["paying_change"]
                arr += changed["arr_change"]
    out.sort(key=lambda r: r["pid"])  # stable: groups stay in the database's order within a period
    return out


def _row(period: Period, group: str | None, sums: dict[str, Any]) -> RetentionRow:
    """Apply the formulas to one (period, group) of sums; a missing sum is zero."""
    counts = {name: int(sums.get(name) or 0) for name in SUM_FIELDS}
    money = {
        name: from_cents(cents) or Decimal(0)
        for name, cents in counts.items()
        if name not in ("customers_start", "churned_customers", "new_customers")
    }
    customers_start, churned = counts["customers_start"], counts["churned_customers"]
    return RetentionRow(
        period_start=period.start,
        period_end=period.end,
        group=group,
        customers_start=customers_start,
        churned_customers=churned,
        new_customers=counts["new_customers"],
        **{k: v for k, v in money.items() if k != "retained_arr"},
        nrr=formulas.nrr(money["ending_arr"], money["starting_arr"]),
        grr=formulas.grr(money["retained_arr"], money["starting_arr"]),
        logo_churn_rate=formulas.logo_churn_rate(churned, customers_start),
        arr_growth=formulas.arr_growth(money["total_ending_arr"], money["total_starting_arr"]),
    )


def retention(session: Session, query: RetentionQuery) -> MetricAnswer[RetentionRow]:
    """Retention rows for every period (and group with data) of the query."""
    periods = split_periods(query.start, query.end, query.interval)
    if query.group_by != "product" and _whole_months(periods):
        sums = _aggregate_months(session, periods, query.group_by)
    else:
        sums = _aggregate(session, periods, query.group_by)
    rows: list[RetentionRow] = []
    for period in periods:
        found = [s for s in sums if s["pid"] == period.index]
        if query.group_by is None:  # an ungrouped period always has its row, zeros and nulls included
            rows.append(_row(period, None, found[0] if found else {}))
        else:
            rows.extend(_row(period, s["grp"], s) for s in found)
    return MetricAnswer[RetentionRow](rows=rows, meta=metric_meta(query, cohort="customers with ARR > 0 at start"))
