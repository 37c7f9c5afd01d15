"""Metric queries and the `{"rows", "meta"}` answer shape shared by every metric route (SPEC §2)."""

from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, model_validator

from app.money import MoneyTotal
from app.schemas import Fte, IsoDate, Number, QueryIn, Ratio
from app.types import ChurnMethod, CustomerGroup, Interval, InterventionGroup, ResponseFormat

MAX_RANGE_DAYS = 366 * 20


class MetricQuery(QueryIn):
    """`start`, `end` (inclusive), `interval`, `group_by`, `format`; any other parameter is a 422."""

    start: IsoDate = Field(description="First day of the range (inclusive), YYYY-MM-DD.")
    end: IsoDate = Field(description="Last day of the range (inclusive), YYYY-MM-DD.")
    interval: Interval | None = Field(None, description="Split the range into calendar months, quarters or years.")
    group_by: CustomerGroup | None = Field(None, description="One row per group (the customer's current value).")
    format: ResponseFormat | None = Field(None, description="`csv` answers text/csv with the same rows.")

    @model_validator(mode="after")
    def _range_is_valid(self) -> "MetricQuery":
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.end - self.start).days > MAX_RANGE_DAYS:
            raise ValueError("the range is limited to 20 years")
        return self


class MetricRow(BaseModel):
    """The keys every metric row starts with."""

    period_start: date
    period_end: date
    group: str | None


R = TypeVar("R", bound=MetricRow)


class MetricAnswer(BaseModel, Generic[R]):
    """Rows in period then group order, and what produced them."""

    rows: list[R]
    meta: dict[str, Any]


def metric_meta(query: MetricQuery, **extra: Any) -> dict[str, Any]:
    """The `meta` block: the query as understood, plus metric-specific notes."""
    return {
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "interval": query.interval,
        "group_by": query.group_by,
        **extra,
    }


class UnitEconomicsRow(MetricRow):
    """One period and group of unit economics, with the counts and costs each figure divides (SPEC §4)."""

    paying_customers: int
    mrr: MoneyTotal
    arpa_monthly: MoneyTotal | None
    new_customers: int
    acquire_cost: MoneyTotal
    cac: MoneyTotal | None
    expanding_customers: int
    expand_cost: MoneyTotal
    cec: MoneyTotal | None
    retained_customers: int
    retain_cost: MoneyTotal
    crc: MoneyTotal | None
    churn_months: int
    monthly_logo_churn: Ratio | None
    lifetime_months: Ratio | None
    clv: MoneyTotal | None


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


class StaffingQuery(MetricQuery):
    """The metric query without `group_by`: team members carry no customer attribute to group by."""

    group_by: None = Field(None, description="Not supported: staffing is computed for the whole book.")


class StaffingRow(MetricRow):
    """One period, as of its last day: team, paying customers by tier, ratios, FTE needed per tier, whole CSMs
    needed and the gap (SPEC §7, §13). `customers_<tier>` count the customers with that tier; the untiered ones
    are staffed as the default tier, so they are in that tier's `csms_needed_<tier>`."""

    csms: int
    onboarding_reps: int
    customers: int
    arr: MoneyTotal
    customers_high_touch: int
    customers_low_touch: int
    customers_tech_touch: int
    customers_untiered: int
    customers_per_csm: Ratio | None
    arr_per_csm: MoneyTotal | None
    customers_per_onboarding_rep: Ratio | None
    csms_needed_high_touch: Fte
    csms_needed_low_touch: Fte
    csms_needed_tech_touch: Fte
    csms_needed: int
    csm_gap: int


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


class RetentionQuery(MetricQuery):
    """Retention also groups by product: a product's cohort pays for it at start (SPEC §4)."""

    # Widens the base's choices on purpose: only retention splits by product.
    group_by: CustomerGroup | Literal["product"] | None = Field(  # type: ignore[assignment]
        None, description="segment, region, industry, tier, csm, or product."
    )


class RetentionRow(MetricRow):
    """One period and group of retention figures (SPEC §4)."""

    customers_start: int
    starting_arr: MoneyTotal
    ending_arr: MoneyTotal
    upsell: MoneyTotal
    cross_sell: MoneyTotal
    downsell: MoneyTotal
    churn: MoneyTotal
    reactivation: MoneyTotal
    churned_customers: int
    nrr: Ratio | None
    grr: Ratio | None
    logo_churn_rate: Ratio | None
    total_starting_arr: MoneyTotal
    total_ending_arr: MoneyTotal
    new: MoneyTotal
    new_customers: int
    arr_growth: Ratio | None


class HealthRow(MetricRow):
    """Paying customers at the period end, by the band of their latest snapshot on or before it."""

    customers: int
    avg_score: float | None
    red_customers: int
    red_arr: MoneyTotal
    yellow_customers: int
    yellow_arr: MoneyTotal
    green_customers: int
    green_arr: MoneyTotal
    no_score_customers: int
    no_score_arr: MoneyTotal
    revenue_at_risk: MoneyTotal
    method: ChurnMethod


class VocRow(MetricRow):
    """Survey answers received in the period: NPS (-100..100), CSAT (a fraction), CES (a mean)."""

    responses: int
    nps_responses: int
    nps: Ratio | None
    csat_responses: int
    csat: Ratio | None
    ces_responses: int
    ces: Ratio | None


class SupportRow(MetricRow):
    """Tickets opened in the period: response and resolution times (hours) and escalation rate."""

    tickets_opened: int
    median_first_response_hours: float | None
    mean_first_response_hours: float | None
    median_resolution_hours: float | None
    escalation_rate: Ratio | None
