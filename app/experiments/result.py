"""An experiment's intention-to-treat result (SPEC §9): every assigned customer counts in its arm, treated or not.

Per customer: its window runs `window_days` days from its enrollment day; ARR at start is its ARR on that day,
ARR at end its ARR on the window's last day (or on `as_of` while the window is open, as impact does in SPEC §5);
it churned when ARR at end is 0. Health change: point-in-time health (current model) on the window's last day
(or `as_of`) minus on the enrollment day. A few grouped statements whatever the number of customers: one for the
assignments, one for ARR on every (customer, day) pair, one per distinct day for health, one for the play's
interventions with their costs.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import formulas
from app.experiments import service
from app.experiments.schemas import ArmResult, DifferenceOut, Differences, ExperimentResultOut, ResultMeta
from app.health import service as health
from app.ledger import service as ledger
from app.models import Cost, Experiment, ExperimentAssignment, Intervention, TeamMember
from app.money import from_cents
from app.types import Arm, ExperimentStatus

RESAMPLES = 1_000
MIN_BOOTSTRAP = 10  # customers per arm below which the ROI interval is null (as SPEC §9 ROI rows)
MIN_ARM = 30  # a ready result with an arm smaller than this is underpowered (SPEC §9)
MAX_MDE = Decimal("0.10")
ARMS: tuple[Arm, Arm] = ("treatment", "holdout")
TESTS = {
    "churn_rate": "two-proportion z-test, pooled (normal approximation); unpooled Wald 95 % interval",
    "grr": "difference of ratio estimators, delta-method standard errors (normal approximation)",
    "avg_health_delta": "difference of means, Welch standard error (normal approximation)",
    "roi": f"percentile bootstrap, {RESAMPLES:,} resamples of customers within each arm, seeded",
}


@dataclass
class Unit:
    """One assigned customer's window."""

    customer_id: str
    arm: Arm
    enrolled_on: date
    seen_on: date  # the window's last day, or as_of while the window is open
    open: bool
    start_cents: int = 0
    end_cents: int = 0
    health_delta: Decimal | None = None
    cost: Decimal = Decimal(0)
    interventions: int = 0

    @property
    def churned(self) -> bool:
        return self.end_cents <= 0


def _units(session: Session, experiment: Experiment, as_of: date) -> list[Unit]:
    """Customers enrolled up to `as_of`, with ARR at start and at end (one query for every pair)."""
    rows = session.execute(
        select(ExperimentAssignment.customer_id, ExperimentAssignment.arm, ExperimentAssignment.enrolled_on)
        .where(ExperimentAssignment.experiment_id == experiment.id, ExperimentAssignment.enrolled_on <= as_of)
        .order_by(ExperimentAssignment.customer_id)
    ).all()
    units = []
    for customer_id, arm, enrolled_on in rows:
        ends = enrolled_on + timedelta(days=experiment.window_days)  # the first day after the window
        units.append(Unit(customer_id, cast(Arm, arm), enrolled_on, min(ends - timedelta(days=1), as_of), as_of < ends))
    arr = ledger.arr_on(
        session, {(u.customer_id, u.enrolled_on) for u in units} | {(u.customer_id, u.seen_on) for u in units}
    )
    for unit in units:
        unit.start_cents = arr.get((unit.customer_id, unit.enrolled_on), 0)
        unit.end_cents = arr.get((unit.customer_id, unit.seen_on), 0)
    return units


def _health_deltas(session: Session, units: list[Unit]) -> None:
    """Point-in-time health on each unit's two days, computed once per distinct day for the customers needing it,
    each day by the health model in force on it (SPEC §10)."""
    wanted: dict[date, set[str]] = defaultdict(set)
    for unit in units:
        wanted[unit.enrolled_on].add(unit.customer_id)
        wanted[unit.seen_on].add(unit.customer_id)
    models = health.versions(session)
    scores = {
        day: {
            cid: h.score
            for cid, h in health.compute_health(session, as_of=day, customers=sorted(ids), spec=models.on(day)).items()
        }
        for day, ids in wanted.items()
    }
    for unit in units:
        before, after = scores[unit.enrolled_on].get(unit.customer_id), scores[unit.seen_on].get(unit.customer_id)
        if before is not None and after is not None:
            unit.health_delta = Decimal(str(after)) - Decimal(str(before))


def _play_interventions(
    session: Session, experiment: Experiment, units: list[Unit], as_of: date, default_hourly: Decimal
) -> None:
    """Interventions that belong to the experiment (SPEC §9: its play, started from the customer's enrollment day to
    `ends_on` before any stop, not cancelled), with their cost, in one statement."""
    linked = (
        select(Cost.intervention_id, func.sum(Cost.amount).label("linked"))
        .where(Cost.intervention_id.is_not(None))
        .group_by(Cost.intervention_id)
        .subquery("linked")
    )
    a, i = ExperimentAssignment, Intervention
    stmt = (
        select(i.customer_id, i.hours, i.direct_cost, TeamMember.hourly_cost, linked.c.linked)
        .join(a, (a.customer_id == i.customer_id) & (a.experiment_id == experiment.id))
        .outerjoin(TeamMember, TeamMember.id == i.owner)
        .outerjoin(linked, linked.c.intervention_id == i.id)
        .where(
            i.type == experiment.play_type,
            i.framework == experiment.play_framework,
            i.status != "cancelled",
            i.started_on.is_not(None),
            i.started_on >= a.enrolled_on,
            i.started_on <= experiment.ends_on,
            i.started_on <= as_of,
            a.enrolled_on <= as_of,
        )
    )
    if experiment.stopped_on is not None:
        stmt = stmt.where(i.started_on < experiment.stopped_on)
    by_customer = {u.customer_id: u for u in units}
    for customer_id, hours, direct_cost, hourly, linked_cost in session.execute(stmt):
        unit = by_customer.get(customer_id)
        if unit is None:
            continue
        rate = hourly if hourly is not None else default_hourly
        unit.cost += formulas.intervention_cost(hours, rate, direct_cost, linked_cost or Decimal(0))
        unit.interventions += 1


def _money(cents: int) -> Decimal:
    return from_cents(cents) or Decimal("0.00")


def _arm(units: list[Unit]) -> ArmResult:
    """One arm's figures (SPEC §9)."""
    start = sum(u.start_cents for u in units)
    churned = [u for u in units if u.churned]
    churned_cents = sum(u.start_cents for u in churned)
    retained = sum(min(u.end_cents, u.start_cents) for u in units)
    return ArmResult(
        customers=len(units),
        starting_arr=_money(start),
        churned_customers=len(churned),
        churned_arr=_money(churned_cents),
        churn_rate=formulas.logo_churn_rate(len(churned), len(units)),
        churned_arr_rate=formulas.ratio(churned_cents, start),
        grr=formulas.grr(Decimal(retained), Decimal(start)),
        nrr=formulas.nrr(Decimal(sum(u.end_cents for u in units)), Decimal(start)),
        avg_health_delta=formulas.mean(u.health_delta for u in units),
        interventions=sum(u.interventions for u in units),
        cost=sum((u.cost for u in units), Decimal("0.00")),
        open_windows=sum(u.open for u in units),
    )


def _difference(found: tuple[Decimal, Decimal, Decimal, Decimal] | None) -> DifferenceOut | None:
    if found is None:
        return None
    estimate, low, high, p_value = found
    return DifferenceOut(estimate=estimate, low=low, high=high, p_value=p_value)


def _roi_interval(treated: list[Unit], holdout: list[Unit], seed: int) -> tuple[Decimal | None, Decimal | None]:
    """2.5th and 97.5th percentiles of the ROI over seeded bootstrap resamples of customers within each arm."""
    if len(treated) < MIN_BOOTSTRAP or len(holdout) < MIN_BOOTSTRAP:
        return None, None
    rng = np.random.default_rng(seed)
    t_start = np.array([u.start_cents for u in treated], dtype=np.int64)
    t_churned = np.array([u.start_cents if u.churned else 0 for u in treated], dtype=np.int64)
    t_cost = np.array([int(u.cost * 100) for u in treated], dtype=np.int64)
    h_start = np.array([u.start_cents for u in holdout], dtype=np.int64)
    h_churned = np.array([u.start_cents if u.churned else 0 for u in holdout], dtype=np.int64)
    ti = rng.integers(0, len(treated), size=(RESAMPLES, len(treated)))
    hi = rng.integers(0, len(holdout), size=(RESAMPLES, len(holdout)))
    sums = zip(
        t_start[ti].sum(axis=1),
        t_churned[ti].sum(axis=1),
        t_cost[ti].sum(axis=1),
        h_start[hi].sum(axis=1),
        h_churned[hi].sum(axis=1),
        strict=True,
    )
    rois = []
    for ts, tc, cost, hs, hc in sums:
        rate = formulas.ratio(int(hc), int(hs))
        if rate is None:
            continue
        incremental = formulas.experiment_incremental_retained(rate, _money(int(ts)), _money(int(tc)))
        roi = formulas.roi(incremental, _money(int(cost)))
        if roi is not None:
            rois.append(float(roi))
    if not rois:
        return None, None
    low, high = np.percentile(rois, [2.5, 97.5])
    return Decimal(str(low)), Decimal(str(high))


def _status(units: list[Unit], arms: dict[Arm, ArmResult], mde: Decimal | None) -> ExperimentStatus:
    """running while a window is open (or nobody is enrolled yet); ready once every window has closed, unless an
    arm has fewer than 30 customers or the minimum detectable effect exceeds 0.10 (underpowered)."""
    if not units or any(u.open for u in units):
        return "running"
    small = min(arms[arm].customers for arm in ARMS) < MIN_ARM
    return "underpowered" if small or mde is None or mde > MAX_MDE else "ready"


def experiment_result(
    session: Session, experiment_id: str, *, as_of: date, seed: int, default_hourly: Decimal, currency: str
) -> ExperimentResultOut:
    """The experiment's intention-to-treat result as of `as_of`."""
    experiment = service.get_experiment(session, experiment_id)
    units = _units(session, experiment, as_of)
    _health_deltas(session, units)
    _play_interventions(session, experiment, units, as_of, default_hourly)
    by_arm: dict[Arm, list[Unit]] = {arm: [u for u in units if u.arm == arm] for arm in ARMS}
    arms = {arm: _arm(by_arm[arm]) for arm in ARMS}
    treated, holdout = arms["treatment"], arms["holdout"]

    def pairs(arm: Arm) -> list[tuple[Decimal, Decimal]]:
        return [(Decimal(u.start_cents), Decimal(min(u.end_cents, u.start_cents))) for u in by_arm[arm]]

    def deltas(arm: Arm) -> list[Decimal]:
        return [u.health_delta for u in by_arm[arm] if u.health_delta is not None]

    difference = Differences(
        churn_rate=_difference(
            formulas.proportion_difference(
                treated.churned_customers, treated.customers, holdout.churned_customers, holdout.customers
            )
        ),
        grr=_difference(formulas.ratio_difference(pairs("treatment"), pairs("holdout"))),
        avg_health_delta=_difference(formulas.mean_difference(deltas("treatment"), deltas("holdout"))),
    )
    incremental = (
        None
        if holdout.churned_arr_rate is None
        else formulas.experiment_incremental_retained(
            holdout.churned_arr_rate, treated.starting_arr, treated.churned_arr
        )
    )
    mde = (
        None
        if holdout.churn_rate is None
        else formulas.minimum_detectable_effect(holdout.churn_rate, treated.customers, holdout.customers)
    )
    roi_low, roi_high = _roi_interval(by_arm["treatment"], by_arm["holdout"], seed)
    return ExperimentResultOut(
        experiment=experiment.id,
        as_of=as_of,
        status=_status(units, arms, mde),
        arms=arms,
        difference=difference,
        incremental_retained_arr=incremental,
        roi=None if incremental is None else formulas.roi(incremental, treated.cost),
        roi_low=roi_low,
        roi_high=roi_high,
        minimum_detectable_effect=mde,
        contaminated=sum(1 for u in by_arm["holdout"] if u.interventions),
        meta=ResultMeta(
            tests=TESTS,
            seed=seed,
            resamples=RESAMPLES,
            currency=currency,
            health="point in time (current model) on the enrollment day and on the window's last day",
            windows="each customer's window starts on its enrollment day and lasts window_days; churned = ARR 0 on "
            "its last day (on as_of while open)",
        ),
    )
