"""Voice of the customer and support formulas (SPEC §6 /v1/metrics/voc and /support), pure and exact.

The set-based SQL that gathers their inputs per period and group lives in `app/metrics/health.py`.
"""

import statistics
from collections.abc import Sequence
from decimal import Decimal


def nps(*, promoters: int, detractors: int, responses: int) -> Decimal | None:
    """SPEC §6: % of scores 9-10 minus % of scores 0-6, on -100..100; None without responses."""
    return None if responses == 0 else Decimal(100 * (promoters - detractors)) / responses


def csat(*, satisfied: int, responses: int) -> Decimal | None:
    """SPEC §6: share of scores 4-5 on a 1-5 scale (a fraction); None without responses."""
    return None if responses == 0 else Decimal(satisfied) / responses


def ces(*, total: Decimal, responses: int) -> Decimal | None:
    """SPEC §6: the mean customer effort score; None without responses."""
    return None if responses == 0 else total / responses


def rate(part: int, whole: int) -> Decimal | None:
    """part / whole as an exact fraction (escalation rate); None on a zero denominator (SPEC §2)."""
    return None if whole == 0 else Decimal(part) / whole


def median_hours(hours: Sequence[float]) -> float | None:
    """The median of durations in hours; None when there are none."""
    return statistics.median(hours) if hours else None


def mean_hours(hours: Sequence[float]) -> float | None:
    """The mean of durations in hours; None when there are none."""
    return statistics.fmean(hours) if hours else None
