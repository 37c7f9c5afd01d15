"""Renewal and cost-of-renewals metrics (SPEC §4): one set-based query each, then the formulas per row.

Periods (or months) enter the SQL as a small CTE of literal rows joined to the data, so every period and
group is aggregated by the database in one statement; Python only applies formulas to the aggregated rows.
"""

from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import type_coerce

from app import formulas
from app.metrics.groups import customer_group_column
from app.metrics.periods import Period, add_months, month_end, months_touched, split_periods
from app.metrics.queries import periods_cte
from app.metrics.schemas import (
    CostOfRenewalsRow,
    MetricAnswer,
    MetricQuery,
    RenewalsRow,
    metric_meta,
)
from app.models import Cost, Customer, Renewal
from app.money import money_from_cents


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _total(expr: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(expr), 0)


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return _total(case((condition, 1), else_=0))


def _cents(column: Any) -> ColumnElement[int]:
    """The raw integer cents of a money column, so SQL sums stay exact and from_cents converts at the edge."""
    return type_coerce(column, BigInteger)


def _renewal_sums(session: Session, query: MetricQuery) -> list[Any]:
    """Per (period, group): counts and cent sums of the renewals due in the period."""
    periods = periods_cte(split_periods(query.start, query.end, query.interval), dialect=_dialect(session))
    group = customer_group_column(query.group_by).label("grp")
    up, booked = _cents(Renewal.arr_up_for_renewal), _cents(Renewal.booked_arr)
    renewed, churned, still_open = (Renewal.status == s for s in ("renewed", "churned", "open"))
    closed = Renewal.status.in_(("renewed", "churned"))
    due = Renewal.due_date.between(periods.c.ps, periods.c.pe)
    if query.group_by is None:
        # Outer join: a period without renewals still gets its (zero) row.
        source, group_keys = periods.outerjoin(Renewal, due), []
    else:
        source = periods.join(Renewal, due).join(Customer, Customer.id == Renewal.customer_id)
        group_keys = [group]
    stmt = (
        select(
            periods.c.pid,
            group,
            func.count(Renewal.id).label("due_count"),
            _total(up).label("due_arr"),
            _count(renewed).label("renewed_count"),
            _count(churned).label("churned_count"),
            _count(still_open).label("open_count"),
            _total(case((still_open, up), else_=0)).label("open_arr"),
            # min(booked, up for renewal): the part of the renewal that was kept, never the expansion.
            _total(case((renewed, case((booked < up, booked), else_=up)), else_=0)).label("renewed_arr"),
            _total(case((closed, booked), else_=0)).label("booked_arr"),
            _total(case((closed, up), else_=0)).label("closed_arr"),
        )
        .select_from(source)
        .group_by(periods.c.pid, *group_keys)
        .order_by(periods.c.pid, *(k.asc().nulls_last() for k in group_keys))
    )
    return list(session.execute(stmt))


def renewals(session: Session, query: MetricQuery) -> MetricAnswer[RenewalsRow]:
    """`/v1/metrics/renewals` (SPEC §4): renewals due per period and group, raw and net renewal rates."""
    periods = split_periods(query.start, query.end, query.interval)
    rows = []
    for r in _renewal_sums(session, query):
        closed_arr, renewed_arr, booked_arr = (
            money_from_cents(r.closed_arr),
            money_from_cents(r.renewed_arr),
            money_from_cents(r.booked_arr),
        )
        rows.append(
            RenewalsRow(
                period_start=periods[r.pid].start,
                period_end=periods[r.pid].end,
                group=r.grp,
                due_count=r.due_count,
                due_arr=money_from_cents(r.due_arr),
                renewed_count=r.renewed_count,
                churned_count=r.churned_count,
                open_count=r.open_count,
                open_arr=money_from_cents(r.open_arr),
                renewed_arr=renewed_arr,
                booked_arr=booked_arr,
                # Open renewals are in neither rate: closed_arr holds only renewed and churned ones.
                raw_renewal_rate=formulas.raw_renewal_rate(renewed_arr, closed_arr),
                net_renewal_rate=formulas.net_renewal_rate(booked_arr, closed_arr),
            )
        )
    return MetricAnswer[RenewalsRow](rows=rows, meta=metric_meta(query))


def _calculation_months(start: date, end: date) -> tuple[list[date], int]:
    """Months to aggregate and the index of the first one shown.

    The moving average of the first shown month reaches 11 months back, and the trend compares the last
    month's average with the one 12 months earlier, which reaches 23 months back from the last month.
    """
    shown = months_touched(start, end)
    first = min(add_months(shown[0], -11), add_months(shown[-1], -23))
    months = months_touched(first, shown[-1])
    return months, months.index(shown[0])


def _cost_sums(session: Session, months: list[date], group_by: Any, cs_teams: list[str]) -> list[Any]:
    """Per (month, group): CS cost and renewed bookings in cents, how many records contributed, and the same two
    sums over the month and the 11 before it (the trailing twelve months, SPEC §13), in one statement."""
    m = periods_cte([Period(i, day, month_end(day)) for i, day in enumerate(months)], dialect=_dialect(session))
    group = customer_group_column(group_by)
    zero: ColumnElement[int] = literal_column("0")
    costs = (
        select(
            m.c.pid,
            group.label("grp"),
            _cents(Cost.amount).label("cost"),
            zero.label("booked"),
            literal_column("1").label("n"),
        )
        .select_from(m.join(Cost, Cost.month == m.c.ps).outerjoin(Customer, Customer.id == Cost.customer_id))
        .where(Cost.team.in_(cs_teams))
    )
    # Bookings count in the month the renewal closed, not the month it was due (SPEC §4: "closed renewed").
    closed = and_(Renewal.status == "renewed", Renewal.closed_on.between(m.c.ps, m.c.pe))
    bookings = select(
        m.c.pid,
        group.label("grp"),
        zero.label("cost"),
        _cents(Renewal.booked_arr).label("booked"),
        literal_column("1").label("n"),
    ).select_from(m.join(Renewal, closed).join(Customer, Customer.id == Renewal.customer_id))
    parts = [costs, bookings]
    if group_by is None:
        # One all-zero line per month, so an ungrouped month without data still gets its row.
        parts.append(select(m.c.pid, group.label("grp"), zero.label("cost"), zero.label("booked"), zero.label("n")))
    u = union_all(*parts).subquery()
    monthly = (
        select(
            u.c.pid,
            u.c.grp,
            _total(u.c.cost).label("cost"),
            _total(u.c.booked).label("booked"),
            _total(u.c.n).label("n"),
        )
        .group_by(u.c.pid, u.c.grp)
        .subquery("monthly")
    )
    # Each month joined to the monthly sums of itself and the 11 months before it: the month's own figures are the
    # rows with its index, the trailing twelve months' the whole window. A group gets a row for every month whose
    # window holds any of its data, so a month without records still has its TTM (the trend needs it).
    w = m.alias("ttm_months")
    own = monthly.c.pid == w.c.pid
    stmt = (
        select(
            w.c.pid,
            monthly.c.grp,
            _total(case((own, monthly.c.cost), else_=0)).label("cost"),
            _total(case((own, monthly.c.booked), else_=0)).label("booked"),
            _total(case((own, monthly.c.n), else_=0)).label("n"),
            _total(monthly.c.cost).label("ttm_cost"),
            _total(monthly.c.booked).label("ttm_booked"),
        )
        .select_from(w.join(monthly, monthly.c.pid.between(w.c.pid - 11, w.c.pid)))
        .group_by(w.c.pid, monthly.c.grp)
        .order_by(w.c.pid, monthly.c.grp.asc().nulls_last())
    )
    return list(session.execute(stmt))


def cost_of_renewals(session: Session, query: MetricQuery, *, cs_teams: list[str]) -> MetricAnswer[CostOfRenewalsRow]:
    """`/v1/metrics/cost-of-renewals` (SPEC §4, §13): CS cost per $1K renewed per month, its 12-month average and
    trend, and the trailing twelve months' cost per $1K (ratio of sums) and its trend."""
    months, first_shown = _calculation_months(query.start, query.end)
    per_group: dict[str | None, dict[int, Any]] = {}
    for r in _cost_sums(session, months, query.group_by, cs_teams):
        per_group.setdefault(r.grp, {})[r.pid] = r
    rows: list[CostOfRenewalsRow] = []
    trends: list[dict[str, Any]] = []
    for group, series in per_group.items():
        unit = [
            formulas.cost_per_1k(money_from_cents(s.cost), money_from_cents(s.booked)) if (s := series.get(i)) else None
            for i in range(len(months))
        ]
        ttm = [
            formulas.ttm_cost_per_1k(money_from_cents(s.ttm_cost), money_from_cents(s.ttm_booked))
            if (s := series.get(i))
            else None
            for i in range(len(months))
        ]
        averages = [formulas.moving_average(unit, i) for i in range(len(months))]
        last = len(months) - 1
        trends.append(
            {
                "group": group,
                "trend": formulas.cost_trend(averages[last][0], averages[last - 12][0]),
                # The same rule on the TTM ratio: its latest value against the one twelve months earlier (SPEC §13).
                "ttm_trend": formulas.cost_trend(ttm[last], ttm[last - 12]),
            }
        )
        for i in range(first_shown, len(months)):
            s = series.get(i)
            if s is None or (query.group_by is not None and not s.n):
                continue
            rows.append(
                CostOfRenewalsRow(
                    period_start=months[i],
                    period_end=month_end(months[i]),
                    group=group,
                    cs_cost=money_from_cents(s.cost),
                    renewal_bookings=money_from_cents(s.booked),
                    cost_per_1k=unit[i],
                    moving_avg_12m=averages[i][0],
                    months_in_average=averages[i][1],
                    ttm_cs_cost=money_from_cents(s.ttm_cost),
                    ttm_renewal_bookings=money_from_cents(s.ttm_booked),
                    ttm_cost_per_1k=ttm[i],
                )
            )
    rows.sort(key=lambda row: (row.period_start, row.group is None, row.group or ""))
    return MetricAnswer[CostOfRenewalsRow](rows=rows, meta=_cost_meta(query, cs_teams, trends))


def _cost_meta(query: MetricQuery, cs_teams: list[str], trends: list[dict[str, Any]]) -> dict[str, Any]:
    """Ungrouped: `trend` and `ttm_trend` of the whole book. Grouped: both are null and `trends` lists each group's."""
    extra: dict[str, Any] = {"cs_teams": cs_teams, "interval": "month"}
    if query.group_by is None:
        extra["trend"] = trends[0]["trend"] if trends else None
        extra["ttm_trend"] = trends[0]["ttm_trend"] if trends else None
    else:
        extra["trend"] = None
        extra["ttm_trend"] = None
        extra["trends"] = trends
    return metric_meta(query, **extra)
