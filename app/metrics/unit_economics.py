"""`/v1/metrics/unit-economics`: ARPA, CAC, CEC, CRC, monthly logo churn, lifetime and CLV (SPEC §4).

Three set-based statements: period balances (paying, new, expanding and retained customers), costs by motion
per period (linked to a customer or not), and monthly balances for the churn mean. Python only matches the sums
by (period, group), splits the costs without a customer among the groups (SPEC §13) and applies the formulas.
"""

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BigInteger, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import type_coerce

from app import formulas
from app.metrics.groups import Key, customer_group_column
from app.metrics.periods import Period, month_end, month_start, months_touched, split_periods
from app.metrics.queries import balances_cte, periods_cte
from app.metrics.schemas import MetricAnswer, MetricQuery, UnitEconomicsRow, metric_meta
from app.models import Cost, Customer
from app.money import CENT, money_from_cents
from app.types import MOTIONS

Cents = dict[str, int]  # cents by motion
_MOTIONS: tuple[str, ...] = MOTIONS

# SPEC §13: costs without a customer are split among the groups by each metric's own denominator.
ALLOCATION_KEY = {"acquire": "new_customers", "expand": "expanding_customers", "retain": "retained_customers"}
ALLOCATION_RULE = (
    "costs linked to a customer stay in that customer's group; costs without a customer are split among the "
    "groups in proportion to each metric's own denominator: acquire cost by new customers, expand cost by "
    "expanding customers, retain cost by retained customers, in whole cents by largest remainder so the shares "
    "add up exactly to the unlinked total; a group with none of those customers gets none, and a period where no "
    "group has any leaves that cost unallocated (listed in meta.unallocated, in no row)"
)


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _balance_sums(session: Session, periods: list[Period], group_by: str | None) -> dict[Key, Any]:
    """Per (period, group): paying customers and their ARR at end, new, expanding and retained customers."""
    b = balances_cte(periods_cte(periods), by_product=False)
    group = customer_group_column(group_by)  # type: ignore[arg-type]
    paying = b.c.arr_end > 0
    stmt = (
        select(
            b.c.pid,
            group.label("grp"),
            _count(paying).label("paying_customers"),
            func.coalesce(func.sum(case((paying, b.c.arr_end), else_=0)), 0).label("arr_end"),
            _count(b.c.new > 0).label("new_customers"),
            # Any customer with expansion counts, new ones included: the expand motion spends on all of them.
            _count(b.c.upsell + b.c.cross_sell > 0).label("expanding_customers"),
            _count((b.c.arr_start > 0) & paying).label("retained_customers"),
        )
        .select_from(b.join(Customer, Customer.id == b.c.customer_id))
        .group_by(b.c.pid, group)
    )
    return {(r.pid, r.grp): r for r in session.execute(stmt)}


def _cost_sums(
    session: Session, periods: list[Period], group_by: str | None
) -> tuple[dict[Key, Cents], dict[int, Cents]]:
    """Cost cents by motion over every calendar month each period touches: per (period, group) for costs linked to
    a customer, and per period for costs without one."""
    # A cost is stored on its month's first day: widening each period to its first month's start takes in the
    # whole of every month it touches, so a period starting mid-month still carries that month's costs.
    table = periods_cte([Period(p.index, month_start(p.start), p.end) for p in periods], name="cost_periods")
    group = customer_group_column(group_by)  # type: ignore[arg-type]
    linked = case((Cost.customer_id.is_(None), 0), else_=1)
    cents = type_coerce(Cost.amount, BigInteger)
    stmt = (
        select(
            table.c.pid,
            group.label("grp"),
            linked.label("linked"),
            *[func.coalesce(func.sum(case((Cost.motion == m, cents), else_=0)), 0).label(m) for m in _MOTIONS],
        )
        .select_from(
            table.join(Cost, Cost.month.between(table.c.ps, table.c.pe)).outerjoin(
                Customer, Customer.id == Cost.customer_id
            )
        )
        .group_by(table.c.pid, group, linked)
    )
    by_group: dict[Key, Cents] = {}
    unlinked: dict[int, Cents] = {}
    for r in session.execute(stmt):
        amounts = {m: int(getattr(r, m) or 0) for m in _MOTIONS}
        if r.linked:
            by_group[(r.pid, r.grp)] = amounts
        else:
            unlinked[r.pid] = amounts
    return by_group, unlinked


def _allocated(
    pid: int, groups: list[str | None], balances: dict[Key, Any], linked: dict[Key, Cents], unlinked: Cents | None
) -> tuple[dict[str | None, Cents], Cents]:
    """One period's cost cents per group: its linked costs plus its share of the unlinked ones (SPEC §13), and
    what no group could take (every group's denominator zero)."""
    costs = {g: dict(linked.get((pid, g), dict.fromkeys(_MOTIONS, 0))) for g in groups}
    left = dict.fromkeys(_MOTIONS, 0)
    for motion, key in ALLOCATION_KEY.items():
        total = (unlinked or {}).get(motion, 0)
        weights = [int(getattr(balances.get((pid, g)), key, 0) or 0) for g in groups]
        shares = formulas.allocate_cents(total, weights)
        for g, share in zip(groups, shares, strict=True):
            costs[g][motion] += share
        left[motion] = total - sum(shares)
    return costs, left


def _monthly_churn(session: Session, months: list[date], group_by: str | None) -> dict[Key, Decimal | None]:
    """Per (month index, group): the month's logo churn rate (None when its cohort is empty)."""
    table = periods_cte([Period(i, m, month_end(m)) for i, m in enumerate(months)], name="months")
    b = balances_cte(table, by_product=False, name="month_balances")
    group = customer_group_column(group_by)  # type: ignore[arg-type]
    cohort = b.c.arr_start > 0
    stmt = (
        select(
            b.c.pid,
            group.label("grp"),
            _count(cohort).label("cohort"),
            _count(cohort & (b.c.arr_end == 0)).label("churned"),
        )
        .select_from(b.join(Customer, Customer.id == b.c.customer_id))
        .group_by(b.c.pid, group)
    )
    return {(r.pid, r.grp): formulas.logo_churn_rate(int(r.churned), int(r.cohort)) for r in session.execute(stmt)}


def _cent(amount: Decimal | None) -> Decimal | None:
    """A per-customer amount rounded to cents at the edge, so JSON and CSV show the same figure."""
    return None if amount is None else amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _row(
    period: Period, group: str | None, sums: dict[str, Any], rates: list[Decimal | None], margin: Decimal
) -> UnitEconomicsRow:
    """Apply the SPEC §4 formulas to one (period, group) of sums and monthly churn rates."""
    balances, costs = sums.get("balances"), sums.get("costs") or {}
    paying, new, expanding, retained = (
        int(getattr(balances, name, 0) or 0)
        for name in ("paying_customers", "new_customers", "expanding_customers", "retained_customers")
    )
    acquire, expand, retain = (money_from_cents(costs.get(motion, 0)) for motion in _MOTIONS)
    mrr = formulas.mrr(money_from_cents(getattr(balances, "arr_end", 0)))
    arpa = formulas.per_customer(mrr, paying)
    churn = formulas.monthly_logo_churn(rates)
    lifetime = formulas.lifetime_months(churn)
    return UnitEconomicsRow(
        period_start=period.start,
        period_end=period.end,
        group=group,
        paying_customers=paying,
        mrr=_cent(mrr),
        arpa_monthly=_cent(arpa),
        new_customers=new,
        acquire_cost=acquire,
        cac=_cent(formulas.per_customer(acquire, new)),
        expanding_customers=expanding,
        expand_cost=expand,
        cec=_cent(formulas.per_customer(expand, expanding)),
        retained_customers=retained,
        retain_cost=retain,
        crc=_cent(formulas.per_customer(retain, retained)),
        churn_months=sum(r is not None for r in rates),
        monthly_logo_churn=churn,
        lifetime_months=lifetime,
        clv=_cent(formulas.clv(arpa, margin, lifetime)),
    )


def unit_economics(session: Session, query: MetricQuery, *, gross_margin: Decimal) -> MetricAnswer[UnitEconomicsRow]:
    """Unit economics rows for every period (and every group with customers or linked costs) of the query."""
    periods = split_periods(query.start, query.end, query.interval)
    months = months_touched(query.start, query.end)
    balances = _balance_sums(session, periods, query.group_by)
    linked, unlinked = _cost_sums(session, periods, query.group_by)
    churn = _monthly_churn(session, months, query.group_by)
    rows: list[UnitEconomicsRow] = []
    unallocated: list[dict[str, Any]] = []
    for period in periods:
        month_ids = [months.index(m) for m in months_touched(period.start, period.end)]
        if query.group_by is None:  # an ungrouped period always has its row, zeros and nulls included
            groups: list[str | None] = [None]
            # Ungrouped, every cost is in the one row: nothing is split, nothing is left over.
            costs: dict[str | None, Cents] = {None: _add(linked.get((period.index, None)), unlinked.get(period.index))}
        else:
            found = {g for (pid, g) in [*balances, *linked] if pid == period.index}
            found |= {g for (i, g) in churn if i in month_ids}
            groups = sorted(found, key=lambda g: (g is None, g or ""))
            costs, left = _allocated(period.index, groups, balances, linked, unlinked.get(period.index))
            if any(left.values()):
                unallocated.append(_unallocated(period, left))
        for group in groups:
            sums = {"balances": balances.get((period.index, group)), "costs": costs[group]}
            rates = [churn.get((i, group)) for i in month_ids]
            rows.append(_row(period, group, sums, rates, gross_margin))
    meta = metric_meta(
        query,
        gross_margin=float(gross_margin),
        cost_months="every calendar month the period touches",
        allocation=None if query.group_by is None else ALLOCATION_RULE,
        unallocated=unallocated,
    )
    return MetricAnswer[UnitEconomicsRow](rows=rows, meta=meta)


def _add(*parts: Cents | None) -> Cents:
    """Cent sums by motion of several parts (missing parts count as zero)."""
    return {m: sum((p or {}).get(m, 0) for p in parts) for m in _MOTIONS}


def _unallocated(period: Period, left: Cents) -> dict[str, Any]:
    """A period's costs without a customer that no group could take, as meta shows them."""
    return {
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        **{f"{motion}_cost": float(money_from_cents(cents)) for motion, cents in left.items()},
    }
