"""Every metric formula, once, as small pure functions over Decimal (SPEC §4–§5).

Each returns None when its denominator is zero: a ratio with nothing to divide by is unknown, not 0
(SPEC §2). The SQL in queries.py only gathers the inputs.
"""

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

ZERO = Decimal(0)
FTE_PLACES = 2


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


def ttm_cost_per_1k(ttm_cs_cost: Decimal, ttm_renewal_bookings: Decimal) -> Decimal | None:
    """TTM cost of renewals = ttm_cs_cost / (ttm_renewal_bookings / 1000), both summed over the month and the 11
    before it (SPEC §13): one ratio of sums, so a slow month of renewals cannot swing it as a mean of ratios does."""
    return cost_per_1k(ttm_cs_cost, ttm_renewal_bookings)


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


def fte_need(customers: int, customers_per_csm: int) -> Decimal:
    """A tier's exact CSM need in FTE = customers ÷ customers per CSM, rounded half-even to two decimals (SPEC §13)."""
    # Rounded from the exact fraction, so 1/8 = 0.125 becomes 0.12 with no float or 28-digit Decimal in between.
    rounded = round(Fraction(customers, customers_per_csm), FTE_PLACES)
    return (Decimal(rounded.numerator) / Decimal(rounded.denominator)).quantize(Decimal(1).scaleb(-FTE_PLACES))


def csms_needed(needs: Iterable[tuple[int, int]]) -> int:
    """Whole CSMs needed = ceil(Σ customers ÷ customers per CSM) over the tiers' (customers, ratio) pairs (SPEC §13).

    The ceiling is of the exact, unrounded sum (fractions, not the two-decimal figures shown per tier): four
    part-time needs of 1.21 FTE in total are 2 CSMs, not 4; three tiers of exactly 1/3 FTE are 1 CSM.
    """
    return math.ceil(sum((Fraction(customers, ratio) for customers, ratio in needs), Fraction(0)))


def allocate_cents(cents: int, weights: Sequence[int]) -> list[int]:
    """Split `cents` in proportion to `weights` in whole cents, by largest remainder (SPEC §13 grouped costs).

    Each share is floor(cents × weight / Σ weights); the cents left over go one each to the largest remainders
    (ties to the earlier weight), so the shares add up exactly to `cents`. A zero weight gets nothing; when every
    weight is zero nothing can be allocated and every share is 0 (the caller reports `cents` as unallocated).
    """
    total = sum(weights)
    if cents == 0 or total == 0:
        return [0] * len(weights)
    if cents < 0:  # costs are never negative (SPEC §3), but a split must not depend on that
        return [-share for share in allocate_cents(-cents, weights)]
    shares, remainders = [], []
    for index, weight in enumerate(weights):
        share, remainder = divmod(cents * weight, total)
        shares.append(share)
        remainders.append((-remainder, index))
    for _, index in sorted(remainders)[: cents - sum(shares)]:
        shares[index] += 1
    return shares
