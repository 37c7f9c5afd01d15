"""Every metric formula, once, as small pure functions over Decimal (SPEC §4–§5).

Each returns None when its denominator is zero: a ratio with nothing to divide by is unknown, not 0
(SPEC §2). The SQL in queries.py only gathers the inputs.
"""

from collections.abc import Iterable
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from statistics import NormalDist

ZERO = Decimal(0)


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


# --- Incremental ROI and holdout experiments (SPEC §9) ---------------------------------------------------------

CENT = Decimal("0.01")
Z_95 = Decimal(str(NormalDist().inv_cdf(0.975)))  # 1.959963984540054: the two-sided 95 % normal quantile


def incremental_retained(arr_at_start: Decimal, control_churn_rate: Decimal, churned: bool) -> Decimal:
    """Incremental retained ARR of an at-risk episode = a × (p − c), to the cent, half to even (SPEC §9).

    `a` is the ARR at start, `p` the control churn rate, `c` 1 when the customer's ARR is 0 on the window's last
    day. Negative when a treated customer churns: summed over a program it is an unbiased estimate of churn
    prevented.
    """
    churned_share = Decimal(1) if churned else Decimal(0)
    return (arr_at_start * (control_churn_rate - churned_share)).quantize(CENT, ROUND_HALF_EVEN)


def expected_expansion(arr_at_start: Decimal, control_expansion_rate: Decimal) -> Decimal:
    """Expansion the controls would predict = a × e, to the cent, half to even (SPEC §9)."""
    return (arr_at_start * control_expansion_rate).quantize(CENT, ROUND_HALF_EVEN)


def incremental_expanded(credited: Decimal, arr_at_start: Decimal, control_expansion_rate: Decimal) -> Decimal:
    """Incremental expanded ARR = credited expansion (SPEC §5) − a × e (SPEC §9)."""
    return credited - expected_expansion(arr_at_start, control_expansion_rate)


def window_churn_probability(p90: Decimal, days: int) -> Decimal:
    """The `model` control rate: a 90-day churn probability scaled to the window, 1 − (1 − p90)^(days/90) (§9)."""
    survive = Decimal(1) - p90
    if survive <= 0:
        return Decimal(1)
    return Decimal(1) - survive ** (Decimal(days) / Decimal(90))


def holdout_count(share: Decimal, customers: int) -> int:
    """Holdout size of one stratum of newly enrolled customers = ⌊share × n + ½⌋ (SPEC §9)."""
    return int((share * customers + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR))


def proportion_difference(
    treated_events: int, treated: int, holdout_events: int, holdout: int
) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
    """Treatment − holdout rate with a 95 % Wald interval and a two-sided p-value (SPEC §9).

    The interval uses the unpooled standard error; the p-value the pooled two-proportion z-test (normal
    approximation). None when an arm is empty.
    """
    if not treated or not holdout:
        return None
    rate_t, rate_h = Decimal(treated_events) / treated, Decimal(holdout_events) / holdout
    difference = rate_t - rate_h
    spread = (rate_t * (1 - rate_t) / treated + rate_h * (1 - rate_h) / holdout).sqrt()
    pooled = Decimal(treated_events + holdout_events) / (treated + holdout)
    pooled_se = (pooled * (1 - pooled) * (Decimal(1) / treated + Decimal(1) / holdout)).sqrt()
    if pooled_se == 0:
        p_value = Decimal(1)
    else:
        z = float(abs(difference) / pooled_se)
        p_value = Decimal(str(2 * (1 - NormalDist().cdf(z))))
    return difference, difference - Z_95 * spread, difference + Z_95 * spread, p_value


def minimum_detectable_effect(
    base_rate: Decimal, treated: int, holdout: int, *, power: float = 0.8, alpha: float = 0.05
) -> Decimal | None:
    """Smallest churn-rate difference detectable = (z₁₋α/₂ + z_power) × √(p(1 − p)(1/n_t + 1/n_h)) (SPEC §9)."""
    if not treated or not holdout:
        return None
    z = Decimal(str(NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)))
    return z * (base_rate * (1 - base_rate) * (Decimal(1) / treated + Decimal(1) / holdout)).sqrt()
