"""Calendar periods: a [start, end] range split by month, quarter or year (SPEC §2)."""

from dataclasses import dataclass
from datetime import date, timedelta

from app.types import Interval

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Period:
    """An inclusive date range; `index` orders periods within one answer."""

    index: int
    start: date
    end: date


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def month_start(day: date) -> date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return add_months(day, 1) - timedelta(days=1)


def _bucket_start(day: date, interval: Interval) -> date:
    step = _MONTHS[interval]
    return date(day.year, (day.month - 1) // step * step + 1, 1)


def split_periods(start: date, end: date, interval: Interval | None) -> list[Period]:
    """The calendar periods of `interval` that [start, end] touches, clipped to the range; one without interval."""
    if interval is None:
        return [Period(0, start, end)]
    periods: list[Period] = []
    cursor = _bucket_start(start, interval)
    while cursor <= end:
        following = add_months(cursor, _MONTHS[interval])
        periods.append(Period(len(periods), max(cursor, start), min(following - timedelta(days=1), end)))
        cursor = following
    return periods


def months_touched(start: date, end: date) -> list[date]:
    """First days of every calendar month that [start, end] touches."""
    months, cursor = [], month_start(start)
    while cursor <= end:
        months.append(cursor)
        cursor = add_months(cursor, 1)
    return months
