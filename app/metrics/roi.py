"""`/v1/metrics/roi`: what the interventions started in each period earned and cost (SPEC §5).

Attribution comes from app.interventions (one definition for the intervention view and this metric). Ungrouped,
`cost` is the period's CS cost — the program's ROI; grouped, it is the group's own intervention cost.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import formulas
from app.db import utcnow
from app.interventions import service as interventions_service
from app.metrics.periods import Period, months_touched, split_periods
from app.metrics.schemas import MetricAnswer, RoiQuery, RoiRow, metric_meta
from app.models import Cost, Customer, Intervention


def cs_costs(session: Session, periods: Sequence[Period], cs_teams: Sequence[str]) -> dict[Period, Decimal]:
    """`cs_cost` of each period, from one grouped statement over the months they touch."""
    if not periods:
        return {}
    touched = {period: months_touched(period.start, period.end) for period in periods}
    first, last = min(m[0] for m in touched.values()), max(m[-1] for m in touched.values())
    by_month = {
        month: amount
        for month, amount in session.execute(
            select(Cost.month, func.sum(Cost.amount))
            .where(Cost.team.in_(list(cs_teams)), Cost.month >= first, Cost.month <= last)
            .group_by(Cost.month)
        )
    }
    return {
        period: sum((by_month.get(month, Decimal(0)) or Decimal(0) for month in months), Decimal(0))
        for period, months in touched.items()
    }


def roi(
    session: Session,
    query: RoiQuery,
    *,
    cs_teams: Sequence[str],
    default_hourly: Decimal,
    min_controls: int,
    churn_defaults: Mapping[str, float],
    today: date | None = None,
) -> MetricAnswer[RoiRow]:
    """ROI rows per period (and group) of the interventions started in it, as of `today` (the route passes the
    request's date; default: the current UTC date): naive (SPEC §5) and incremental (SPEC §9) figures."""
    today = today or utcnow().date()
    periods = split_periods(query.start, query.end, query.interval)
    group_column = {"type": Intervention.type, "framework": Intervention.framework, "owner": Intervention.owner}.get(
        query.group_by or "", None
    )
    if group_column is None and query.group_by is not None:
        group_column = getattr(Customer, query.group_by)
    found = []
    bands: dict[str, str | None] = {}
    label = group_column if group_column is not None else Intervention.id
    for row, group, band in interventions_service.started_between(session, query.start, query.end, label):
        found.append((row, group if query.group_by else None))
        bands[row.id] = band
    started = [r for r, _ in found]
    computed = interventions_service.impacts(
        session,
        {r.customer_id for r in started},
        today,
        min_controls=min_controls,
        churn_defaults=churn_defaults,
        shown={r.id for r in started},  # the rows read only these interventions' figures
    )
    figures = {
        f.id: f
        for f in interventions_service.roi_figures(session, started, default_hourly, as_of=today, computed=computed)
    }
    deltas = interventions_service.health_deltas(session, started, today, bands=bands)
    costs = cs_costs(session, periods, cs_teams) if query.group_by is None else {}
    rows: list[RoiRow] = []
    starts = [(row.started_on, row.id, group) for row, group in found]
    for period in periods:
        members: dict[str | None, list[str]] = defaultdict(list)
        for started_on, intervention_id, group in starts:
            if started_on is not None and period.start <= started_on <= period.end:
                members[group].append(intervention_id)
        if query.group_by is None:
            members.setdefault(None, [])
        for group in sorted(members, key=lambda g: (g is None, g or "")):
            cost = costs[period] if query.group_by is None else None
            rows.append(
                _row(
                    period,
                    group,
                    [figures[i] for i in members[group]],
                    deltas=deltas,
                    period_cost=cost,
                    found=computed.incremental,
                    seed=query.seed,
                )
            )
    return MetricAnswer[RoiRow](
        rows=rows,
        meta=metric_meta(
            query,
            cost="CS cost of the months touched" if query.group_by is None else "the group's intervention cost",
            seed=query.seed,
            min_controls=min_controls,
            bootstrap=interventions_service.BOOTSTRAP,
        ),
    )


def _row(
    period: Period,
    group: str | None,
    figures: list[interventions_service.InterventionFigures],
    *,
    deltas: dict[str, tuple[Decimal, Decimal | None]],
    period_cost: Decimal | None,
    found: interventions_service.Incremental,
    seed: int,
) -> RoiRow:
    outcomes = [f.met for f in figures if f.met is not None]
    retained = sum((f.retained for f in figures), Decimal(0))
    expanded = sum((f.expanded for f in figures), Decimal(0))
    cost = period_cost if period_cost is not None else sum((f.cost for f in figures), Decimal(0))
    own = [deltas[f.id][0] for f in figures if f.id in deltas]
    baseline = [b for f in figures if f.id in deltas and (b := deltas[f.id][1]) is not None]
    avg, base = formulas.mean(own), formulas.mean(baseline)
    counted = interventions_service.row_figures(found, [f.id for f in figures if f.computed], cost, seed=seed)
    return RoiRow(
        period_start=period.start,
        period_end=period.end,
        group=group,
        interventions=len(figures),
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
        incremental_retained_arr=counted.retained,
        incremental_expanded_arr=counted.expanded,
        incremental_revenue=counted.revenue,
        roi_incremental=counted.roi,
        roi_incremental_low=counted.low,
        roi_incremental_high=counted.high,
        method=counted.method,
        treated_episodes=counted.treated_episodes,
        control_customers=counted.control_customers,
    )
