"""The scorecard's figures for one calendar month, composed from the metric services (SPEC §7).

Each figure is the month's value as the corresponding metric route gives it for
`start = first day, end = last day` (so `nrr` is `/v1/metrics/retention`'s nrr for that month); `*_ttm` figures
are the trailing twelve months ending with the month as one period. One function per source metric; the
catalogue fixes each entry's quadrant, order and rounding.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import ColumnElement

from app.config import Settings
from app.db import utcnow
from app.metrics import health as health_metric
from app.metrics import renewals as renewal_metrics
from app.metrics import retention as retention_metric
from app.metrics import roi as roi_metric
from app.metrics import staffing as staffing_metric
from app.metrics import unit_economics as unit_economics_metric
from app.metrics.periods import add_months, month_end
from app.metrics.schemas import CostOfRenewalsQuery, MetricQuery, RetentionQuery, RoiQuery, StaffingQuery
from app.models import Intervention
from app.types import FigureKind

Figures = dict[str, Decimal | None]
PLACES: dict[FigureKind, Decimal] = {
    "money": Decimal("0.01"),
    "number": Decimal("0.000001"),
    "count": Decimal(1),
    "fte": Decimal("0.01"),  # full-time equivalents, two decimals as the staffing route gives them (SPEC §13)
}

# (quadrant, metric, kind) in the order the scorecard lists them. Metric names are the metric routes' fields.
CATALOGUE: tuple[tuple[str, str, FigureKind], ...] = (
    ("financial", "nrr", "number"),
    ("financial", "grr", "number"),
    ("financial", "nrr_ttm", "number"),
    ("financial", "grr_ttm", "number"),
    ("financial", "net_renewal_rate", "number"),
    ("financial", "raw_renewal_rate", "number"),
    ("financial", "arr_growth", "number"),
    ("financial", "churned_arr", "money"),
    ("financial", "expansion_arr", "money"),
    ("financial", "cs_cost", "money"),
    ("financial", "cost_per_1k", "number"),
    ("financial", "cost_per_1k_12m_avg", "number"),
    ("financial", "cost_per_1k_ttm", "number"),
    ("financial", "roi", "number"),
    ("financial", "roi_naive", "number"),
    ("financial", "clv", "money"),
    ("customer", "nps", "number"),
    ("customer", "csat", "number"),
    ("customer", "ces", "number"),
    ("customer", "logo_churn_rate", "number"),
    ("customer", "red_customers", "count"),
    ("customer", "red_arr", "money"),
    ("customer", "yellow_customers", "count"),
    ("customer", "yellow_arr", "money"),
    ("customer", "green_customers", "count"),
    ("customer", "green_arr", "money"),
    ("customer", "no_score_customers", "count"),
    ("customer", "no_score_arr", "money"),
    ("customer", "revenue_at_risk", "money"),
    ("process", "interventions_started", "count"),
    ("process", "interventions_completed", "count"),
    ("process", "outcome_rate", "number"),
    ("process", "health_lift", "number"),
    ("process", "median_first_response_hours", "number"),
    ("process", "median_resolution_hours", "number"),
    ("people", "csms", "count"),
    ("people", "onboarding_reps", "count"),
    ("people", "customers_per_csm", "number"),
    ("people", "arr_per_csm", "money"),
    ("people", "customers_per_onboarding_rep", "number"),
    ("people", "csms_needed_high_touch", "fte"),
    ("people", "csms_needed_low_touch", "fte"),
    ("people", "csms_needed_tech_touch", "fte"),
    ("people", "csms_needed", "count"),
    ("people", "csm_gap", "count"),
)
METRICS = frozenset(metric for _, metric, _ in CATALOGUE)
KINDS: dict[str, FigureKind] = {metric: kind for _, metric, kind in CATALOGUE}


@dataclass(frozen=True)
class Context:
    """What a figure function needs: the month's query and the settings the metric routes use."""

    month: MetricQuery
    cs_teams: list[str]
    csm_ratios: dict[str, int]
    default_tier: str
    churn_defaults: dict[str, float]
    default_hourly_cost: Decimal
    gross_margin: Decimal
    min_controls: int


def month_query(first_day: date) -> MetricQuery:
    """The calendar month as a metric query: first day to last day, one period."""
    return MetricQuery(start=first_day, end=month_end(first_day))


def _retention(session: Session, ctx: Context) -> Figures:
    """`/v1/metrics/retention` for the month, and for the twelve months ending with it (one period)."""
    this_month = RetentionQuery(start=ctx.month.start, end=ctx.month.end)
    row = retention_metric.retention(session, this_month).rows[0]
    ttm_query = RetentionQuery(start=add_months(ctx.month.start, -11), end=ctx.month.end)
    ttm = retention_metric.retention(session, ttm_query).rows[0]
    return {
        "nrr": row.nrr,
        "grr": row.grr,
        "nrr_ttm": ttm.nrr,
        "grr_ttm": ttm.grr,
        "arr_growth": row.arr_growth,
        "churned_arr": row.churn,
        "expansion_arr": row.upsell + row.cross_sell,
        "logo_churn_rate": row.logo_churn_rate,
    }


def _renewals(session: Session, ctx: Context) -> Figures:
    """`/v1/metrics/renewals` for the month: renewals due in it."""
    row = renewal_metrics.renewals(session, ctx.month).rows[0]
    return {"net_renewal_rate": row.net_renewal_rate, "raw_renewal_rate": row.raw_renewal_rate}


def _cost_of_renewals(session: Session, ctx: Context) -> Figures:
    """`/v1/metrics/cost-of-renewals` for the month, with its 12-month moving average and its TTM ratio (SPEC §13)."""
    query = CostOfRenewalsQuery(start=ctx.month.start, end=ctx.month.end)
    row = renewal_metrics.cost_of_renewals(session, query, cs_teams=ctx.cs_teams).rows[0]
    return {
        "cs_cost": row.cs_cost,
        "cost_per_1k": row.cost_per_1k,
        "cost_per_1k_12m_avg": row.moving_avg_12m,
        "cost_per_1k_ttm": row.ttm_cost_per_1k,
    }


def _roi(session: Session, ctx: Context) -> Figures:
    """`/v1/metrics/roi` for the month: interventions started in it, their outcome rate and health lift, and the
    program's ROI (their attributed revenue against the month's CS cost)."""
    query = RoiQuery(start=ctx.month.start, end=ctx.month.end)
    answer = roi_metric.roi(
        session,
        query,
        cs_teams=ctx.cs_teams,
        default_hourly=ctx.default_hourly_cost,
        min_controls=ctx.min_controls,
        churn_defaults=ctx.churn_defaults,
        today=utcnow().date(),
    )
    row = answer.rows[0]
    return {
        "roi": row.roi_incremental,
        "roi_naive": row.roi,
        "outcome_rate": row.outcome_rate,
        "health_lift": row.health_lift,
        "interventions_started": Decimal(row.interventions),
    }


def _clv(session: Session, ctx: Context) -> Figures:
    """`/v1/metrics/unit-economics` clv for the month (ARPA × gross margin × lifetime)."""
    row = unit_economics_metric.unit_economics(session, ctx.month, gross_margin=ctx.gross_margin).rows[0]
    return {"clv": row.clv}


def _health(session: Session, ctx: Context) -> Figures:
    """`/v1/metrics/health` at the month's last day: paying customers and ARR per band, revenue at risk."""
    row = health_metric.health(session, ctx.month, defaults=ctx.churn_defaults).rows[0]
    names = [metric for quadrant, metric, _ in CATALOGUE if quadrant == "customer"]
    return {name: _to_decimal(getattr(row, name)) for name in names if name in type(row).model_fields}


def _as_decimal(value: float | None) -> Decimal | None:
    # The VoC and support figures are floats (scores and hours, not money); repr keeps their shortest form.
    return None if value is None else Decimal(repr(value))


def _voice_and_support(session: Session, ctx: Context) -> Figures:
    """`/v1/metrics/voc` (NPS, CSAT, CES) and `/v1/metrics/support` (median times) for the month."""
    survey = health_metric.voc_metric(session, ctx.month).rows[0]
    tickets = health_metric.support_metric(session, ctx.month).rows[0]
    return {
        "nps": survey.nps,
        "csat": survey.csat,
        "ces": survey.ces,
        "median_first_response_hours": _as_decimal(tickets.median_first_response_hours),
        "median_resolution_hours": _as_decimal(tickets.median_resolution_hours),
    }


def _interventions(session: Session, ctx: Context) -> Figures:
    """Interventions completed in the month (by completion date; those started come from the ROI metric)."""

    def in_month(column: InstrumentedAttribute[date | None]) -> ColumnElement[int]:
        # COUNT skips the NULLs of CASE without ELSE: only the month's dates count.
        return func.count(case((column.between(ctx.month.start, ctx.month.end), 1)))

    completed = session.execute(select(in_month(Intervention.completed_on))).scalar_one()
    return {"interventions_completed": Decimal(completed)}


def _staffing(session: Session, ctx: Context) -> Figures:
    """`/v1/metrics/staffing` for the month: team and customers as of its last day, FTE and CSMs needed, the gap."""
    query = StaffingQuery(start=ctx.month.start, end=ctx.month.end)
    row = staffing_metric.staffing(session, query, ratios=ctx.csm_ratios, default_tier=ctx.default_tier).rows[0]
    names = [metric for quadrant, metric, _ in CATALOGUE if quadrant == "people"]
    return {name: _to_decimal(getattr(row, name)) for name in names}


def _to_decimal(value: Decimal | float | None) -> Decimal | None:
    if isinstance(value, float):
        return _as_decimal(value)
    return None if value is None else Decimal(value)


SOURCES: tuple[Callable[[Session, Context], Figures], ...] = (
    _retention,
    _renewals,
    _cost_of_renewals,
    _roi,
    _clv,
    _health,
    _voice_and_support,
    _interventions,
    _staffing,
)


def month_figures(session: Session, first_day: date, *, settings: Settings) -> Figures:
    """Every catalogue figure of the calendar month starting `first_day`, rounded to its kind."""
    ctx = Context(
        month=month_query(first_day),
        cs_teams=settings.cs_teams,
        csm_ratios=settings.csm_ratios,
        default_tier=settings.default_tier,
        churn_defaults=settings.churn_defaults,
        default_hourly_cost=settings.default_hourly_cost,
        gross_margin=settings.gross_margin,
        min_controls=settings.min_controls,
    )
    figures: Figures = {}
    for source in SOURCES:
        figures.update(source(session, ctx))
    return {metric: round_figure(figures[metric], KINDS[metric]) for metric in KINDS}


def round_figure(value: Decimal | None, kind: FigureKind) -> Decimal | None:
    """Round a figure to its kind's places (cents, six decimals, whole) so frozen and fresh values compare exactly."""
    return None if value is None else Decimal(value).quantize(PLACES[kind])
