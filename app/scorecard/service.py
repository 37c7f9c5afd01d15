"""The monthly balanced scorecard, its targets, and month close with restatements (SPEC §7)."""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import utcnow
from app.errors import Conflict, NotFound, Unprocessable
from app.metrics.periods import add_months, month_end
from app.models import ClosedMonth, Target
from app.pagination import PageMeta
from app.scorecard.figures import CATALOGUE, METRICS, Figures, month_figures
from app.scorecard.schemas import (
    Entry,
    Quadrants,
    Restatement,
    ScorecardMeta,
    ScorecardOut,
    TargetIn,
    TargetList,
    TargetOut,
)
from app.types import TargetStatus
from app.webhooks import service as webhooks

QUADRANTS = ("financial", "customer", "process", "people")


def first_day(month: str) -> date:
    """`YYYY-MM` (already validated by the route's pattern) to the month's first day."""
    year, number = month.split("-")
    return date(int(year), int(number), 1)


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise Unprocessable(
            f"{metric!r} is not a scorecard metric; expected one of: {', '.join(sorted(METRICS))}.",
            errors=[{"loc": ["path", "metric"], "msg": "unknown scorecard metric", "type": "enum"}],
        )


def _target_out(row: Target) -> TargetOut:
    return TargetOut.model_validate(
        {"metric": row.metric, "value": row.value, "direction": row.direction,
         "created_at": row.created_at, "updated_at": row.updated_at}
    )  # fmt: skip


def put_target(session: Session, metric: str, body: TargetIn) -> tuple[TargetOut, bool]:
    """Create or replace the target of a scorecard metric; True when it was created."""
    _check_metric(metric)
    row = session.get(Target, metric)
    created = row is None
    now = utcnow()
    if row is None:
        row = Target(metric=metric, created_at=now)
        session.add(row)
    row.value, row.direction, row.updated_at = format(body.value, "f"), body.direction, now
    session.flush()
    return _target_out(row), created


def list_targets(session: Session, *, currency: str) -> TargetList:
    """Every target, by metric name; `currency` is that of the money targets (CSROI_CURRENCY)."""
    items = [_target_out(t) for t in session.scalars(select(Target).order_by(Target.metric))]
    return TargetList(items=items, next_cursor=None, meta=PageMeta(currency=currency))


def get_target(session: Session, metric: str) -> TargetOut | None:
    """A metric's target, or None."""
    row = session.get(Target, metric)
    return None if row is None else _target_out(row)


def delete_target(session: Session, metric: str) -> None:
    """Remove a metric's target (its status becomes null)."""
    _check_metric(metric)
    row = session.get(Target, metric)
    if row is None:
        raise NotFound("target", metric)
    session.delete(row)
    session.flush()


def status_of(value: Decimal | None, target: Decimal | None, direction: str | None) -> TargetStatus | None:
    """on_track when the value meets the target in its direction (≥ when higher is better, else ≤); null when
    there is no target or no value."""
    if value is None or target is None:
        return None
    met = value >= target if direction == "higher_is_better" else value <= target
    return "on_track" if met else "off_track"


def _entries(current: Figures, previous: Figures, targets: dict[str, Target]) -> dict[str, list[Entry]]:
    """Entries per quadrant in catalogue order: value, previous month, change and target status."""
    quadrants: dict[str, list[Entry]] = {q: [] for q in QUADRANTS}
    for quadrant, metric, _ in CATALOGUE:
        value, before = current[metric], previous[metric]
        target = targets.get(metric)
        target_value = Decimal(target.value) if target else None
        quadrants[quadrant].append(
            Entry(
                metric=metric,
                value=value,
                previous=before,
                change=None if value is None or before is None else value - before,
                target=target_value,
                status=status_of(value, target_value, target.direction if target else None),
            )
        )
    return quadrants


def _fresh(session: Session, first: date, *, settings: Settings) -> dict[str, list[Entry]]:
    """The scorecard computed now from the data as it stands."""
    current = month_figures(session, first, settings=settings)
    previous = month_figures(session, add_months(first, -1), settings=settings)
    targets = {t.metric: t for t in session.scalars(select(Target))}
    return _entries(current, previous, targets)


def _frozen_json(quadrants: dict[str, list[Entry]]) -> dict[str, Any]:
    # Decimals as text: JSON numbers would come back as floats, and frozen figures must compare exactly.
    return {
        q: [
            {k: format(v, "f") if isinstance(v, Decimal) else v for k, v in entry.model_dump(mode="python").items()}
            for entry in entries
        ]
        for q, entries in quadrants.items()
    }


def _thawed(figures: dict[str, Any]) -> dict[str, list[Entry]]:
    return {q: [Entry.model_validate(e) for e in figures.get(q, [])] for q in QUADRANTS}


def _restated(frozen: dict[str, list[Entry]], fresh: dict[str, list[Entry]]) -> list[Restatement]:
    """Frozen entries whose value computed now differs from the value frozen at close."""
    now = {(q, e.metric): e.value for q, entries in fresh.items() for e in entries}
    return [
        Restatement(quadrant=q, metric=e.metric, frozen_value=e.value, current_value=now.get((q, e.metric)))
        for q, entries in frozen.items()
        for e in entries
        if (q, e.metric) in now and now[(q, e.metric)] != e.value
    ]


def _meta(settings: Settings) -> ScorecardMeta:
    """What holds for every figure of the card: its currency."""
    return ScorecardMeta(currency=settings.currency)


def get_scorecard(session: Session, month: str, *, settings: Settings) -> ScorecardOut:
    """The month's scorecard: fresh figures, or for a closed month the frozen ones plus what has been restated."""
    fresh = _fresh(session, first_day(month), settings=settings)
    closed = session.get(ClosedMonth, month)
    if closed is None:
        return ScorecardOut(
            month=month,
            closed=False,
            closed_at=None,
            quadrants=Quadrants(**fresh),
            restated=[],
            meta=_meta(settings),
        )
    frozen = _thawed(closed.figures)
    return ScorecardOut(
        month=month,
        closed=True,
        closed_at=closed.closed_at,
        quadrants=Quadrants(**frozen),
        restated=_restated(frozen, fresh),
        meta=_meta(settings),
    )


def close_month(session: Session, month: str, *, settings: Settings) -> ScorecardOut:
    """Freeze the month's scorecard as it reads now; 409 if already closed or the month has not ended (UTC)."""
    first = first_day(month)
    if session.get(ClosedMonth, month) is not None:
        raise Conflict(f"{month} is already closed.", month=month)
    today = utcnow().date()
    if month_end(first) >= today:
        # A month still running (or ending today) would freeze figures that are certain to change.
        raise Conflict(f"{month} has not ended yet: it can be closed from {add_months(first, 1)} (UTC).", month=month)
    fresh = _fresh(session, first, settings=settings)
    row = ClosedMonth(month=month, closed_at=utcnow(), figures=_frozen_json(fresh))
    session.add(row)
    session.flush()
    card = ScorecardOut(
        month=month,
        closed=True,
        closed_at=row.closed_at,
        quadrants=Quadrants(**fresh),
        restated=[],
        meta=_meta(settings),
    )
    # Webhooks (SPEC §11): the frozen card, in the close's transaction.
    body = card.model_dump(mode="json", include={"month", "closed_at", "quadrants"})
    webhooks.emit(session, "scorecard.closed", [webhooks.Emitted(body, dedupe_key=f"scorecard.closed:{month}")])
    return card
