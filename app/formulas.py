"""Every formula of SPEC and every formula a metric row shows, once, as small pure functions (SPEC §3–§7).

Each ratio returns None when its denominator is zero: a ratio with nothing to divide by is unknown, not 0
(SPEC §2). The SQL that gathers the inputs lives with its owner (metrics queries, the ledger, interventions).

This module is plumbing, not part of `app.metrics`: the read side (metrics, scorecard) and the features that show
a formula in their own views (the intervention view's cost and ROI, the ledger's MRR) import it alike, so no
feature has to import the read side to apply a formula.
"""

import math
import statistics
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal

from app.money import CENT

ZERO = Decimal(0)
Trend = Literal["improving", "worsening", "flat"]


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator / denominator, or None when the denominator is zero."""
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


def nrr(ending_arr: Decimal, starting_arr: Decimal) -> Decimal | None:
    """Net revenue retention = cohort ARR at end / cohort ARR at start (SPEC §4)."""
    return ratio(ending_arr, starting_arr)


def grr(retained_arr: Decimal, starting_arr: Decimal) -> Decimal | None:
    """Gross revenue retention = Σ min(ARR at end, ARR at start) over the cohort / starting ARR (SPEC §4)."""
    return ratio(retained_arr, starting_arr)


def logo_churn_rate(churned_customers: int, customers_start: int) -> Decimal | None:
    """Logo churn rate = cohort customers at 0 at end / cohort customers (SPEC §4)."""
    return ratio(churned_customers, customers_start)


def arr_growth(total_ending_arr: Decimal, total_starting_arr: Decimal) -> Decimal | None:
    """ARR growth = whole-book ARR at end / whole-book ARR at start (SPEC §4)."""
    return ratio(total_ending_arr, total_starting_arr)


def raw_renewal_rate(renewed_arr: Decimal, closed_due_arr: Decimal) -> Decimal | None:
    """Raw renewal rate = Σ min(booked, up for renewal) / ARR up for renewal of closed renewals (≤ 1; SPEC §4)."""
    return ratio(renewed_arr, closed_due_arr)


def net_renewal_rate(booked_arr: Decimal, closed_due_arr: Decimal) -> Decimal | None:
    """Net renewal rate = Σ booked / ARR up for renewal of closed renewals (may exceed 1; SPEC §4)."""
    return ratio(booked_arr, closed_due_arr)


def cost_per_1k(cs_cost: Decimal, renewal_bookings: Decimal) -> Decimal | None:
    """Cost of renewals = CS cost / (renewal bookings / 1000): dollars of CS per $1K renewed (SPEC §4)."""
    return ratio(cs_cost * 1000, renewal_bookings)


def mean(values: Iterable[Decimal | None]) -> Decimal | None:
    """The mean of the defined values, or None when there are none."""
    defined = [v for v in values if v is not None]
    return ratio(sum(defined, ZERO), len(defined))


def per_customer(amount: Decimal, customers: int) -> Decimal | None:
    """An amount per customer (ARPA, CAC, CEC, CRC), or None without customers."""
    return ratio(amount, customers)


def lifetime_months(monthly_logo_churn: Decimal | None) -> Decimal | None:
    """Customer lifetime in months = 1 / mean monthly logo churn (SPEC §4)."""
    return None if monthly_logo_churn is None else ratio(1, monthly_logo_churn)


def clv(arpa_monthly: Decimal | None, gross_margin: Decimal, months: Decimal | None) -> Decimal | None:
    """Customer lifetime value = ARPA (monthly) × gross margin × lifetime in months (SPEC §4)."""
    if arpa_monthly is None or months is None:
        return None
    return arpa_monthly * gross_margin * months


def roi(attributed_revenue: Decimal, cost: Decimal) -> Decimal | None:
    """ROI = (retained + expanded − cost) / cost (SPEC §5)."""
    return ratio(attributed_revenue - cost, cost)


def mrr(arr: Decimal) -> Decimal:
    """Monthly recurring revenue = ARR / 12 (SPEC §3)."""
    return arr / 12


def monthly_logo_churn(monthly_rates: Iterable[Decimal | None]) -> Decimal | None:
    """Mean monthly logo churn = mean of the monthly logo churn rates, months without a cohort skipped (SPEC §4)."""
    return mean(monthly_rates)


def moving_average(values: Sequence[Decimal | None], index: int, months: int = 12) -> tuple[Decimal | None, int]:
    """The 12-month moving average at `index` = mean of the defined values of that month and the 11 before it,
    with how many were defined (SPEC §4 cost of renewals)."""
    window = values[max(0, index - months + 1) : index + 1]
    return mean(window), sum(v is not None for v in window)


def cost_trend(latest: Decimal | None, year_before: Decimal | None) -> Trend | None:
    """Cost trend = the latest 12-month average of cost per $1K renewed against the one 12 months earlier:
    lower is improving, higher worsening, equal flat; unknown when either average is undefined (SPEC §4)."""
    if latest is None or year_before is None:
        return None
    if latest < year_before:
        return "improving"
    return "worsening" if latest > year_before else "flat"


def nps(*, promoters: int, detractors: int, responses: int) -> Decimal | None:
    """NPS = % of scores 9-10 − % of scores 0-6, on -100..100; None without responses (SPEC §6)."""
    return None if responses == 0 else Decimal(100 * (promoters - detractors)) / responses


def csat(*, satisfied: int, responses: int) -> Decimal | None:
    """CSAT = share of scores 4-5 on a 1-5 scale (a fraction); None without responses (SPEC §6)."""
    return None if responses == 0 else Decimal(satisfied) / responses


def ces(*, total: Decimal, responses: int) -> Decimal | None:
    """CES = the mean customer effort score = Σ scores / responses; None without responses (SPEC §6)."""
    return None if responses == 0 else total / responses


def rate(part: int, whole: int) -> Decimal | None:
    """part / whole as an exact fraction (escalation rate = escalated tickets / tickets opened; SPEC §6)."""
    return None if whole == 0 else Decimal(part) / whole


def median_hours(hours: Sequence[float]) -> float | None:
    """The median of durations in hours (median first response, median resolution; SPEC §6); None when none."""
    return statistics.median(hours) if hours else None


def mean_hours(hours: Sequence[float]) -> float | None:
    """The mean of durations in hours (mean first response; SPEC §6); None when there are none."""
    return statistics.fmean(hours) if hours else None


def revenue_at_risk(parts: Iterable[tuple[int, float | None]]) -> Decimal:
    """Revenue at risk = Σ ARR × churn probability over paying customers, in dollars to the cent (SPEC §6).

    `parts` are (ARR in cents, churn probability or None); a part without a probability adds nothing.
    """
    at_risk = ZERO
    for cents, probability in parts:
        if probability is not None:
            at_risk += Decimal(int(cents)) * Decimal(str(probability))
    return (at_risk / 100).quantize(CENT)


def csms_needed(customers: int, customers_per_csm: int) -> int:
    """CSMs a tier needs = ceil(customers in tier / customers per CSM at the target ratio) (SPEC §7)."""
    return math.ceil(customers / customers_per_csm)


def intervention_cost(hours: Decimal, hourly_rate: Decimal, direct_cost: Decimal, linked_cost: Decimal) -> Decimal:
    """Intervention cost = hours × the owner's hourly cost (else the default) + direct cost + cost records
    linked to it, to the cent (SPEC §5)."""
    return ((hours * hourly_rate).quantize(CENT) + direct_cost + linked_cost).quantize(CENT)


def attributed_revenue(retained: Decimal, expanded: Decimal) -> Decimal:
    """Attributed revenue = retained ARR + expanded ARR (SPEC §5)."""
    return retained + expanded


def health_lift(avg_health_delta: Decimal | None, baseline_health_delta: Decimal | None) -> Decimal | None:
    """Health lift = mean health change of the interventions − mean change of same-band peers without one
    (SPEC §5); unknown when either mean is."""
    if avg_health_delta is None or baseline_health_delta is None:
        return None
    return avg_health_delta - baseline_health_delta
