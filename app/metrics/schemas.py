"""Metric queries and the `{"rows", "meta"}` answer shape shared by every metric route (SPEC §2)."""

from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, model_validator

from app.money import MoneyTotal
from app.schemas import FloatRatio, Fte, IsoDate, Points, QueryIn, Ratio, Score
from app.types import ChurnMethod, CustomerGroup, Interval, InterventionGroup, ResponseFormat, RoiMethod

MAX_RANGE_DAYS = 366 * 20


class MetricQuery(QueryIn):
    """`start`, `end` (inclusive), `interval`, `group_by`, `format`; any other parameter is a 422."""

    start: IsoDate = Field(description="First day of the range (inclusive), YYYY-MM-DD.", examples=["2026-01-01"])
    end: IsoDate = Field(description="Last day of the range (inclusive), YYYY-MM-DD.", examples=["2026-03-31"])
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

    period_start: date = Field(description="First day of the period (the range's start for the first one).")
    period_end: date = Field(description="Last day of the period, inclusive (the range's end for the last one).")
    group: str | None = Field(
        description="The group_by value of this row; null when not grouped, or for customers without a value."
    )


R = TypeVar("R", bound=MetricRow)


class MetricAnswer(BaseModel, Generic[R]):
    """Rows in period then group order, and what produced them."""

    rows: list[R] = Field(description="One row per period and group, in period then group order.")
    meta: dict[str, Any] = Field(
        description="The query as understood (start, end, interval, group_by), `currency` (ISO 4217 code of every "
        "money figure in the rows: setting CSROI_CURRENCY, e.g. USD), plus the metric's own notes (e.g. trend, "
        "cs_teams, allocation)."
    )


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

    paying_customers: int = Field(description="Customers with ARR > 0 at the period's end.")
    mrr: MoneyTotal = Field(description="Monthly recurring revenue = their ARR / 12, in currency units (2 decimals).")
    arpa_monthly: MoneyTotal | None = Field(
        description="Average revenue per account = mrr / paying_customers, per month; null without paying customers."
    )
    new_customers: int = Field(description="Customers whose first ever ARR (a `new` movement) is in the period.")
    acquire_cost: MoneyTotal = Field(
        description="Costs with motion acquire in the months the period touches, in currency units (2 decimals)."
    )
    cac: MoneyTotal | None = Field(
        description="Customer acquisition cost = acquire_cost / new_customers; null without new customers."
    )
    expanding_customers: int = Field(
        description="Customers with an upsell or cross-sell in the period (new ones included)."
    )
    expand_cost: MoneyTotal = Field(
        description="Costs with motion expand in the months the period touches, in currency units (2 decimals)."
    )
    cec: MoneyTotal | None = Field(
        description="Customer expansion cost = expand_cost / expanding_customers; null without expanding customers."
    )
    retained_customers: int = Field(description="Customers paying at the start (the cohort) still paying at the end.")
    retain_cost: MoneyTotal = Field(
        description="Costs with motion retain in the months the period touches, in currency units (2 decimals)."
    )
    crc: MoneyTotal | None = Field(
        description="Customer retention cost = retain_cost / retained_customers; null without retained customers."
    )
    churn_months: int = Field(description="Calendar months with a cohort that went into monthly_logo_churn.")
    monthly_logo_churn: Ratio | None = Field(
        description="Mean over the period's months of churned cohort customers / cohort customers, "
        "a fraction (0.02 = 2 % a month); null without a month with a cohort."
    )
    lifetime_months: Ratio | None = Field(
        description="Expected customer lifetime in months = 1 / monthly_logo_churn; null when nobody churned."
    )
    clv: MoneyTotal | None = Field(
        description="Customer lifetime value = arpa_monthly × gross margin (CSROI_GROSS_MARGIN, "
        "default 0.8) × lifetime_months, in currency units; null when either is null."
    )


class RenewalsRow(MetricRow):
    """Renewals due in the period; open ones count in due/open figures but in neither rate."""

    due_count: int = Field(description="Renewals whose due_date is in the period, whatever their status.")
    due_arr: MoneyTotal = Field(description="Their ARR up for renewal, in currency units (2 decimals).")
    renewed_count: int = Field(description="Of those, the ones renewed.")
    churned_count: int = Field(description="Of those, the ones churned.")
    open_count: int = Field(description="Of those, the ones still open (in neither rate).")
    open_arr: MoneyTotal = Field(description="ARR up for renewal of the open ones, in currency units (2 decimals).")
    renewed_arr: MoneyTotal = Field(
        description="Σ min(booked, up for renewal) over the renewed ones: ARR kept without "
        "expansion, in currency units (2 decimals)."
    )
    booked_arr: MoneyTotal = Field(
        description="Σ booked ARR over the closed ones (churned count 0), in currency units (2 decimals)."
    )
    raw_renewal_rate: Ratio | None = Field(
        description="Raw renewal rate = renewed_arr / ARR up for renewal of the closed ones; never "
        "above 1; null when none closed."
    )
    net_renewal_rate: Ratio | None = Field(
        description="Net renewal rate = booked_arr / ARR up for renewal of the closed ones; above 1 "
        "when renewals expanded (1.07 = 107 %); null when none closed."
    )


class CostOfRenewalsRow(MetricRow):
    """One calendar month: CS cost against ARR renewed (closed) that month, its 12-month average, and the ratio of
    the trailing twelve months' sums (SPEC §13)."""

    cs_cost: MoneyTotal = Field(
        description="The month's costs of the CS teams (CSROI_CS_TEAMS), in currency units (2 decimals)."
    )
    renewal_bookings: MoneyTotal = Field(
        description="Σ booked_arr of renewals renewed (closed_on) in the month, in currency units (2 decimals)."
    )
    cost_per_1k: Ratio | None = Field(
        description="CS cost per 1,000 renewed = cs_cost / (renewal_bookings / 1000), in currency "
        "units; null without bookings."
    )
    moving_avg_12m: Ratio | None = Field(
        description="Mean of the defined cost_per_1k of this month and the 11 before it; null when none is defined."
    )
    months_in_average: int = Field(description="How many defined monthly values went into moving_avg_12m (0 to 12).")
    ttm_cs_cost: MoneyTotal = Field(
        description="cs_cost summed over this month and the 11 before it, in currency units (2 decimals)."
    )
    ttm_renewal_bookings: MoneyTotal = Field(
        description="renewal_bookings summed over this month and the 11 before it, in currency units (2 decimals)."
    )
    ttm_cost_per_1k: Ratio | None = Field(
        description="ttm_cs_cost / (ttm_renewal_bookings / 1000): a ratio of twelve-month sums, "
        "steadier than the mean; null without bookings in the twelve months."
    )


class CostOfRenewalsQuery(MetricQuery):
    """The metric query; the metric is monthly by definition, so `interval` may only be `month`."""

    interval: Literal["month"] | None = Field(
        None, description="Only `month` (or omitted): the metric is one row per calendar month by definition."
    )


class StaffingQuery(MetricQuery):
    """The metric query without `group_by`: team members carry no customer attribute to group by."""

    group_by: None = Field(None, description="Not supported: staffing is computed for the whole book.")


class StaffingRow(MetricRow):
    """One period, as of its last day: team, paying customers by tier, ratios, FTE needed per tier, whole CSMs
    needed and the gap (SPEC §7, §13). `customers_<tier>` count the customers with that tier; the untiered ones
    are staffed as the default tier, so they are in that tier's `csms_needed_<tier>`."""

    csms: int = Field(description="Team members with role csm employed on the period's last day.")
    onboarding_reps: int = Field(description="Team members with role onboarding employed that day.")
    customers: int = Field(description="Paying customers (ARR > 0) that day.")
    arr: MoneyTotal = Field(description="Their ARR, in currency units (2 decimals).")
    customers_high_touch: int = Field(description="Paying customers with tier high_touch.")
    customers_low_touch: int = Field(description="Paying customers with tier low_touch.")
    customers_tech_touch: int = Field(description="Paying customers with tier tech_touch.")
    customers_untiered: int = Field(description="Paying customers without a tier (staffed as CSROI_DEFAULT_TIER).")
    customers_per_csm: Ratio | None = Field(description="customers / csms; null without CSMs.")
    arr_per_csm: MoneyTotal | None = Field(description="arr / csms, in currency units (2 decimals); null without CSMs.")
    customers_per_onboarding_rep: Ratio | None = Field(
        description="customers / onboarding_reps; null without onboarding reps."
    )
    csms_needed_high_touch: Fte = Field(
        description="FTE needed = high_touch customers / the tier's customers per CSM "
        "(CSROI_CSM_RATIOS), two decimals (1.21 = 1.21 FTE)."
    )
    csms_needed_low_touch: Fte = Field(
        description="FTE needed for low_touch (untiered included when it is the default tier), two decimals."
    )
    csms_needed_tech_touch: Fte = Field(description="FTE needed for tech_touch, two decimals.")
    csms_needed: int = Field(description="Whole CSMs needed: the ceiling of the unrounded sum of the three FTE needs.")
    csm_gap: int = Field(description="csms_needed − csms: positive means understaffed, negative overstaffed.")


class RoiQuery(MetricQuery):
    """ROI groups by intervention type, framework or owner as well as by customer attribute."""

    # Widens the base's choices on purpose: only ROI splits by intervention fields.
    group_by: CustomerGroup | InterventionGroup | None = Field(  # type: ignore[assignment]
        None, description="type, framework, owner, or a customer attribute."
    )
    seed: int = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="Seed of the bootstrap behind roi_incremental_low/high: the same data and seed give the same "
        "interval (SPEC §9).",
        examples=[0],
    )


class RoiRow(MetricRow):
    """Interventions started in the period: outcomes, attributed revenue, cost, ROI, health lift."""

    interventions: int = Field(description="Interventions started in the period.")
    measured: int = Field(description="Of those, the ones with a known outcome.")
    outcome_rate: Ratio | None = Field(description="met / measured, a fraction (0.6 = 60 %); null when none measured.")
    retained_arr: MoneyTotal = Field(
        description="ARR they retained (at-risk interventions), in currency units (2 decimals)."
    )
    expanded_arr: MoneyTotal = Field(
        description="Upsell and cross-sell ARR credited to them, in currency units (2 decimals)."
    )
    attributed_revenue: MoneyTotal = Field(description="retained_arr + expanded_arr, in currency units (2 decimals).")
    cost: MoneyTotal = Field(
        description="Ungrouped: the period's CS cost (cost records of the CS teams); grouped: the "
        "group's own intervention cost; in currency units (2 decimals)."
    )
    roi: Ratio | None = Field(
        description="CS ROI = (attributed_revenue − cost) / cost, a plain fraction (3.0 = 300 %); null at zero cost."
    )
    avg_health_delta: Points | None = Field(
        description="Mean health score change, in points (two decimals), from each start to its measurement date; "
        "null without data."
    )
    baseline_health_delta: Points | None = Field(
        description="The same change over the same windows for same-band customers without an "
        "intervention; null without peers."
    )
    health_lift: Points | None = Field(
        description="Health lift = avg_health_delta − baseline_health_delta, in points (two decimals); null when "
        "either is null."
    )
    incremental_retained_arr: MoneyTotal = Field(
        description="Churn revenue prevented against a counterfactual: Σ a × (p − c) over the treated at-risk "
        "episodes (a: ARR at start, p: the control churn rate, c: 1 if it churned), capped once per rescue year; "
        "negative when treated customers churned more than their controls; currency units (SPEC §9)."
    )
    incremental_expanded_arr: MoneyTotal = Field(
        description="Credited expansion minus what the controls' expansion rate predicts (Σ a × e); currency units."
    )
    incremental_revenue: MoneyTotal = Field(
        description="incremental_retained_arr + incremental_expanded_arr, in currency units (2 decimals)."
    )
    roi_incremental: Ratio | None = Field(
        description="(incremental_revenue − cost) / cost with the row's cost: the ROI a CFO can sign; null at zero "
        "cost."
    )
    roi_incremental_low: Ratio | None = Field(
        description="2.5th percentile of roi_incremental over 1,000 bootstrap resamples of treated episodes and "
        "control customers (seeded by meta.seed); null with fewer than 10 treated episodes."
    )
    roi_incremental_high: Ratio | None = Field(description="97.5th percentile of the same bootstrap; null likewise.")
    method: RoiMethod | None = Field(
        description="The counterfactual every treated episode of the row used: holdout, matched or model; mixed "
        "when they differ; null without episodes."
    )
    treated_episodes: int = Field(
        description="Treated units: at-risk episodes (interventions on one customer within one window count once) "
        "plus non-at-risk interventions."
    )
    control_customers: int = Field(description="Distinct customers in the control pools the row's episodes used.")


class RetentionQuery(MetricQuery):
    """Retention also groups by product: a product's cohort pays for it at start (SPEC §4)."""

    # Widens the base's choices on purpose: only retention splits by product.
    group_by: CustomerGroup | Literal["product"] | None = Field(  # type: ignore[assignment]
        None, description="segment, region, industry, tier, csm, or product."
    )


class RetentionRow(MetricRow):
    """One period and group of retention figures (SPEC §4)."""

    customers_start: int = Field(description="The cohort: customers paying (ARR > 0) at the period's start.")
    starting_arr: MoneyTotal = Field(
        description="The cohort's ARR at the start (after changes dated before it), in currency units (2 decimals)."
    )
    ending_arr: MoneyTotal = Field(description="The same customers' ARR at the end, in currency units (2 decimals).")
    upsell: MoneyTotal = Field(
        description="The cohort's upsell movements in the period, in currency units (2 decimals)."
    )
    cross_sell: MoneyTotal = Field(
        description="The cohort's cross-sell movements in the period, in currency units (2 decimals)."
    )
    downsell: MoneyTotal = Field(
        description="The cohort's downsell movements in the period (a positive amount), in currency units (2 decimals)."
    )
    churn: MoneyTotal = Field(
        description="The cohort's churned ARR in the period (a positive amount), in currency units (2 decimals)."
    )
    reactivation: MoneyTotal = Field(
        description="The cohort's reactivations in the period, in currency units (2 decimals)."
    )
    churned_customers: int = Field(description="Cohort customers at ARR 0 at the end.")
    nrr: Ratio | None = Field(
        description="Net revenue retention = ending_arr / starting_arr of the cohort, expansion "
        "included (1.07 = 107 %); null without a cohort."
    )
    grr: Ratio | None = Field(
        description="Gross revenue retention = Σ min(ARR at end, ARR at start) / starting_arr; "
        "never above 1; null without a cohort."
    )
    logo_churn_rate: Ratio | None = Field(
        description="churned_customers / customers_start, a fraction; null without a cohort."
    )
    total_starting_arr: MoneyTotal = Field(
        description="ARR of the whole book at the start, not only the cohort, in currency units (2 decimals)."
    )
    total_ending_arr: MoneyTotal = Field(
        description="ARR of the whole book at the end, in currency units (2 decimals)."
    )
    new: MoneyTotal = Field(
        description="ARR of the customers who started paying in the period, in currency units (2 decimals)."
    )
    new_customers: int = Field(description="How many customers started paying in the period.")
    arr_growth: Ratio | None = Field(
        description="total_ending_arr / total_starting_arr (1.10 = +10 %); null when the book was empty at the start."
    )


class HealthRow(MetricRow):
    """Paying customers at the period end, by the band of their latest snapshot on or before it."""

    customers: int = Field(description="Paying customers (ARR > 0) at the period's end.")
    avg_score: Score | None = Field(
        description="Mean health score (0..100, two decimals) of the scored ones, from their latest snapshot on "
        "or before the end; null when none is scored."
    )
    red_customers: int = Field(description="Paying customers whose latest snapshot is red.")
    red_arr: MoneyTotal = Field(description="Their ARR, in currency units (2 decimals).")
    yellow_customers: int = Field(description="Paying customers whose latest snapshot is yellow.")
    yellow_arr: MoneyTotal = Field(description="Their ARR, in currency units (2 decimals).")
    green_customers: int = Field(description="Paying customers whose latest snapshot is green.")
    green_arr: MoneyTotal = Field(description="Their ARR, in currency units (2 decimals).")
    no_score_customers: int = Field(description="Paying customers without a snapshot on or before the period's end.")
    no_score_arr: MoneyTotal = Field(description="Their ARR, in currency units (2 decimals).")
    revenue_at_risk: MoneyTotal = Field(
        description="Σ ARR × churn probability of each snapshot's score, in currency units (2 decimals)."
    )
    method: ChurnMethod = Field(
        description="fitted when a churn model is stored, else default (the band default probabilities)."
    )


class VocRow(MetricRow):
    """Survey answers received in the period: NPS (-100..100), CSAT (a fraction), CES (a mean)."""

    responses: int = Field(description="survey_response events of the three surveys received in the period.")
    nps_responses: int = Field(description="Answers with properties.survey = nps.")
    nps: Ratio | None = Field(
        description="Net promoter score = % answers 9–10 − % answers 0–6, on −100..100 (not a "
        "fraction); null without answers."
    )
    csat_responses: int = Field(description="Answers with properties.survey = csat.")
    csat: Ratio | None = Field(
        description="Customer satisfaction = share of answers 4–5 on a 1–5 scale, a fraction (0.85 "
        "= 85 %); null without answers."
    )
    ces_responses: int = Field(description="Answers with properties.survey = ces.")
    ces: Ratio | None = Field(description="Customer effort score = mean answer value; null without answers.")


class SupportRow(MetricRow):
    """Tickets opened in the period: response and resolution times (hours) and escalation rate."""

    tickets_opened: int = Field(
        description="Tickets (ticket_opened events, by properties.ticket) opened in the period."
    )
    median_first_response_hours: FloatRatio | None = Field(
        description="Median hours from ticket_opened to the first ticket_first_response; null without responses."
    )
    mean_first_response_hours: FloatRatio | None = Field(description="Mean of the same hours; null without responses.")
    median_resolution_hours: FloatRatio | None = Field(
        description="Median hours from opened to the first ticket_resolved, unresolved ones left out; null without any."
    )
    escalation_rate: Ratio | None = Field(
        description="Tickets with at least one ticket_escalated / tickets_opened, a fraction; null without tickets."
    )
