"""Every formula of SPEC and every formula a metric row shows, once, as small pure functions (SPEC §3–§7).

Each ratio returns None when its denominator is zero: a ratio with nothing to divide by is unknown, not 0
(SPEC §2). The SQL that gathers the inputs lives with its owner (metrics queries, the ledger, interventions).

This module is plumbing, not part of `app.metrics`: the read side (metrics, scorecard) and the features that show
a formula in their own views (the intervention view's cost and ROI, the ledger's MRR) import it alike, so no
feature has to import the read side to apply a formula.
"""

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from statistics import NormalDist
from typing import Any, Protocol

import numpy as np
from sqlalchemy import ColumnElement, Float, case, cast, func, literal, null, or_

from app.money import CENT
from app.types import Trend

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


# Billing periods in a year, by the interval a recurring price is billed at (SPEC §11, Stripe in).
PERIODS_PER_YEAR = {"day": 365, "week": 52, "month": 12, "year": 1}


def subscription_arr(unit_amount: Decimal, quantity: int, *, interval: str, interval_count: int) -> Decimal:
    """ARR of a subscription item = unit amount × quantity × periods per year / interval_count (SPEC §11).

    Periods per year: day 365, week 52, month 12, year 1; a price billed every 3 months is 12 / 3 = 4 periods.
    Rounded to cents, half to even, once at the end (every 7 days: 365 / 7 periods is no finite decimal).
    """
    return (unit_amount * quantity * PERIODS_PER_YEAR[interval] / interval_count).quantize(CENT, ROUND_HALF_EVEN)


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


# --- Health score and churn probability (SPEC §6) ---------------------------------------------------------------


def component_score(raw: float, *, bad: float, good: float) -> float:
    """Component score = 100 × (raw − bad) / (good − bad), clamped to 0..100; bad > good means lower is better."""
    return min(100.0, max(0.0, 100.0 * (raw - bad) / (good - bad)))


@dataclass(frozen=True)
class Combined:
    """A weighted mean of component scores: the score, the weight share with data, each one's points."""

    score: float | None
    coverage: float
    contributions: list[float | None]


def combine(parts: Sequence[tuple[float, float | None]]) -> Combined:
    """Health score = weighted mean of the (weight, score) parts that have a score; coverage = their weight share.

    Weights are renormalised over the components with data, so a missing survey neither drags the score to
    0 nor lifts it; `coverage` says how much of the model the score stands on. Each contribution is the
    component's points in the final score, so they add up to it.
    """
    total = sum(weight for weight, _ in parts)
    with_data = sum(weight for weight, score in parts if score is not None)
    if with_data == 0:
        return Combined(None, 0.0, [None for _ in parts])
    contributions = [None if score is None else weight * score / with_data for weight, score in parts]
    score = sum(c for c in contributions if c is not None)
    return Combined(min(100.0, max(0.0, score)), with_data / total, contributions)


def band_of(score: float | None, *, red_below: float, green_from: float) -> str | None:
    """Health band (SPEC §6): red below `red_below`, green from `green_from`, yellow between; None without a score."""
    if score is None:
        return None
    if score < red_below:
        return "red"
    return "green" if score >= green_from else "yellow"


# |z| beyond this is a probability within 1e-304 of 0 or 1. Bounding it keeps exp() finite and non-zero: PostgreSQL's
# exp() raises on underflow where Python's returns 0, and `churn_probability_sql` must give Python's value.
LOGIT_BOUND = 700.0


class LogisticFit(Protocol):
    """The two numbers of a fitted churn model."""

    @property
    def intercept(self) -> float: ...

    @property
    def coefficient(self) -> float: ...


def logistic(score: float, fit: LogisticFit) -> float:
    """P(churn within 90 days) = 1 / (1 + exp(−(intercept + coefficient × score))) (SPEC §6), computed stably."""
    z = min(LOGIT_BOUND, max(-LOGIT_BOUND, fit.intercept + fit.coefficient * score))
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def churn_probability(
    score: float | None, band: str | None, *, fit: LogisticFit | None, defaults: Mapping[str, float]
) -> float | None:
    """Churn probability = the fitted logistic at the score when a model exists, else the band's default
    (SPEC §6); None without a score."""
    if score is None or band is None:
        return None
    return logistic(score, fit) if fit is not None else defaults.get(band)


# --- Health backtest (SPEC §10) --------------------------------------------------------------------------------


def roc_auc(scores: Sequence[float] | np.ndarray, churned: Sequence[bool] | np.ndarray) -> float | None:
    """ROC AUC of health scores against churn, lower score = riskier (SPEC §10): the share of (churned, retained)
    pairs of examples in which the churned one scored lower, ties counting half; None without both kinds.

    Computed as the Mann-Whitney rank sum with average ranks for ties, so it equals scikit-learn's
    `roc_auc_score(churned, -scores)`: U = Σ ranks of the churned by riskiness − P(P + 1)/2, AUC = U / (P × N).
    Average ranks are halves, so U is exact in a float and the AUC is one correctly rounded division.
    """
    risk = -np.asarray(scores, dtype=float)
    positive = np.asarray(churned, dtype=bool)
    churns = int(positive.sum())
    retained = len(positive) - churns
    if churns == 0 or retained == 0:
        return None
    _, inverse, counts = np.unique(risk, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2  # 1-based ranks of each distinct value, ties averaged
    u = float(average_rank[inverse][positive].sum()) - churns * (churns + 1) / 2
    return u / (churns * retained)


def brier(probabilities: Sequence[float] | np.ndarray, churned: Sequence[bool] | np.ndarray) -> float | None:
    """Brier score = mean of (churn probability − outcome)², outcome 1 for a churn and 0 otherwise (SPEC §10):
    0 is perfect, and always saying 50 % scores 0.25; None without examples."""
    p = np.asarray(probabilities, dtype=float)
    if len(p) == 0:
        return None
    return float(np.mean((p - np.asarray(churned, dtype=float)) ** 2))


def churn_probabilities(
    scores: np.ndarray, bands: np.ndarray, *, fit: LogisticFit | None, defaults: Mapping[str, float]
) -> np.ndarray:
    """`churn_probability` of many scores at once (bands as band names, None for none): NaN where it is None."""
    score = np.asarray(scores, dtype=float)
    band = np.asarray(bands, dtype=object)
    known = ~np.isnan(score) & (band != None)  # noqa: E711 - elementwise over an object array
    result = np.full(score.shape, np.nan)
    if fit is not None:
        z = fit.intercept + fit.coefficient * score[known]
        small = np.exp(-np.abs(z))  # logistic's stable form: never exp of a large positive number
        result[known] = np.where(z >= 0, 1.0 / (1.0 + small), small / (1.0 + small))
        return result
    for name, probability in defaults.items():
        result[known & (band == name)] = probability
    return result


def combine_scores(parts: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """`combine`'s score for many rows at once: `parts` holds one row of component scores per example (NaN: no
    data), `weights` one weight per component; the weighted mean over the components with data, NaN without any."""
    w = np.asarray(weights, dtype=float)
    has = ~np.isnan(parts)
    with_data = has @ w
    total = np.where(has, parts, 0.0) @ w
    scores = np.full(len(parts), np.nan)
    scored = with_data > 0
    scores[scored] = np.clip(total[scored] / with_data[scored], 0.0, 100.0)
    return scores


def lift(red_churn_rate: Decimal | None, green_churn_rate: Decimal | None) -> Decimal | None:
    """Lift = churn rate of the red pairs ÷ churn rate of the green ones (SPEC §10): how many times likelier a red
    customer churned; None when either rate is unknown or no green pair churned (nothing to divide by)."""
    if red_churn_rate is None or green_churn_rate is None:
        return None
    return ratio(red_churn_rate, green_churn_rate)


def churn_probability_sql(
    score: ColumnElement[Any], band: ColumnElement[Any], *, fit: LogisticFit | None, defaults: Mapping[str, float]
) -> ColumnElement[float]:
    """`churn_probability` as a SQL expression over a score and a band column, for a list that filters or sorts by
    it (SPEC §12): the same operations in the same order on doubles, so the database's value is Python's; NULL
    without a score (or a band without a default)."""
    if fit is None:
        by_band = [(band == name, literal(float(p), Float)) for name, p in sorted(defaults.items())]
        # Cast: without a default for any band, PostgreSQL could not tell a CASE of NULLs is a number.
        return cast(case((score.is_(None), null()), *by_band, else_=null()), Float)
    bound = literal(LOGIT_BOUND, Float)
    logit = literal(float(fit.intercept), Float) + literal(float(fit.coefficient), Float) * score
    z = case((logit > bound, bound), (logit < -bound, -bound), else_=logit)
    one = literal(1.0, Float)
    return case(
        (or_(score.is_(None), band.is_(None)), null()),
        (z >= 0, one / (one + func.exp(-z))),
        else_=func.exp(z) / (one + func.exp(z)),
    )


FTE_PLACES = 2


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


# --- Incremental ROI and holdout experiments (SPEC §9) ---------------------------------------------------------

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


def normal_test(difference: Decimal, standard_error: Decimal) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """A difference with its 95 % interval, difference ± z₀.₉₇₅ × SE, and two-sided p = 2 × (1 − Φ(|d| / SE))
    (normal approximation; SPEC §9). With SE 0 the p-value is 1 when d = 0, else 0."""
    if standard_error == 0:
        p_value = Decimal(1) if difference == 0 else Decimal(0)
    else:
        p_value = Decimal(str(2 * (1 - NormalDist().cdf(float(abs(difference) / standard_error)))))
    spread = Z_95 * standard_error
    return difference, difference - spread, difference + spread, p_value


def ratio_of_sums_variance(pairs: Sequence[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal] | None:
    """R = Σy / Σx over (x, y) pairs and its delta-method variance Σ(y − R·x)² / (n (n − 1) x̄²) (SPEC §9: the
    ratio estimator of GRR per arm, x = ARR at start, y = min(ARR at end, ARR at start)). None with fewer than two
    pairs or Σx = 0."""
    n = len(pairs)
    total_x = sum((x for x, _ in pairs), ZERO)
    if n < 2 or total_x == 0:
        return None
    r = sum((y for _, y in pairs), ZERO) / total_x
    mean_x = total_x / n
    residuals = sum(((y - r * x) ** 2 for x, y in pairs), ZERO)
    return r, residuals / (n * (n - 1) * mean_x**2)


def ratio_difference(
    treated: Sequence[tuple[Decimal, Decimal]], holdout: Sequence[tuple[Decimal, Decimal]]
) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
    """Treatment − holdout of a ratio of sums (GRR) with a 95 % interval and two-sided p-value: normal
    approximation, SE = √(Var R_t + Var R_h) from `ratio_of_sums_variance` (SPEC §9). None when an arm has fewer
    than two customers."""
    t, h = ratio_of_sums_variance(treated), ratio_of_sums_variance(holdout)
    if t is None or h is None:
        return None
    return normal_test(t[0] - h[0], (t[1] + h[1]).sqrt())


def mean_difference(
    treated: Sequence[Decimal], holdout: Sequence[Decimal]
) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
    """Treatment − holdout mean (health delta) with a 95 % interval and two-sided p-value: normal approximation
    with Welch's standard error √(s²_t/n_t + s²_h/n_h), s² the sample variance (SPEC §9). None when an arm has
    fewer than two values."""
    if len(treated) < 2 or len(holdout) < 2:
        return None

    def mean_and_variance(values: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
        m = sum(values, ZERO) / len(values)
        return m, sum(((v - m) ** 2 for v in values), ZERO) / (len(values) - 1)

    (mean_t, var_t), (mean_h, var_h) = mean_and_variance(treated), mean_and_variance(holdout)
    return normal_test(mean_t - mean_h, (var_t / len(treated) + var_h / len(holdout)).sqrt())


def experiment_incremental_retained(
    holdout_churned_arr_rate: Decimal, treated_starting_arr: Decimal, treated_churned_arr: Decimal
) -> Decimal:
    """An experiment's incremental retained ARR = holdout ARR-weighted churn rate × treatment starting ARR −
    treatment churned ARR, to the cent, half to even (SPEC §9)."""
    return (holdout_churned_arr_rate * treated_starting_arr - treated_churned_arr).quantize(CENT, ROUND_HALF_EVEN)
