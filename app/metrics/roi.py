"""`/v1/metrics/roi`: what the interventions started in each period earned and cost (SPEC §5).

Attribution comes from app.interventions (one definition for the intervention view and this metric). Ungrouped,
`cost` is the period's CS cost — the program's ROI; grouped, it is the group's own intervention cost.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import formulas
from app.costs.models import Cost
from app.customers.models import Customer
from app.health import scoring
from app.health import service as health_service
from app.interventions import service as interventions_service
from app.interventions.models import Intervention
from app.metrics.periods import Period, months_touched, split_periods
from app.metrics.schemas import CustomerGroup, MetricAnswer, MetricQuery, MetricRow, Ratio, metric_meta
from app.money import MoneyTotal
from app.schemas import Number

InterventionGroup = Literal["type", "framework", "owner"]


class RoiQuery(MetricQuery):
    """ROI groups by intervention type, framework or owner as well as by customer attribute."""

    # Widens the base's choices on purpose: only ROI splits by intervention fields.
    group_by: CustomerGroup | InterventionGroup | None = Field(  # type: ignore[assignment]
        None, description="type, framework, owner, or a customer attribute."
    )


class RoiRow(MetricRow):
    """Interventions started in the period: outcomes, attributed revenue, cost, ROI, health lift."""

    interventions: int
    measured: int
    outcome_rate: Ratio | None
    retained_arr: MoneyTotal
    expanded_arr: MoneyTotal
    attributed_revenue: MoneyTotal
    cost: MoneyTotal
    roi: Ratio | None
    avg_health_delta: Number | None
    baseline_health_delta: Number | None
    health_lift: Number | None


def cs_cost(session: Session, start: date, end: date, cs_teams: Sequence[str]) -> Decimal:
    """Σ cost of the CS teams over every calendar month [start, end] touches (SPEC §3 CS cost)."""
    months = months_touched(start, end)
    total = session.scalar(
        select(func.sum(Cost.amount)).where(
            Cost.team.in_(list(cs_teams)), Cost.month >= months[0], Cost.month <= months[-1]
        )
    )
    return total or Decimal(0)


class _HealthCache:
    """Health scores of many customers on a few dates, computed once per date (point in time)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.spec = health_service.current_model(session)
        self.by_day: dict[date, dict[str, float | None]] = {}

    def scores(self, day: date) -> dict[str, float | None]:
        if day not in self.by_day:
            health = health_service.compute_health(self.session, as_of=day, customers=None, spec=self.spec)
            self.by_day[day] = {cid: h.score for cid, h in health.items()}
        return self.by_day[day]


def _mean(values: list[Decimal]) -> Decimal | None:
    return formulas.mean(values)


def health_deltas(session: Session, rows: list[Intervention], today: date) -> dict[str, tuple[Decimal, Decimal | None]]:
    """Per measured intervention: its health change, and the mean change of same-band peers without one."""
    cache = _HealthCache(session)
    all_started = session.execute(
        select(Intervention.customer_id, Intervention.started_on, Intervention.window_end).where(
            Intervention.started_on.is_not(None)
        )
    )
    windows = list(all_started)
    bands = cache.spec.model.bands
    result: dict[str, tuple[Decimal, Decimal | None]] = {}
    for row in rows:
        if row.started_on is None:
            continue
        measured_on = row.started_on + timedelta(days=int(row.expected["measure_after_days"]))
        if measured_on > today:
            continue
        before, after = cache.scores(row.started_on), cache.scores(measured_on)
        own_before, own_after = before.get(row.customer_id), after.get(row.customer_id)
        if own_before is None or own_after is None:
            continue
        band = (row.context or {}).get("band")
        # Peers: customers with no intervention window overlapping this one.
        start = row.started_on
        busy = {c for c, s, e in windows if s is not None and s <= measured_on and (e is None or e >= start)}
        peers = [
            Decimal(str(after[c])) - Decimal(str(b))
            for c, b in before.items()
            if c not in busy
            and b is not None
            and after.get(c) is not None
            and scoring.band_of(b, red_below=bands.red_below, green_from=bands.green_from) == band
        ]
        result[row.id] = (Decimal(str(own_after)) - Decimal(str(own_before)), _mean(peers))
    return result


def roi(session: Session, query: RoiQuery, *, cs_teams: Sequence[str], default_hourly: Decimal) -> MetricAnswer[RoiRow]:
    """ROI rows per period (and group) of the interventions started in it."""
    periods = split_periods(query.start, query.end, query.interval)
    group_column = {"type": Intervention.type, "framework": Intervention.framework, "owner": Intervention.owner}.get(
        query.group_by or "", None
    )
    if group_column is None and query.group_by is not None:
        group_column = getattr(Customer, query.group_by)
    stmt = (
        select(Intervention, group_column if group_column is not None else Intervention.id)
        .join(Customer, Customer.id == Intervention.customer_id)
        .where(Intervention.started_on >= query.start, Intervention.started_on <= query.end)
    )
    found = [(row, group if query.group_by else None) for row, group in session.execute(stmt)]
    today = interventions_service.today()
    views = {v.id: v for v in interventions_service.build_views(session, [r for r, _ in found], default_hourly)}
    deltas = health_deltas(session, [r for r, _ in found], today)
    rows: list[RoiRow] = []
    for period in periods:
        members: dict[str | None, list[str]] = defaultdict(list)
        for row, group in found:
            if row.started_on is not None and period.start <= row.started_on <= period.end:
                members[group].append(row.id)
        if query.group_by is None:
            members.setdefault(None, [])
        for group in sorted(members, key=lambda g: (g is None, g or "")):
            cost = cs_cost(session, period.start, period.end, cs_teams) if query.group_by is None else None
            rows.append(_row(period, group, [views[i] for i in members[group]], deltas, cost))
    return MetricAnswer[RoiRow](
        rows=rows,
        meta=metric_meta(
            query, cost="CS cost of the months touched" if query.group_by is None else "the group's intervention cost"
        ),
    )


def _row(
    period: Period,
    group: str | None,
    views: list[interventions_service.InterventionOut],
    deltas: dict[str, tuple[Decimal, Decimal | None]],
    period_cost: Decimal | None,
) -> RoiRow:
    outcomes = [v.outcome.met for v in views if v.outcome is not None and v.outcome.met is not None]
    retained = sum((v.impact.retained_arr for v in views if v.impact), Decimal(0))
    expanded = sum((v.impact.expanded_arr for v in views if v.impact), Decimal(0))
    cost = period_cost if period_cost is not None else sum((v.cost for v in views), Decimal(0))
    own = [deltas[v.id][0] for v in views if v.id in deltas]
    baseline = [b for v in views if v.id in deltas and (b := deltas[v.id][1]) is not None]
    avg, base = _mean(own), _mean(baseline)
    return RoiRow(
        period_start=period.start,
        period_end=period.end,
        group=group,
        interventions=len(views),
        measured=len(outcomes),
        outcome_rate=formulas.ratio(sum(outcomes), len(outcomes)),
        retained_arr=retained,
        expanded_arr=expanded,
        attributed_revenue=formulas.attributed_revenue(retained, expanded),
        cost=cost,
        roi=formulas.roi(retained + expanded, cost),
        avg_health_delta=avg,
        baseline_health_delta=base,
        health_lift=formulas.health_lift(avg, base),
    )
