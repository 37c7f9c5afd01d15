"""Renewal and cost-of-renewals metrics (SPEC §4): one set-based query each, then the formulas per row.

Periods (or months) enter the SQL as a small CTE of literal rows joined to the data, so every period and
group is aggregated by the database in one statement; Python only applies formulas to the aggregated rows.
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import type_coerce

from app.costs.models import Cost
from app.customers.models import Customer
from app.metrics import formulas
from app.metrics.groups import customer_group_column
from app.metrics.periods import Period, add_months, month_end, months_touched, split_periods
from app.metrics.schemas import MetricAnswer, MetricQuery, MetricRow, Ratio, metric_meta
from app.money import MoneyTotal, from_cents
from app.renewals.models import Renewal

Trend = Literal["improving", "worsening", "flat"]


class RenewalsRow(MetricRow):
    """Renewals due in the period; open ones count in due/open figures but in neither rate."""

    due_count: int
    due_arr: MoneyTotal
    renewed_count: int
    churned_count: int
    open_count: int
    open_arr: MoneyTotal
    renewed_arr: MoneyTotal
    booked_arr: MoneyTotal
    raw_renewal_rate: Ratio | None
    net_renewal_rate: Ratio | None


class CostOfRenewalsRow(MetricRow):
    """One calendar month: CS cost against ARR renewed (closed) that month, its 12-month average, and the ratio of
    the trailing twelve months' sums (SPEC §13)."""

    cs_cost: MoneyTotal
    renewal_bookings: MoneyTotal
    cost_per_1k: Ratio | None
    moving_avg_12m: Ratio | None
    months_in_average: int
    ttm_cs_cost: MoneyTotal
    ttm_renewal_bookings: MoneyTotal
    ttm_cost_per_1k: Ratio | None


class CostOfRenewalsQuery(MetricQuery):
    """The metric query; the metric is monthly by definition, so `interval` may only be `month`."""

    interval: Literal["month"] | None = None


def _periods_cte(session: Session, periods: Sequence[Period]) -> Any:
    """The periods as rows (idx, period_start, period_end) of a CTE built from literal SELECTs."""
    # Not VALUES: SQLite cannot name a VALUES list's columns. A 20-year range (MetricQuery's limit) is at most
    # 241 months, plus 23 for the cost average: within SQLite's 500 terms per compound SELECT.
    # PostgreSQL needs the dates typed; SQLite must not get CAST(... AS DATE) (it would yield a number).
    typed = session.get_bind().dialect.name == "postgresql"

    def day(value: date) -> ColumnElement[Any]:
        return cast(literal(value, Date), Date) if typed else literal(value, Date)

    rows = [
        select(
            literal(p.index, Integer).label("idx"), day(p.start).label("period_start"), day(p.end).label("period_end")
        )
        for p in periods
    ]
    return union_all(*rows).cte("periods")


def _total(expr: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(expr), 0)


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return _total(case((condition, 1), else_=0))


def _cents(column: Any) -> ColumnElement[int]:
    """The raw integer cents of a money column, so SQL sums stay exact and from_cents converts at the edge."""
    return type_coerce(column, BigInteger)


def _renewal_sums(session: Session, query: MetricQuery) -> list[Any]:
    """Per (period, group): counts and cent sums of the renewals due in the period."""
    periods = _periods_cte(session, split_periods(query.start, query.end, query.interval))
    group = customer_group_column(query.group_by).label("grp")
    up, booked = _cents(Renewal.arr_up_for_renewal), _cents(Renewal.booked_arr)
    renewed, churned, still_open = (Renewal.status == s for s in ("renewed", "churned", "open"))
    closed = Renewal.status.in_(("renewed", "churned"))
    due = Renewal.due_date.between(periods.c.period_start, periods.c.period_end)
    if query.group_by is None:
        # Outer join: a period without renewals still gets its (zero) row.
        source, group_keys = periods.outerjoin(Renewal, due), []
    else:
        source = periods.join(Renewal, due).join(Customer, Customer.id == Renewal.customer_id)
        group_keys = [group]
    stmt = (
        select(
            periods.c.idx,
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
        .group_by(periods.c.idx, *group_keys)
        .order_by(periods.c.idx, *(k.asc().nulls_last() for k in group_keys))
    )
    return list(session.execute(stmt))


def _money(cents: int | Decimal | None) -> Decimal:
    """SQL cents (a PostgreSQL SUM comes back as Decimal) to exact units at the edge."""
    return from_cents(int(cents or 0)) or Decimal("0.00")


def renewals(session: Session, query: MetricQuery) -> MetricAnswer[RenewalsRow]:
    """`/v1/metrics/renewals` (SPEC §4): renewals due per period and group, raw and net renewal rates."""
    periods = split_periods(query.start, query.end, query.interval)
    rows = []
    for r in _renewal_sums(session, query):
        closed_arr, renewed_arr, booked_arr = _money(r.closed_arr), _money(r.renewed_arr), _money(r.booked_arr)
        rows.append(
            RenewalsRow(
                period_start=periods[r.idx].start,
                period_end=periods[r.idx].end,
                group=r.grp,
                due_count=r.due_count,
                due_arr=_money(r.due_arr),
                renewed_count=r.renewed_count,
                churned_count=r.churned_count,
                open_count=r.open_count,
                open_arr=_money(r.open_arr),
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
    m = _periods_cte(session, [Period(i, day, month_end(day)) for i, day in enumerate(months)])
    group = customer_group_column(group_by)
    zero: ColumnElement[int] = literal_column("0")
    costs = (
        select(
            m.c.idx,
            group.label("grp"),
            _cents(Cost.amount).label("cost"),
            zero.label("booked"),
            literal_column("1").label("n"),
        )
        .select_from(m.join(Cost, Cost.month == m.c.period_start).outerjoin(Customer, Customer.id == Cost.customer_id))
        .where(Cost.team.in_(cs_teams))
    )
    # Bookings count in the month the renewal closed, not the month it was due (SPEC §4: "closed renewed").
    closed = and_(Renewal.status == "renewed", Renewal.closed_on.between(m.c.period_start, m.c.period_end))
    bookings = select(
        m.c.idx,
        group.label("grp"),
        zero.label("cost"),
        _cents(Renewal.booked_arr).label("booked"),
        literal_column("1").label("n"),
    ).select_from(m.join(Renewal, closed).join(Customer, Customer.id == Renewal.customer_id))
    parts = [costs, bookings]
    if group_by is None:
        # One all-zero line per month, so an ungrouped month without data still gets its row.
        parts.append(select(m.c.idx, group.label("grp"), zero.label("cost"), zero.label("booked"), zero.label("n")))
    u = union_all(*parts).subquery()
    monthly = (
        select(
            u.c.idx,
            u.c.grp,
            _total(u.c.cost).label("cost"),
            _total(u.c.booked).label("booked"),
            _total(u.c.n).label("n"),
        )
        .group_by(u.c.idx, u.c.grp)
        .subquery("monthly")
    )
    # Each month joined to the monthly sums of itself and the 11 months before it: the month's own figures are the
    # rows with its index, the trailing twelve months' the whole window. A group gets a row for every month whose
    # window holds any of its data, so a month without records still has its TTM (the trend needs it).
    w = m.alias("ttm_months")
    own = monthly.c.idx == w.c.idx
    stmt = (
        select(
            w.c.idx,
            monthly.c.grp,
            _total(case((own, monthly.c.cost), else_=0)).label("cost"),
            _total(case((own, monthly.c.booked), else_=0)).label("booked"),
            _total(case((own, monthly.c.n), else_=0)).label("n"),
            _total(monthly.c.cost).label("ttm_cost"),
            _total(monthly.c.booked).label("ttm_booked"),
        )
        .select_from(w.join(monthly, monthly.c.idx.between(w.c.idx - 11, w.c.idx)))
        .group_by(w.c.idx, monthly.c.grp)
        .order_by(w.c.idx, monthly.c.grp.asc().nulls_last())
    )
    return list(session.execute(stmt))


def _trend(latest: Decimal | None, year_before: Decimal | None) -> Trend | None:
    """Lower cost per $1K renewed is better; unknown when either average is undefined (SPEC §4)."""
    if latest is None or year_before is None:
        return None
    if latest < year_before:
        return "improving"
    return "worsening" if latest > year_before else "flat"


def cost_of_renewals(session: Session, query: MetricQuery, *, cs_teams: list[str]) -> MetricAnswer[CostOfRenewalsRow]:
    """`/v1/metrics/cost-of-renewals` (SPEC §4, §13): CS cost per $1K renewed per month, its 12-month average and
    trend, and the trailing twelve months' cost per $1K (ratio of sums) and its trend."""
    months, first_shown = _calculation_months(query.start, query.end)
    per_group: dict[str | None, dict[int, Any]] = {}
    for r in _cost_sums(session, months, query.group_by, cs_teams):
        per_group.setdefault(r.grp, {})[r.idx] = r
    rows: list[CostOfRenewalsRow] = []
    trends: list[dict[str, Any]] = []
    for group, series in per_group.items():
        unit = [
            formulas.cost_per_1k(_money(s.cost), _money(s.booked)) if (s := series.get(i)) else None
            for i in range(len(months))
        ]
        ttm = [
            formulas.ttm_cost_per_1k(_money(s.ttm_cost), _money(s.ttm_booked)) if (s := series.get(i)) else None
            for i in range(len(months))
        ]
        averages = [_window(unit, i) for i in range(len(months))]
        last = len(months) - 1
        trends.append(
            {
                "group": group,
                "trend": _trend(averages[last][0], averages[last - 12][0]),
                # The same rule on the TTM ratio: its latest value against the one twelve months earlier (SPEC §13).
                "ttm_trend": _trend(ttm[last], ttm[last - 12]),
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
                    cs_cost=_money(s.cost),
                    renewal_bookings=_money(s.booked),
                    cost_per_1k=unit[i],
                    moving_avg_12m=averages[i][0],
                    months_in_average=averages[i][1],
                    ttm_cs_cost=_money(s.ttm_cost),
                    ttm_renewal_bookings=_money(s.ttm_booked),
                    ttm_cost_per_1k=ttm[i],
                )
            )
    rows.sort(key=lambda row: (row.period_start, row.group is None, row.group or ""))
    return MetricAnswer[CostOfRenewalsRow](rows=rows, meta=_cost_meta(query, cs_teams, trends))


def _window(values: list[Decimal | None], index: int) -> tuple[Decimal | None, int]:
    """Mean of the defined values of month `index` and the 11 before it, and how many were defined."""
    window = values[max(0, index - 11) : index + 1]
    return formulas.mean(window), sum(v is not None for v in window)


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
