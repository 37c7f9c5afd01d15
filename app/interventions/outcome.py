"""Expected → actual: the outcome measured `measure_after_days` after the start (SPEC §5)."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.health import service as health_service
from app.ledger import service as ledger_service
from app.models import Intervention, Renewal
from app.money import from_cents

USAGE_WINDOW_DAYS = 30


def metric_value(session: Session, customer_id: str, metric: str, on: date, *, since: date) -> Decimal | None:
    """The value of an expected metric for a customer on a date (SPEC §5).

    health_score: the score that day. arr: ARR that day. renewal: 1 when a renewal of the customer closed
    renewed after the start (`since`) and by that day, else 0. Any other name is a usage kind: the sum of its
    event values over the 30 days ending that day (count-like kinds have value 1 per event).
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
    return health_service.usage_sum(session, customer_id, metric, as_of=on, window_days=USAGE_WINDOW_DAYS)


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


def measure(session: Session, row: Intervention, as_of: date) -> dict[str, Any] | None:
    """The outcome once `started_on + measure_after_days` has passed, else None."""
    if row.started_on is None or row.status == "cancelled":
        return None
    expected = row.expected
    measured_on = row.started_on + timedelta(days=int(expected["measure_after_days"]))
    if measured_on > as_of:
        return None
    before = metric_value(session, row.customer_id, expected["metric"], row.started_on, since=row.started_on)
    after = metric_value(session, row.customer_id, expected["metric"], measured_on, since=row.started_on)
    change = change_of(before, after, expected["unit"])
    met = target_met(change, Decimal(str(expected["change"])))
    return {
        "measured_on": measured_on.isoformat(),
        "before": _json_number(before),
        "after": _json_number(after),
        "change": _json_number(change),
        "met": met,
    }
