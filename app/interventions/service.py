"""Interventions: create, edit, the lifecycle, and the read view with context, outcome, impact and ROI."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import QueryableAttribute, Session

from app import formulas, records
from app.batch import UpsertResult
from app.config import DEFAULT_LEVEL_KINDS
from app.customers import service as customers_service
from app.db import utcnow
from app.errors import Conflict, Unprocessable
from app.experiments import service as experiments
from app.interventions import context as context_capture
from app.interventions import incremental
from app.interventions import outcome as outcome_measure
from app.interventions.impact import Attribution, Window, attribute
from app.interventions.incremental import Incremental as Incremental  # noqa: PLC0414 - re-exported for the read side
from app.interventions.incremental import RowFigures as RowFigures  # noqa: PLC0414 - re-exported for the read side
from app.interventions.incremental import row_figures as row_figures  # noqa: PLC0414 - re-exported for the read side
from app.interventions.lift import health_deltas as health_deltas  # noqa: PLC0414 - re-exported for the read side
from app.interventions.schemas import (
    ImpactOut,
    ImpactOverrideIn,
    InterventionIn,
    InterventionListQuery,
    InterventionPatch,
    InterventionRecordIn,
    OutcomeOut,
    OutcomeOverrideIn,
    TransitionIn,
)
from app.interventions.schemas import InterventionOut as InterventionOut  # noqa: PLC0414 - re-exported: build_views' answer
from app.models import Customer, Intervention, TeamMember
from app.money import CENT, from_cents
from app.pagination import Page

# SPEC §5: planned → in_progress → completed; planned or in_progress → cancelled. Anything else is a 409.
TRANSITIONS = {
    "start": ({"planned"}, "in_progress"),
    "complete": ({"in_progress"}, "completed"),
    "cancel": ({"planned", "in_progress"}, "cancelled"),
}


MEASURE_PAGE = 1_000  # the measure job measures this many interventions per set of statements


def today() -> date:
    """The current UTC date (one place, so tests can move time)."""
    return utcnow().date()


def get_intervention(session: Session, intervention_id: str) -> Intervention:
    """The intervention, or NotFound."""
    return records.get_record(session, Intervention, intervention_id)


def _start(session: Session, row: Intervention, started_on: date) -> None:
    """Start: fix the window and capture the context once, as of the start date (SPEC §5)."""
    row.status, row.started_on = "in_progress", started_on
    row.window_end = started_on + timedelta(days=row.attribution_days)
    row.context = context_capture.capture(session, row.customer_id, started_on, row.at_risk_override)
    row.at_risk = bool(row.context["at_risk"])


def create_intervention(
    session: Session, body: InterventionIn, *, level_kinds: Collection[str] = DEFAULT_LEVEL_KINDS
) -> Intervention:
    """Record an intervention; with status in_progress it starts at once. `level_kinds` (CSROI_LEVEL_KINDS) picks
    the default aggregate of a usage metric (SPEC §10)."""
    intervention_id = body.id or f"iv_{uuid.uuid4().hex[:16]}"
    if session.get(Intervention, intervention_id) is not None:
        raise Conflict(
            f"Intervention {intervention_id!r} already exists; PATCH it or use another id.", ids=[intervention_id]
        )
    if customers_service.find_customer(session, body.customer) is None:
        raise Unprocessable(
            f"No customer with id {body.customer!r}.",
            [{"loc": ["body", "customer"], "msg": "unknown customer", "type": "not_found"}],
        )
    # The day it happens: its start when started now, else the day it is planned for (SPEC §9 holdout guard).
    on = (body.started_on or today()) if body.status == "in_progress" else (body.planned_on or today())
    experiments.guard_holdout(
        session,
        customer_id=body.customer,
        type=body.type,
        framework=body.framework,
        on=on,
        override=body.override_holdout,
    )
    row = Intervention(
        id=intervention_id,
        customer_id=body.customer,
        type=body.type,
        framework=body.framework,
        owner=body.owner,
        reason=body.reason,
        status="planned",
        planned_on=body.planned_on,
        hours=body.hours,
        direct_cost=body.direct_cost,
        expected=outcome_measure.expected_record(body.expected, level_kinds),
        at_risk_override=body.at_risk,
        attribution_days=body.attribution_days,
        override_holdout=body.override_holdout or None,
    )
    session.add(row)
    if body.status == "in_progress":
        _start(session, row, body.started_on or today())
    session.flush()
    return row


def upsert_intervention(
    session: Session,
    intervention_id: str,
    body: InterventionRecordIn,
    *,
    level_kinds: Collection[str] = DEFAULT_LEVEL_KINDS,
) -> tuple[Intervention, bool]:
    """Create or update an intervention by id (SPEC §11); True when created. See `InterventionRecordIn`."""
    records.record_row(body, intervention_id, whole=True)  # the body's id, if any, must equal the path's
    row = session.get(Intervention, intervention_id)
    if row is None:
        records.ensure_customers(session, [body.customer])
        return _create_record(session, intervention_id, body, level_kinds), True
    _update_record(session, row, body, level_kinds)
    return row, False


def upsert_interventions(
    session: Session, items: Sequence[InterventionRecordIn], *, level_kinds: Collection[str] = DEFAULT_LEVEL_KINDS
) -> UpsertResult:
    """`upsert_intervention` for a batch, in id order (a stable lock order), all or nothing."""
    records.ensure_customers(session, sorted({item.customer for item in items}))
    created = updated = 0
    for item in sorted(items, key=lambda i: i.id or ""):
        assert item.id is not None  # noqa: S101 - a batch item's id is required
        _, new = upsert_intervention(session, item.id, item, level_kinds=level_kinds)
        created, updated = created + new, updated + (not new)
    return UpsertResult(created=created, updated=updated)


_RECORD_FIELDS = ("type", "framework", "owner", "reason", "planned_on", "hours", "direct_cost", "attribution_days")


def _create_record(
    session: Session, intervention_id: str, body: InterventionRecordIn, level_kinds: Collection[str]
) -> Intervention:
    """Create it as POST would, then move it to the body's status along the lifecycle."""
    starts = body.status in ("in_progress", "completed")
    fields = body.model_dump(include={*_RECORD_FIELDS, "customer", "expected", "at_risk", "override_holdout"})
    created = InterventionIn.model_validate(
        {
            **fields,
            "id": intervention_id,
            "status": "in_progress" if starts else "planned",
            "started_on": body.started_on,
        }
    )
    row = create_intervention(session, created, level_kinds=level_kinds)
    _move_to(session, row, body)
    return row


def _update_record(
    session: Session, row: Intervention, body: InterventionRecordIn, level_kinds: Collection[str]
) -> None:
    """Replace the editable fields; refuse (409) what is fixed, then move the status along the lifecycle."""
    fixed = {
        "customer": (row.customer_id, body.customer),
        "attribution_days": (row.attribution_days, body.attribution_days) if row.started_on else (0, 0),
        "at_risk": (row.at_risk_override, body.at_risk) if row.started_on else (None, None),
        "started_on": (row.started_on, body.started_on) if row.started_on and body.started_on else (None, None),
    }
    for name, (stored, sent) in fixed.items():
        if stored != sent:
            raise Conflict(
                f"{name} is fixed once the intervention exists or has started (stored {stored}, sent {sent}).",
                field=name,
            )
    for name in _RECORD_FIELDS:
        setattr(row, name, getattr(body, name))
    expected = outcome_measure.expected_record(body.expected, level_kinds)
    if expected != outcome_measure.with_aggregate(row.expected):
        row.expected, row.outcome = expected, None  # a new expectation is measured afresh
    if row.started_on is None:
        row.at_risk_override = body.at_risk
    row.override_holdout = row.override_holdout or body.override_holdout or None
    _move_to(session, row, body)


# The moves that take a status to another, in order (SPEC §5): anything else is a 409.
_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("planned", "in_progress"): ("start",),
    ("planned", "completed"): ("start", "complete"),
    ("in_progress", "completed"): ("complete",),
    ("planned", "cancelled"): ("cancel",),
    ("in_progress", "cancelled"): ("cancel",),
}


def _move_to(session: Session, row: Intervention, body: InterventionRecordIn) -> None:
    if row.status == body.status:
        return
    path = _PATHS.get((row.status, body.status))
    if path is None:
        raise Conflict(
            f"Cannot move an intervention from {row.status} to {body.status}.",
            status_now=row.status,
            status_sent=body.status,
        )
    for move in path:
        field = _DAY_FIELD[move]
        transition(session, row.id, move, TransitionIn.model_validate({field: getattr(body, field)}))


_DAY_FIELD = {"start": "started_on", "complete": "completed_on", "cancel": "cancelled_on"}


def update_intervention(
    session: Session,
    intervention_id: str,
    patch: InterventionPatch,
    *,
    level_kinds: Collection[str] = DEFAULT_LEVEL_KINDS,
) -> Intervention:
    """Edit the editable fields; the attribution window is fixed once started."""
    row = get_intervention(session, intervention_id)
    changes = patch.model_dump(exclude_unset=True)
    if "attribution_days" in changes and row.started_on is not None:
        raise Conflict("attribution_days is fixed once the intervention has started.")
    if patch.expected is not None:  # stored as JSON, like a created one's (a dict here, its Decimals as numbers)
        changes["expected"] = outcome_measure.expected_record(patch.expected, level_kinds)
    for name, value in changes.items():  # the schema refused null for the fields that cannot be cleared
        setattr(row, name, value)
    if "expected" in changes:
        row.outcome = None  # a new expectation is measured afresh
    session.flush()
    return row


def transition(session: Session, intervention_id: str, move: str, body: TransitionIn) -> Intervention:
    """Start, complete or cancel; any other move is a 409 naming the current status."""
    row = get_intervention(session, intervention_id)
    allowed_from, target = TRANSITIONS[move]
    if row.status not in allowed_from:
        raise Conflict(
            f"Cannot {move} an intervention that is {row.status}.",
            status_now=row.status,
            allowed_from=sorted(allowed_from),
        )
    if move == "start":
        _start(session, row, body.started_on or today())
    elif move == "complete":
        completed_on = body.completed_on or today()
        if row.started_on and completed_on < row.started_on:
            raise Unprocessable(
                "completed_on is before started_on.",
                [{"loc": ["body", "completed_on"], "msg": "before started_on", "type": "value_error"}],
            )
        row.status, row.completed_on = target, completed_on
    else:
        row.status, row.cancelled_on = target, body.cancelled_on or today()
    session.flush()
    return row


def set_outcome_override(session: Session, intervention_id: str, body: OutcomeOverrideIn) -> Intervention:
    """Record a manual outcome note and override."""
    row = get_intervention(session, intervention_id)
    row.outcome_override = body.model_dump(mode="json")
    session.flush()
    return row


def set_impact_override(session: Session, intervention_id: str, body: ImpactOverrideIn) -> Intervention:
    """Replace the computed impact with a manual one (with its reason)."""
    row = get_intervention(session, intervention_id)
    row.impact_override = body.model_dump(mode="json")
    session.flush()
    return row


def window_of(row: Intervention) -> Window | None:
    """The attribution window of a started, not cancelled intervention."""
    if row.started_on is None or row.window_end is None or row.status == "cancelled":
        return None
    context = row.context or {}
    return Window(
        row.id,
        row.customer_id,
        row.started_on,
        row.window_end,
        bool(row.at_risk),
        type=row.type,
        framework=row.framework,
        band=context.get("band"),
        score=context.get("health_score"),
    )


@dataclass(frozen=True)
class Impacts:
    """Naive attribution and incremental figures of every started intervention of some customers."""

    naive: dict[str, Attribution]
    incremental: incremental.Incremental


BOOTSTRAP = (
    f"percentile bootstrap, {incremental.RESAMPLES:,} resamples of treated episodes and of control customers within "
    f"each pool (pools above {incremental.EXACT_POOL} customers: the resampled sums' normal limit); null under "
    f"{incremental.MIN_EPISODES} episodes"
)


def impacts(
    session: Session,
    customer_ids: set[str],
    as_of: date,
    *,
    min_controls: int,
    churn_defaults: Mapping[str, float],
    shown: Collection[str] | None = None,
) -> Impacts:
    """Attribution (SPEC §5) and incremental figures (SPEC §9) of every started intervention of these customers
    (episodes and caps span all of a customer's interventions); the options are the settings
    CSROI_MIN_CONTROLS and CSROI_CHURN_DEFAULTS. `shown`: the interventions whose incremental figures are read
    (None: all; see `incremental.measure`)."""
    if not customer_ids:
        return Impacts({}, incremental.Incremental())
    windows = incremental.book_windows(session, customer_ids)  # the book's windows: the controls read them all
    book = incremental.read_book(session)  # the whole book's ledger as arrays: attribution and controls read it
    naive = attribute(session, windows, as_of, series=book.ledger)
    found = incremental.measure(
        session,
        windows,
        naive,
        as_of,
        book=book,
        min_controls=min_controls,
        churn_defaults=churn_defaults,
        shown=shown,
    )
    return Impacts(naive, found)


class Figured(outcome_measure.Started, Protocol):
    """What an ROI row's figures read of an intervention (`roi_figures`): an `Intervention` or a `StartedRow`."""

    @property
    def owner(self) -> str | None: ...
    @property
    def hours(self) -> Decimal: ...
    @property
    def direct_cost(self) -> Decimal: ...
    @property
    def outcome(self) -> dict[str, Any] | None: ...
    @property
    def outcome_override(self) -> dict[str, Any] | None: ...
    @property
    def impact_override(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class StartedRow:
    """The columns of an intervention the ROI metric reads (`Figured`), as a plain row: thousands of them load in one
    light statement, without ORM objects."""

    id: str
    customer_id: str
    status: str
    started_on: date | None
    expected: dict[str, Any]
    owner: str | None
    hours: Decimal
    direct_cost: Decimal
    outcome: dict[str, Any] | None
    outcome_override: dict[str, Any] | None
    impact_override: dict[str, Any] | None


_STARTED_ROW_COLUMNS = (
    Intervention.id,
    Intervention.customer_id,
    Intervention.status,
    Intervention.started_on,
    Intervention.expected,
    Intervention.owner,
    Intervention.hours,
    Intervention.direct_cost,
    Intervention.outcome,
    Intervention.outcome_override,
    Intervention.impact_override,
)  # `StartedRow`'s fields, in order


def started_between(
    session: Session, start: date, end: date, label: QueryableAttribute[Any]
) -> list[tuple[StartedRow, Any, str | None]]:
    """The interventions started in [start, end] as plain rows (`StartedRow`), each with `label`'s value (a column of
    the intervention or of its customer: the ROI metric's group) and its band at start. One statement, without the
    context JSON (the largest column): the health lift takes the band from one extracted field."""
    stmt = (
        select(*_STARTED_ROW_COLUMNS, label, Intervention.context["band"].as_string())
        .join(Customer, Customer.id == Intervention.customer_id)
        .where(Intervention.started_on >= start, Intervention.started_on <= end)
    )
    width = len(_STARTED_ROW_COLUMNS)
    return [(StartedRow(*values[:width]), values[width], values[width + 1]) for values in session.execute(stmt)]


def hourly_costs(session: Session, owners: set[str]) -> dict[str, Decimal]:
    """Loaded hourly cost of each owner who has one."""
    if not owners:
        return {}
    rows = session.execute(select(TeamMember.id, TeamMember.hourly_cost).where(TeamMember.id.in_(sorted(owners))))
    return {member: cost for member, cost in rows if cost is not None}


def intervention_cost(
    row: Figured, hourly: dict[str, Decimal], default_hourly: Decimal, linked: dict[str, Decimal]
) -> Decimal:
    """hours × the owner's hourly cost (else the default) + direct cost + cost records linked to it (SPEC §5)."""
    rate = hourly.get(row.owner or "", default_hourly)
    return formulas.intervention_cost(row.hours, rate, row.direct_cost, linked.get(row.id, Decimal(0)))


def _impact_amounts(row: Figured, computed: Attribution | None) -> tuple[Decimal, Decimal, bool] | None:
    """Retained and expanded ARR as the impact shows them, and whether they are computed: the manual override
    when there is one, else the computed attribution (None: no impact yet)."""
    if row.impact_override:
        override = row.impact_override
        retained, expanded = Decimal(str(override["retained_arr"])), Decimal(str(override["expanded_arr"]))
        return retained.quantize(CENT), expanded.quantize(CENT), False
    if computed is None:
        return None
    return from_cents(computed.retained_cents) or Decimal(0), from_cents(computed.expanded_cents) or Decimal(0), True


def impact_view(
    row: Intervention, computed: Attribution | None, cost: Decimal, found: incremental.Incremental
) -> ImpactOut | None:
    """The impact as shown: the manual override when there is one, else the computed attribution."""
    amounts = _impact_amounts(row, computed)
    if amounts is None:
        return None
    retained, expanded, is_computed = amounts
    window_start, window_end = row.started_on, row.window_end
    if not is_computed or computed is None:
        return ImpactOut(
            retained_arr=retained,
            expanded_arr=expanded,
            attributed_revenue=formulas.attributed_revenue(retained, expanded),
            attribution="manual",
            final=True,
            window_start=window_start,
            window_end=window_end,
            note=(row.impact_override or {})["note"],
        )
    share = found.shares.get(row.id)
    extra = {}
    if share is not None:
        unit = found.units[share.unit]
        revenue = from_cents(share.retained_cents + share.expanded_cents) or Decimal(0)
        extra = {
            "incremental_retained_arr": from_cents(share.retained_cents),
            "incremental_expanded_arr": from_cents(share.expanded_cents),
            "incremental_revenue": revenue,
            "roi_incremental": formulas.roi(revenue, cost),
            "method": share.method,
            "control_customers": len(found.pools[unit.pool].customers) if unit.pool else 0,
        }
    return ImpactOut(
        retained_arr=retained,
        expanded_arr=expanded,
        attributed_revenue=formulas.attributed_revenue(retained, expanded),
        attribution="computed",
        final=computed.final,
        window_start=window_start,
        window_end=window_end,
        episode=computed.episode,
        **extra,
    )


def _outcome_fields(row: Figured, due: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The outcome's fields as shown: the manual outcome, else the stored measurement, else the measurement
    computed now if it is due (`due`: measure_many's answer for the page)."""
    if row.outcome_override:
        manual = row.outcome_override
        measured = row.outcome or {}
        return {
            "measured_on": measured.get("measured_on"),
            "before": manual.get("before", measured.get("before")),
            "after": manual.get("after", measured.get("after")),
            "change": measured.get("change"),
            "met": manual.get("met", measured.get("met")),
            "source": "manual",
            "note": manual["note"],
        }
    stored = row.outcome or due.get(row.id)
    return {**stored, "source": "measured"} if stored else None


def outcome_view(row: Intervention, due: dict[str, dict[str, Any]]) -> OutcomeOut | None:
    """The outcome as shown (`_outcome_fields`)."""
    fields = _outcome_fields(row, due)
    return None if fields is None else OutcomeOut(**fields)


@dataclass(frozen=True)
class InterventionFigures:
    """What an ROI row sums of one intervention: the figures its view shows, without building the view."""

    id: str
    met: bool | None  # the outcome's `met` (None: not measured or not measurable)
    retained: Decimal  # the impact's retained_arr (0 without an impact)
    expanded: Decimal  # the impact's expanded_arr
    computed: bool  # the impact is computed (not a manual override)
    cost: Decimal


def roi_figures(
    session: Session,
    rows: Sequence[Figured],
    default_hourly: Decimal,
    *,
    as_of: date,
    computed: Impacts,
) -> list[InterventionFigures]:
    """The outcome, impact and cost of each intervention as `build_views` shows them, by the same rules, for
    reads that only sum them (the ROI metric over thousands of interventions)."""
    hourly = hourly_costs(session, {r.owner for r in rows if r.owner})
    linked = context_capture.linked_costs(session, {r.id for r in rows})
    due = outcome_measure.measure_many(session, [r for r in rows if r.outcome is None], as_of)
    figures = []
    for row in rows:
        outcome = _outcome_fields(row, due)
        amounts = _impact_amounts(row, computed.naive.get(row.id))
        retained, expanded, is_computed = amounts or (Decimal(0), Decimal(0), False)
        figures.append(
            InterventionFigures(
                id=row.id,
                met=None if outcome is None else outcome["met"],
                retained=retained,
                expanded=expanded,
                computed=is_computed,
                cost=intervention_cost(row, hourly, default_hourly, linked),
            )
        )
    return figures


def build_views(
    session: Session,
    rows: list[Intervention],
    default_hourly: Decimal,
    *,
    as_of: date,
    computed: Impacts,
) -> list[InterventionOut]:
    """Read views of interventions as of `as_of`, with `impacts`' answer for their customers (episodes and splits
    need all of a customer's interventions, so the caller computes them once for the whole set)."""
    hourly = hourly_costs(session, {r.owner for r in rows if r.owner})
    linked = context_capture.linked_costs(session, {r.id for r in rows})
    due = outcome_measure.measure_many(session, [r for r in rows if r.outcome is None], as_of)
    views = []
    for row in rows:
        cost = intervention_cost(row, hourly, default_hourly, linked)
        impact = impact_view(row, computed.naive.get(row.id), cost, computed.incremental)
        views.append(
            InterventionOut(
                id=row.id,
                customer=row.customer_id,
                type=row.type,
                framework=row.framework,
                owner=row.owner,
                reason=row.reason,
                status=row.status,
                planned_on=row.planned_on,
                started_on=row.started_on,
                completed_on=row.completed_on,
                cancelled_on=row.cancelled_on,
                hours=row.hours,
                direct_cost=row.direct_cost,
                expected=outcome_measure.with_aggregate(row.expected),
                attribution_days=row.attribution_days,
                override_holdout=bool(row.override_holdout),
                at_risk=row.at_risk,
                context=row.context,
                outcome=outcome_view(row, due),
                impact=impact,
                cost=cost,
                roi=formulas.roi(impact.attributed_revenue, cost) if impact else None,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )
    return views


def list_interventions(session: Session, query: InterventionListQuery) -> Page[Intervention]:
    """Interventions in id order, filtered."""
    stmt = select(Intervention)
    for column, value in (
        (Intervention.customer_id, query.customer),
        (Intervention.status, query.status),
        (Intervention.type, query.type),
        (Intervention.framework, query.framework),
        (Intervention.owner, query.owner),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.started_from is not None:
        stmt = stmt.where(Intervention.started_on >= query.started_from)
    if query.started_to is not None:
        stmt = stmt.where(Intervention.started_on <= query.started_to)
    return records.page_by_id(session, stmt, Intervention, query)


def measure_due(session: Session, as_of: date) -> int:
    """Store the outcome of every started intervention whose measurement date has passed (the measure job)."""
    rows = session.scalars(
        select(Intervention)
        .where(Intervention.started_on.is_not(None), Intervention.status != "cancelled", Intervention.outcome.is_(None))
        .order_by(Intervention.id)
    ).all()
    measured: list[Intervention] = []
    for first in range(0, len(rows), MEASURE_PAGE):
        page = rows[first : first + MEASURE_PAGE]
        due = outcome_measure.measure_many(session, page, as_of)
        for row in page:
            if row.id in due:
                row.outcome = due[row.id]
                measured.append(row)
    session.flush()
    outcome_measure.emit_measured(session, measured)  # webhooks (SPEC §11), in the measurement's transaction
    return len(measured)
