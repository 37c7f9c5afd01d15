"""`/v1/metrics/staffing`: team counts, coverage ratios and the CSM staffing model (SPEC §7, people quadrant).

Every figure is *as of the period end*: who is employed that day and which customers pay that day. Two
set-based statements per answer (team counts per period, paying customers per period and tier); Python only
applies the formulas to the aggregated rows.
"""

from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app import formulas
from app.ledger import service as ledger
from app.metrics.periods import Period, split_periods
from app.metrics.queries import periods_cte
from app.metrics.schemas import MetricAnswer, MetricQuery, StaffingRow, metric_meta
from app.models import Customer, TeamMember
from app.money import CENT, money_from_cents
from app.types import TIERS

# Roles counted by the staffing model (SPEC §3 team member roles).
CSM_ROLE, ONBOARDING_ROLE = "csm", "onboarding"


def _team_counts(session: Session, periods: list[Period]) -> dict[int, dict[str, int]]:
    """Per period: team members of each counted role employed on the period's last day."""
    p = periods_cte(periods)
    # started_on and ended_on are both days of employment: ended_on is the last day worked.
    employed = and_(
        or_(TeamMember.started_on.is_(None), TeamMember.started_on <= p.c.pe),
        or_(TeamMember.ended_on.is_(None), TeamMember.ended_on >= p.c.pe),
        TeamMember.role.in_((CSM_ROLE, ONBOARDING_ROLE)),
    )
    stmt = (
        select(p.c.pid, TeamMember.role, func.count(TeamMember.id))
        .select_from(p.join(TeamMember, employed))
        .group_by(p.c.pid, TeamMember.role)
    )
    counts: dict[int, dict[str, int]] = {}
    for pid, role, n in session.execute(stmt):
        counts.setdefault(pid, {})[role] = n
    return counts


def _paying_by_tier(session: Session, periods: list[Period]) -> dict[int, dict[str | None, tuple[int, int]]]:
    """Per period and tier: paying customers (ARR > 0 at the period's last day) and their ARR in cents."""
    p = periods_cte(periods)
    paying = ledger.arr_as_of(p.c.pe, dates=p, keys=[p.c.pid], paying_only=True).subquery()
    stmt = (
        select(paying.c.pid, Customer.tier, func.count(), func.sum(paying.c.arr_cents))
        .select_from(paying.join(Customer, Customer.id == paying.c.customer_id))
        .group_by(paying.c.pid, Customer.tier)
    )
    result: dict[int, dict[str | None, tuple[int, int]]] = {}
    for pid, tier, n, cents in session.execute(stmt):
        result.setdefault(pid, {})[tier if tier in TIERS else None] = (n, int(cents))
    return result


def _row(
    period: Period,
    team: dict[str, int],
    tiers: dict[str | None, tuple[int, int]],
    ratios: dict[str, int],
    default_tier: str,
) -> StaffingRow:
    """Apply the staffing formulas to one period's team counts and paying customers by tier."""
    csms, reps = team.get(CSM_ROLE, 0), team.get(ONBOARDING_ROLE, 0)
    by_tier = {tier: tiers.get(tier, (0, 0))[0] for tier in TIERS}
    untiered = tiers.get(None, (0, 0))[0]
    # SPEC §13: a customer without a tier still needs a CSM; it is staffed as CSROI_DEFAULT_TIER.
    staffed = {tier: by_tier[tier] + (untiered if tier == default_tier else 0) for tier in TIERS}
    customers = sum(n for n, _ in tiers.values())
    arr = money_from_cents(sum(c for _, c in tiers.values()))
    needed = formulas.csms_needed((staffed[tier], ratios[tier]) for tier in TIERS)
    per_csm = formulas.ratio(arr, csms)
    arr_per_csm = None if per_csm is None else per_csm.quantize(CENT)
    return StaffingRow(
        period_start=period.start,
        period_end=period.end,
        group=None,
        csms=csms,
        onboarding_reps=reps,
        customers=customers,
        arr=arr,
        customers_high_touch=by_tier["high_touch"],
        customers_low_touch=by_tier["low_touch"],
        customers_tech_touch=by_tier["tech_touch"],
        customers_untiered=untiered,
        customers_per_csm=formulas.per_customer(Decimal(customers), csms),
        arr_per_csm=arr_per_csm,
        customers_per_onboarding_rep=formulas.per_customer(Decimal(customers), reps),
        csms_needed_high_touch=formulas.fte_need(staffed["high_touch"], ratios["high_touch"]),
        csms_needed_low_touch=formulas.fte_need(staffed["low_touch"], ratios["low_touch"]),
        csms_needed_tech_touch=formulas.fte_need(staffed["tech_touch"], ratios["tech_touch"]),
        csms_needed=needed,
        csm_gap=needed - csms,
    )


def staffing(
    session: Session, query: MetricQuery, *, ratios: dict[str, int], default_tier: str
) -> MetricAnswer[StaffingRow]:
    """Staffing rows, one per period, as of each period's last day (SPEC §7 people quadrant, §13 FTE)."""
    periods = split_periods(query.start, query.end, query.interval)
    team = _team_counts(session, periods)
    tiers = _paying_by_tier(session, periods)
    rows = [
        _row(period, team.get(period.index, {}), tiers.get(period.index, {}), ratios, default_tier)
        for period in periods
    ]
    meta = metric_meta(
        query,
        as_of="period_end",
        csm_ratios=ratios,
        default_tier=default_tier,
        untiered=f"staffed as {default_tier} (CSROI_DEFAULT_TIER)",
        csms_needed="ceil of the exact sum of the tiers' FTE needs",
    )
    return MetricAnswer[StaffingRow](rows=rows, meta=meta)
