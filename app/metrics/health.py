"""`/v1/metrics/health`, `/voc` and `/support` (SPEC §6): one set-based query per metric, then formulas per row.

Periods enter the SQL as a small CTE joined to the data, so the database aggregates every period and group in
one statement; Python applies formulas to the aggregated rows (or, for support medians, to per-ticket hours).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from app import formulas
from app.health import service as health_service
from app.ledger import service as ledger
from app.metrics.groups import Key, customer_group_column
from app.metrics.periods import Period, split_periods
from app.metrics.queries import periods_cte
from app.metrics.schemas import HealthRow, MetricAnswer, MetricQuery, MetricRow, SupportRow, VocRow, metric_meta
from app.models import VALUE_MICROS, Customer, HealthSnapshot, UsageEvent
from app.money import from_cents
from app.types import VALUE_SCALE, ChurnMethod, from_micros

BANDS = ("red", "yellow", "green")
SURVEYS = ("nps", "csat", "ces")
TICKET_KINDS = ("ticket_opened", "ticket_first_response", "ticket_resolved", "ticket_escalated")


def _rows(
    periods: list[Period], grouped: bool, keys: Iterable[Key], build: Callable[[Period, str | None], MetricRow]
) -> list[Any]:
    """Rows in period then group order; an ungrouped period always has its row (zeros and nulls included)."""
    by_period: dict[int, set[str | None]] = defaultdict(set)
    for pid, group in keys:
        by_period[pid].add(group)
    rows: list[Any] = []
    for period in periods:
        groups = sorted(by_period[period.index], key=lambda g: (g is None, g or "")) if grouped else [None]
        rows.extend(build(period, group) for group in groups)
    return rows


# --- health -------------------------------------------------------------------------------------------------


def _health_sums(session: Session, periods: list[Period], group_by: Any) -> list[Any]:
    """Per (period, group, band, score): paying customers and their ARR cents at the period end."""
    p = periods_cte(periods)
    # customers = those paying at the period end
    arr = ledger.arr_as_of(p.c.pe, dates=p, keys=[p.c.pid, p.c.pe], paying_only=True).cte("arr")
    # Each paying customer's latest snapshot day on or before the period end: one backward probe of the
    # (customer_id, snapshot_date) key per customer, not an aggregate over every snapshot of the book.
    inner = HealthSnapshot.__table__.alias("inner_snapshot")
    day = (
        select(func.max(inner.c.snapshot_date))
        .where(inner.c.customer_id == arr.c.customer_id, inner.c.snapshot_date <= arr.c.pe)
        .scalar_subquery()
    )
    latest = select(arr.c.pid, arr.c.customer_id, arr.c.arr_cents, day.label("day")).cte("latest")
    group = customer_group_column(group_by).label("grp")
    stmt = (
        select(
            latest.c.pid, group, HealthSnapshot.band, HealthSnapshot.score, func.count(), func.sum(latest.c.arr_cents)
        )
        .select_from(latest)
        .join(Customer, Customer.id == latest.c.customer_id)
        .outerjoin(
            HealthSnapshot,
            and_(HealthSnapshot.customer_id == latest.c.customer_id, HealthSnapshot.snapshot_date == latest.c.day),
        )
        .group_by(latest.c.pid, group, HealthSnapshot.band, HealthSnapshot.score)
    )
    return list(session.execute(stmt))


def _health_row(
    period: Period,
    group: str | None,
    parts: list[Any],
    *,
    risk: Callable[[float | None, str | None], float | None],
    method: ChurnMethod,
) -> HealthRow:
    """Sum (band, score, customers, cents) parts into one row; risk = ARR x churn probability per part."""
    counts = dict.fromkeys((*BANDS, "no_score"), 0)
    cents = dict.fromkeys((*BANDS, "no_score"), 0)
    scored = score_total = 0.0
    risks: list[tuple[int, float | None]] = []
    for band, score, customers, arr_cents in parts:
        key = band if score is not None and band in BANDS else "no_score"
        counts[key] += customers
        cents[key] += int(arr_cents)
        if score is not None:
            scored += customers
            score_total += score * customers
        risks.append((int(arr_cents), risk(score, band)))
    money = {f"{k}_arr": from_cents(v) or Decimal(0) for k, v in cents.items()}
    return HealthRow(
        period_start=period.start,
        period_end=period.end,
        group=group,
        customers=sum(counts.values()),
        avg_score=score_total / scored if scored else None,
        **{f"{k}_customers": v for k, v in counts.items()},
        **money,
        revenue_at_risk=formulas.revenue_at_risk(risks),
        method=method,
    )


def health(session: Session, query: MetricQuery, *, defaults: Mapping[str, float]) -> MetricAnswer[HealthRow]:
    """Health bands, ARR per band and revenue at risk at each period's end (SPEC §6)."""
    periods = split_periods(query.start, query.end, query.interval)
    fit = health_service.latest_churn_fit(session)
    method: ChurnMethod = "fitted" if fit is not None else "default"

    def risk(score: float | None, band: str | None) -> float | None:
        return formulas.churn_probability(score, band, fit=fit, defaults=defaults)

    parts: dict[Key, list[Any]] = defaultdict(list)
    for pid, grp, band, score, customers, arr_cents in _health_sums(session, periods, query.group_by):
        parts[(pid, grp)].append((band, score, customers, arr_cents))

    def build(period: Period, group: str | None) -> HealthRow:
        return _health_row(period, group, parts.get((period.index, group), []), risk=risk, method=method)

    has_snapshots = bool(session.scalar(select(select(HealthSnapshot.customer_id).exists())))
    meta = metric_meta(
        query,
        method=method,
        scores="each paying customer's latest health snapshot on or before the period end",
        snapshots=has_snapshots,
        **({} if has_snapshots else {"note": "no health snapshots stored: run POST /v1/health/snapshots"}),
    )
    return MetricAnswer[HealthRow](rows=_rows(periods, query.group_by is not None, parts, build), meta=meta)


# --- voice of the customer ----------------------------------------------------------------------------------


def _voc_sums(session: Session, periods: list[Period], group_by: Any) -> list[Any]:
    """Per (period, group, survey): answers, promoters, detractors, satisfied and the sum of scores."""
    w = periods_cte(periods, "windows", dialect=session.get_bind().dialect.name, instants=True)
    survey = UsageEvent.properties["survey"].as_string()
    group = customer_group_column(group_by).label("grp")

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    stmt = (
        select(
            w.c.pid,
            group,
            survey.label("survey"),
            func.count().label("answers"),
            count_if(VALUE_MICROS >= 9 * VALUE_SCALE).label("promoters"),
            count_if(VALUE_MICROS <= 6 * VALUE_SCALE).label("detractors"),
            count_if(VALUE_MICROS >= 4 * VALUE_SCALE).label("satisfied"),
            func.sum(VALUE_MICROS).label("total"),
        )
        .select_from(w)
        .join(
            UsageEvent,
            and_(
                UsageEvent.kind == "survey_response",
                UsageEvent.occurred_at >= w.c.at_start,
                UsageEvent.occurred_at < w.c.at_end,
            ),
        )
        .join(Customer, Customer.id == UsageEvent.customer_id)
        .where(survey.in_(SURVEYS))
        .group_by(w.c.pid, group, survey)
    )
    return list(session.execute(stmt))


def _voc_row(period: Period, group: str | None, by_survey: Mapping[str, Any]) -> VocRow:
    """Apply the NPS, CSAT and CES formulas to one (period, group)'s survey sums."""
    n = {s: int(by_survey[s].answers) if s in by_survey else 0 for s in SURVEYS}
    nps_sums, csat_sums, ces_sums = (by_survey.get(s) for s in SURVEYS)
    return VocRow(
        period_start=period.start,
        period_end=period.end,
        group=group,
        responses=sum(n.values()),
        nps_responses=n["nps"],
        nps=formulas.nps(promoters=int(nps_sums.promoters), detractors=int(nps_sums.detractors), responses=n["nps"])
        if nps_sums
        else None,
        csat_responses=n["csat"],
        csat=formulas.csat(satisfied=int(csat_sums.satisfied), responses=n["csat"]) if csat_sums else None,
        ces_responses=n["ces"],
        ces=formulas.ces(total=from_micros(ces_sums.total) or Decimal(0), responses=n["ces"]) if ces_sums else None,
    )


def voc_metric(session: Session, query: MetricQuery) -> MetricAnswer[VocRow]:
    """NPS, CSAT and CES of the survey answers received in each period, per group (SPEC §6)."""
    periods = split_periods(query.start, query.end, query.interval)
    sums: dict[Key, dict[str, Any]] = defaultdict(dict)
    for row in _voc_sums(session, periods, query.group_by):
        sums[(row.pid, row.grp)][row.survey] = row

    def build(period: Period, group: str | None) -> VocRow:
        return _voc_row(period, group, sums.get((period.index, group), {}))

    meta = metric_meta(query, source="survey_response events by properties.survey (nps, csat, ces)")
    return MetricAnswer[VocRow](rows=_rows(periods, query.group_by is not None, sums, build), meta=meta)


# --- support ------------------------------------------------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back a naive UTC datetime from MIN() over a CASE (the column type is lost in the aggregate).
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _hours(since: datetime, until: datetime | None) -> float | None:
    until = _aware(until)
    return None if until is None else (until - since).total_seconds() / 3600


def _tickets(session: Session, periods: list[Period], group_by: Any) -> list[Any]:
    """One row per ticket opened in a period: (pid, grp, opened, first response, resolved, escalations)."""
    ticket = UsageEvent.properties["ticket"].as_string()

    def first(kind: str) -> ColumnElement[datetime]:
        return func.min(case((UsageEvent.kind == kind, UsageEvent.occurred_at)))

    # Tickets are paired by (customer, properties.ticket): CRMs number tickets per account as often as globally.
    tickets = (
        select(
            UsageEvent.customer_id,
            first("ticket_opened").label("opened_at"),
            first("ticket_first_response").label("responded_at"),
            first("ticket_resolved").label("resolved_at"),
            func.sum(case((UsageEvent.kind == "ticket_escalated", 1), else_=0)).label("escalations"),
        )
        .where(UsageEvent.kind.in_(TICKET_KINDS), ticket.is_not(None))
        .group_by(UsageEvent.customer_id, ticket)
        .subquery()
    )
    w = periods_cte(periods, "windows", dialect=session.get_bind().dialect.name, instants=True)
    group = customer_group_column(group_by).label("grp")
    stmt = (
        select(w.c.pid, group, tickets.c.opened_at, tickets.c.responded_at, tickets.c.resolved_at,
               tickets.c.escalations)
        .select_from(w)
        .join(tickets, and_(tickets.c.opened_at >= w.c.at_start, tickets.c.opened_at < w.c.at_end))
        .join(Customer, Customer.id == tickets.c.customer_id)
    )  # fmt: skip
    return list(session.execute(stmt))


def _support_row(period: Period, group: str | None, tickets: list[Any]) -> SupportRow:
    """Medians and means over the per-ticket hours of one (period, group)."""
    responses: list[float] = []
    resolutions: list[float] = []
    for opened_at, responded_at, resolved_at in ((_aware(t[0]), t[1], t[2]) for t in tickets):
        assert opened_at is not None  # noqa: S101 - the join keeps opened tickets only
        if (hours := _hours(opened_at, responded_at)) is not None:
            responses.append(hours)
        if (hours := _hours(opened_at, resolved_at)) is not None:
            resolutions.append(hours)
    return SupportRow(
        period_start=period.start,
        period_end=period.end,
        group=group,
        tickets_opened=len(tickets),
        median_first_response_hours=formulas.median_hours(responses),
        mean_first_response_hours=formulas.mean_hours(responses),
        median_resolution_hours=formulas.median_hours(resolutions),
        escalation_rate=formulas.rate(sum(1 for t in tickets if t[3]), len(tickets)),
    )


def support_metric(session: Session, query: MetricQuery) -> MetricAnswer[SupportRow]:
    """Support figures of the tickets opened in each period, per group (SPEC §6)."""
    periods = split_periods(query.start, query.end, query.interval)
    tickets: dict[Key, list[Any]] = defaultdict(list)
    for pid, grp, opened_at, responded_at, resolved_at, escalations in _tickets(session, periods, query.group_by):
        tickets[(pid, grp)].append((opened_at, responded_at, resolved_at, int(escalations or 0)))

    def build(period: Period, group: str | None) -> SupportRow:
        return _support_row(period, group, tickets.get((period.index, group), []))

    meta = metric_meta(
        query,
        tickets="paired by customer and properties.ticket; a ticket counts in the period it was opened in",
        medians="per-ticket hours from one SQL query, medians taken in Python (SQLite has no percentile)",
    )
    return MetricAnswer[SupportRow](rows=_rows(periods, query.group_by is not None, tickets, build), meta=meta)
