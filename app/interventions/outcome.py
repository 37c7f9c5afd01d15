"""Expected → actual: the outcome measured `measure_after_days` after the start (SPEC §5, §10)."""

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import DEFAULT_LEVEL_KINDS
from app.db import in_values
from app.health import service as health_service
from app.interventions.schemas import SPECIAL_METRICS, ExpectedIn
from app.ledger import service as ledger_service
from app.models import Intervention, Renewal
from app.money import from_cents
from app.webhooks import service as webhooks

USAGE_WINDOW_DAYS = 30


def default_aggregate(metric: str, level_kinds: Collection[str]) -> str | None:
    """How a metric is measured when `expected` names no aggregate (SPEC §10): a usage kind listed in
    CSROI_LEVEL_KINDS is a level (its last value), any other kind adds up (its 30-day sum); the special metrics
    have one value per day (None)."""
    if metric in SPECIAL_METRICS:
        return None
    return "last" if metric in level_kinds else "sum"


def expected_record(expected: ExpectedIn, level_kinds: Collection[str]) -> dict[str, Any]:
    """`expected` as stored: with the aggregate a usage metric is measured by, resolved once when it is written, so a
    later change of CSROI_LEVEL_KINDS never changes how a recorded intervention is measured."""
    stored = expected.model_dump(mode="json", exclude_none=True)
    aggregate = expected.aggregate or default_aggregate(expected.metric, level_kinds)
    if aggregate is not None:
        stored["aggregate"] = aggregate
    return stored


def aggregate_of(expected: Mapping[str, Any]) -> str | None:
    """The aggregate a stored expectation is measured by; one stored before aggregates existed names none and is
    measured by the default rule with the default level kinds (seats, active_users)."""
    return expected.get("aggregate") or default_aggregate(expected["metric"], DEFAULT_LEVEL_KINDS)


def with_aggregate(expected: Mapping[str, Any]) -> dict[str, Any]:
    """A stored expectation as shown: naming the aggregate it is measured by, when it has one."""
    aggregate = aggregate_of(expected)
    return {**expected, "aggregate": aggregate} if aggregate else dict(expected)


def metric_value(
    session: Session, customer_id: str, metric: str, on: date, *, since: date, aggregate: str | None = None
) -> Decimal | None:
    """The value of an expected metric for a customer on a date (SPEC §5).

    health_score: the score that day. arr: ARR that day. renewal: 1 when a renewal of the customer closed
    renewed after the start (`since`) and by that day, else 0. Any other name is a usage kind, measured by
    `aggregate` (default: `default_aggregate` with the default level kinds): see `health.usage_values`.
    """
    if metric == "arr":
        return from_cents(ledger_service.total_arr(session, customer_id, on))
    if metric == "health_score":
        score = health_service.health_on(session, customer_id, on).score
        return None if score is None else Decimal(str(score))
    if metric == "renewal":
        renewed = session.scalar(
            select(func.count())
            .select_from(Renewal)
            .where(
                Renewal.customer_id == customer_id,
                Renewal.status == "renewed",
                Renewal.closed_on > since,
                Renewal.closed_on <= on,
            )
        )
        return Decimal(1 if renewed and on > since else 0)
    how = aggregate or aggregate_of({"metric": metric})
    assert how is not None  # noqa: S101 - a usage kind always has one
    return health_service.usage_value(
        session, customer_id, metric, aggregate=how, as_of=on, window_days=USAGE_WINDOW_DAYS
    )


def change_of(before: Decimal | None, after: Decimal | None, unit: str) -> Decimal | None:
    """after − before for points and absolute; the relative change in % for percent (None from 0)."""
    if before is None or after is None:
        return None
    if unit == "percent":
        return None if before == 0 else (after - before) / before * 100
    return after - before


def target_met(change: Decimal | None, target: Decimal) -> bool | None:
    """Whether the change reached the target in its direction (a decrease target is met by falling enough)."""
    if change is None:
        return None
    return change <= target if target < 0 else change >= target


def _json_number(value: Decimal | None) -> float | None:
    """An outcome figure for the JSON column."""
    return None if value is None else float(value)


class Started(Protocol):
    """What measuring an outcome reads of an intervention: an `Intervention`, or its columns read as a plain row."""

    @property
    def id(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def started_on(self) -> date | None: ...
    @property
    def expected(self) -> dict[str, Any]: ...


def measured_on(row: Started) -> date | None:
    """The day the outcome is measured (`started_on + measure_after_days`), None if never started or cancelled."""
    if row.started_on is None or row.status == "cancelled":
        return None
    return row.started_on + timedelta(days=int(row.expected["measure_after_days"]))


def measure(session: Session, row: Intervention, as_of: date) -> dict[str, Any] | None:
    """The outcome once `started_on + measure_after_days` has passed, else None."""
    return measure_many(session, [row], as_of).get(row.id)


def measure_many(session: Session, rows: Sequence[Started], as_of: date) -> dict[str, dict[str, Any]]:
    """The outcomes of every due intervention among `rows` (by id), in a fixed number of statements whatever the
    number of rows: one per metric type (ARR, renewals, usage windows, latest usage values; health scores per day
    without a snapshot)."""
    due = [(row, on) for row in rows if (on := measured_on(row)) is not None and on <= as_of]
    if not due:
        return {}
    wanted: dict[Metric, set[tuple[str, date, date]]] = defaultdict(set)  # (metric, aggregate) → (customer, since, on)
    for row, on in due:
        assert row.started_on is not None  # noqa: S101 - measured_on is None otherwise
        for day in (row.started_on, on):
            wanted[_metric(row)].add((row.customer_id, row.started_on, day))
    values = _metric_values(session, wanted)
    result = {}
    for row, on in due:
        metric, start = _metric(row), row.started_on
        assert start is not None  # noqa: S101
        before, after = values[(*metric, row.customer_id, start, start)], values[(*metric, row.customer_id, start, on)]
        change = change_of(before, after, row.expected["unit"])
        result[row.id] = _outcome(on, before, after, change, Decimal(str(row.expected["change"])))
    return result


Metric = tuple[str, str | None]  # (metric, aggregate)
Key = tuple[str, str | None, str, date, date]  # (metric, aggregate, customer, since, on)


def _metric(row: Started) -> Metric:
    return row.expected["metric"], aggregate_of(row.expected)


def _metric_values(session: Session, wanted: dict[Metric, set[tuple[str, date, date]]]) -> dict[Key, Decimal | None]:
    """`metric_value` of every (metric, aggregate, customer, since, on), a statement or two per metric type."""
    values: dict[Key, Decimal | None] = {}
    arr = wanted.get(("arr", None), set())
    cents = ledger_service.arr_on(session, {(c, on) for c, _, on in arr})
    values.update({("arr", None, c, since, on): from_cents(cents[(c, on)]) for c, since, on in arr})
    health = wanted.get(("health_score", None), set())
    scores = health_service.scores_on(session, {(c, on) for c, _, on in health})
    for c, since, on in health:
        score = scores.get((c, on))
        values[("health_score", None, c, since, on)] = None if score is None else Decimal(str(score))
    values.update(_renewals(session, wanted.get(("renewal", None), set())))
    usage = [
        (metric, aggregate, c, since, on)
        for (metric, aggregate), points in wanted.items()
        if metric not in SPECIAL_METRICS and aggregate is not None
        for c, since, on in points
    ]
    found = health_service.usage_values(
        session, {(c, metric, a, on) for metric, a, c, _, on in usage}, window_days=USAGE_WINDOW_DAYS
    )
    values.update({(metric, a, c, since, on): found[(c, metric, a, on)] for metric, a, c, since, on in usage})
    return values


def _renewals(session: Session, renewal: set[tuple[str, date, date]]) -> dict[Key, Decimal | None]:
    """1 for each (customer, since, on) with a renewal closed renewed after `since` and by `on`, else 0."""
    if not renewal:
        return {}
    closed: dict[str, list[date]] = defaultdict(list)
    stmt = select(Renewal.customer_id, Renewal.closed_on).where(
        in_values(session, Renewal.customer_id, {c for c, _, _ in renewal}),
        Renewal.status == "renewed",
        Renewal.closed_on <= max(on for _, _, on in renewal),
    )
    for customer_id, closed_on in session.execute(stmt):
        if closed_on is not None:
            closed[customer_id].append(closed_on)
    return {
        ("renewal", None, c, since, on): Decimal(1 if any(since < day <= on for day in closed[c]) and on > since else 0)
        for c, since, on in renewal
    }


def _outcome(
    measured_on: date, before: Decimal | None, after: Decimal | None, change: Decimal | None, target: Decimal
) -> dict[str, Any]:
    met = target_met(change, target)
    return {
        "measured_on": measured_on.isoformat(),
        "before": _json_number(before),
        "after": _json_number(after),
        "change": _json_number(change),
        "met": met,
    }


def emit_measured(session: Session, rows: Sequence[Intervention]) -> int:
    """`intervention.outcome_measured` for interventions whose outcome was just stored (one statement); each once per
    measurement date, however often the job runs."""
    return webhooks.emit(
        session,
        "intervention.outcome_measured",
        [
            webhooks.Emitted(
                {
                    "intervention": row.id,
                    "customer": row.customer_id,
                    "type": row.type,
                    "framework": row.framework,
                    "owner": row.owner,
                    "started_on": row.started_on,
                    "expected": row.expected,
                    "outcome": row.outcome,
                },
                customer_id=row.customer_id,
                dedupe_key=f"intervention.outcome_measured:{row.id}:{(row.outcome or {}).get('measured_on')}",
            )
            for row in rows
        ],
    )
