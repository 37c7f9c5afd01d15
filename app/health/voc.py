"""Voice of the customer and support figures (SPEC §6 /v1/metrics/voc and /support): formulas and SQL inputs.

The metric-route framework (`app/metrics/`, periods and groups) is built on another branch; these are the
pure formulas and the set-based inputs it will call per period.
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, case, func, select, type_coerce
from sqlalchemy.orm import Session

from app.health.queries import day_end
from app.usage.models import VALUE_SCALE, UsageEvent, from_micros

_VALUE = type_coerce(UsageEvent.value, BigInteger)


def nps(*, promoters: int, detractors: int, responses: int) -> float | None:
    """SPEC §6: % of scores 9-10 minus % of scores 0-6, on -100..100; None without responses."""
    return None if responses == 0 else 100 * (promoters - detractors) / responses


def csat(*, satisfied: int, responses: int) -> float | None:
    """SPEC §6: share of scores 4-5 on a 1-5 scale (a fraction); None without responses."""
    return None if responses == 0 else satisfied / responses


def ces(*, total: Decimal, responses: int) -> float | None:
    """SPEC §6: the mean customer effort score; None without responses."""
    return None if responses == 0 else float(total / responses)


def median_hours(hours: Sequence[float]) -> float | None:
    """The median of durations in hours; None when there are none."""
    return statistics.median(hours) if hours else None


def mean_hours(hours: Sequence[float]) -> float | None:
    """The mean of durations in hours; None when there are none."""
    return statistics.fmean(hours) if hours else None


@dataclass(frozen=True)
class Voc:
    """Survey figures of a period."""

    responses: int
    nps: float | None
    csat: float | None
    ces: float | None


def _between(start: date, end: date) -> list[Any]:
    start_at = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    return [UsageEvent.occurred_at >= start_at, UsageEvent.occurred_at < day_end(end)]


def voc(session: Session, *, start: date, end: date) -> Voc:
    """NPS, CSAT and CES of the survey responses from start to end (inclusive), aggregated in SQL."""
    survey = UsageEvent.properties["survey"].as_string()
    stmt = (
        select(
            survey,
            func.count(),
            func.count(case((_VALUE >= 9 * VALUE_SCALE, 1))),
            func.count(case((_VALUE <= 6 * VALUE_SCALE, 1))),
            func.count(case((_VALUE >= 4 * VALUE_SCALE, 1))),
            func.sum(_VALUE),
        )
        .where(UsageEvent.kind == "survey_response", survey.in_(["nps", "csat", "ces"]), *_between(start, end))
        .group_by(survey)
    )
    rows = {row[0]: row[1:] for row in session.execute(stmt)}
    n_nps, promoters, detractors, _, _ = rows.get("nps", (0, 0, 0, 0, 0))
    n_csat, _, _, satisfied, _ = rows.get("csat", (0, 0, 0, 0, 0))
    n_ces, _, _, _, ces_total = rows.get("ces", (0, 0, 0, 0, 0))
    return Voc(
        responses=n_nps + n_csat + n_ces,
        nps=nps(promoters=promoters, detractors=detractors, responses=n_nps),
        csat=csat(satisfied=satisfied, responses=n_csat),
        ces=ces(total=from_micros(ces_total) or Decimal(0), responses=n_ces),
    )


@dataclass(frozen=True)
class Support:
    """Support figures of the tickets opened in a period."""

    tickets_opened: int
    median_first_response_hours: float | None
    mean_first_response_hours: float | None
    median_resolution_hours: float | None
    escalation_rate: float | None


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back a naive UTC datetime from MIN() (the column type is lost in the aggregate).
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def support(session: Session, *, start: date, end: date) -> Support:
    """Response and resolution times and escalation rate of tickets opened from start to end (SQL per ticket)."""
    ticket = UsageEvent.properties["ticket"].as_string()

    def first(kind: str) -> Any:
        return func.min(case((UsageEvent.kind == kind, UsageEvent.occurred_at)))

    opened = first("ticket_opened")
    start_at = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    # Tickets are paired by (customer, properties.ticket): CRMs number tickets per account as often as globally.
    stmt = (
        select(opened, first("ticket_first_response"), first("ticket_resolved"),
               func.count(case((UsageEvent.kind == "ticket_escalated", 1))))
        .where(UsageEvent.kind.in_(["ticket_opened", "ticket_first_response", "ticket_resolved",
                                    "ticket_escalated"]), ticket.is_not(None))
        .group_by(UsageEvent.customer_id, ticket)
        .having(opened >= start_at, opened < day_end(end))
    )  # fmt: skip
    responses: list[float] = []
    resolutions: list[float] = []
    tickets = escalated = 0
    for opened_at, responded_at, resolved_at, escalations in session.execute(stmt):
        tickets += 1
        escalated += 1 if escalations else 0
        opened_utc = _aware(opened_at)
        assert opened_utc is not None  # noqa: S101 - HAVING keeps opened tickets only
        if (responded := _aware(responded_at)) is not None:
            responses.append((responded - opened_utc).total_seconds() / 3600)
        if (resolved := _aware(resolved_at)) is not None:
            resolutions.append((resolved - opened_utc).total_seconds() / 3600)
    return Support(
        tickets_opened=tickets,
        median_first_response_hours=median_hours(responses),
        mean_first_response_hours=mean_hours(responses),
        median_resolution_hours=median_hours(resolutions),
        escalation_rate=None if tickets == 0 else escalated / tickets,
    )
