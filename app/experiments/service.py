"""Holdout experiments (SPEC §9): define, enroll customers into arms that never move, stop, and guard the holdout.

Other features reach this one only through this module: interventions call `guard_holdout` when one is created.
This module reads the intervention table directly where it needs it (`result.py`), never the interventions
service, so the two features do not import each other.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, insert, or_, select
from sqlalchemy.orm import Session

from app import formulas, records
from app.customers import service as customers
from app.db import utcnow
from app.errors import Conflict, Unprocessable
from app.experiments.schemas import (
    ArmCounts,
    AssignmentListQuery,
    AssignmentOut,
    AssignResult,
    ExperimentIn,
    ExperimentListQuery,
    ExperimentOut,
    PlayOut,
    StratumResult,
)
from app.health import service as health
from app.ledger import service as ledger
from app.models import Customer, Experiment, ExperimentAssignment
from app.money import to_cents
from app.pagination import Page, make_page
from app.renewals import service as renewals

# Fixed once customers are enrolled: changing them would make the arms incomparable.
DESIGN_FIELDS = ("play_type", "play_framework", "holdout_share", "stratify_by", "starts_on", "window_days")


def today() -> date:
    """The current UTC date (one place, so tests can move time)."""
    return utcnow().date()


# --- The experiment record ---------------------------------------------------------------------------------------


def _columns(body: ExperimentIn) -> dict[str, Any]:
    return {
        "name": body.name,
        "hypothesis": body.hypothesis,
        "play_type": body.play.type,
        "play_framework": body.play.framework,
        "eligibility": body.eligibility.model_dump(mode="json", exclude_none=True),
        "holdout_share": body.holdout_share,
        "stratify_by": list(body.stratify_by),
        "starts_on": body.starts_on,
        "ends_on": body.ends_on,
        "window_days": body.window_days,
    }


def _enrolled(session: Session, experiment_ids: list[str]) -> dict[str, ArmCounts]:
    """Customers per arm of each experiment, one grouped query."""
    counts: dict[str, ArmCounts] = {eid: ArmCounts() for eid in experiment_ids}
    if not experiment_ids:
        return counts
    stmt = (
        select(ExperimentAssignment.experiment_id, ExperimentAssignment.arm, func.count())
        .where(ExperimentAssignment.experiment_id.in_(experiment_ids))
        .group_by(ExperimentAssignment.experiment_id, ExperimentAssignment.arm)
    )
    for eid, arm, n in session.execute(stmt):
        setattr(counts[eid], arm, int(n))
    return counts


def views(session: Session, rows: list[Experiment]) -> list[ExperimentOut]:
    """Read views of experiments with their arm sizes."""
    enrolled = _enrolled(session, [r.id for r in rows])
    return [
        ExperimentOut(
            id=r.id,
            name=r.name,
            hypothesis=r.hypothesis,
            play=PlayOut(type=r.play_type, framework=r.play_framework),
            eligibility=r.eligibility,
            holdout_share=r.holdout_share,
            stratify_by=r.stratify_by,
            starts_on=r.starts_on,
            ends_on=r.ends_on,
            window_days=r.window_days,
            stopped_on=r.stopped_on,
            enrolled=enrolled[r.id],
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def get_experiment(session: Session, experiment_id: str) -> Experiment:
    """The experiment, or NotFound."""
    return records.get_record(session, Experiment, experiment_id)


def find_view(session: Session, experiment_id: str) -> ExperimentOut | None:
    """The experiment's read view, or None when there is none."""
    row = session.get(Experiment, experiment_id)
    return None if row is None else views(session, [row])[0]


def put_experiment(session: Session, experiment_id: str, body: ExperimentIn) -> tuple[ExperimentOut, bool]:
    """Create or replace an experiment; True when created. Its design is fixed once a customer is enrolled (409)."""
    records.record_row(body, experiment_id, whole=True)  # the body's id, if any, must equal the path's
    columns = _columns(body)
    row = session.get(Experiment, experiment_id, with_for_update=True)
    created = row is None
    if row is None:
        row = Experiment(id=experiment_id, **columns)
        session.add(row)
    else:
        changed = [name for name in DESIGN_FIELDS if getattr(row, name) != columns[name]]
        if changed and _enrolled(session, [experiment_id])[experiment_id] != ArmCounts():
            raise Conflict(
                f"Experiment {experiment_id!r} has enrolled customers: its design ({', '.join(changed)}) is fixed. "
                "Create a new experiment to test another design.",
                experiment=experiment_id,
                fixed=changed,
            )
        for name, value in columns.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
    session.flush()
    return views(session, [row])[0], created


def list_experiments(session: Session, query: ExperimentListQuery) -> Page[ExperimentOut]:
    """Experiments in id order, one cursor page."""
    stmt = select(Experiment)
    if query.framework is not None:
        stmt = stmt.where(Experiment.play_framework == query.framework)
    page = records.page_by_id(session, stmt, Experiment, query)
    return Page[ExperimentOut](items=views(session, page.items), next_cursor=page.next_cursor)


def stop_experiment(session: Session, experiment_id: str, on: date) -> ExperimentOut:
    """Stop enrolling and guarding from `on`: interventions of the play starting on or after it are free."""
    row = get_experiment(session, experiment_id)
    if row.stopped_on is not None:
        raise Conflict(
            f"Experiment {experiment_id!r} was already stopped on {row.stopped_on}.", stopped_on=str(row.stopped_on)
        )
    if on < row.starts_on:
        raise Unprocessable(
            f"An experiment cannot stop before it starts ({row.starts_on}).",
            [{"loc": ["query", "on"], "msg": "before starts_on", "type": "value_error"}],
        )
    row.stopped_on = on
    row.updated_at = utcnow()
    session.flush()
    return views(session, [row])[0]


# --- Enrollment ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A customer eligible on the enrollment day, with what its stratum is made of."""

    customer_id: str
    values: dict[str, str]


def _eligible(session: Session, experiment: Experiment, on: date) -> tuple[list[Candidate], int]:
    """Customers eligible on `on` and not yet enrolled (one grouped select; stage from two more), and how many
    eligible ones were enrolled already."""
    rule = experiment.eligibility
    arr = ledger.arr_as_of(on, paying_only=True).subquery("arr")
    snapshot = health.latest_snapshots(through=on).subquery("snapshot")
    due = renewals.open_renewal_dates(on).subquery("due")
    at_risk = customers.at_risk_sql(snapshot.c.band, due.c.next_upcoming, on)
    enrolled = exists().where(
        ExperimentAssignment.experiment_id == experiment.id, ExperimentAssignment.customer_id == Customer.id
    )
    stmt = (
        select(Customer.id, Customer.tier, Customer.segment, snapshot.c.band, at_risk.label("at_risk"))
        .add_columns(enrolled.label("enrolled"))
        .join(arr, arr.c.customer_id == Customer.id)
        .outerjoin(snapshot, snapshot.c.customer_id == Customer.id)
        .outerjoin(due, due.c.customer_id == Customer.id)
    )
    if "band" in rule:
        stmt = stmt.where(snapshot.c.band == rule["band"])
    for name in ("segment", "tier"):
        if name in rule:
            stmt = stmt.where(getattr(Customer, name) == rule[name])
    if "at_risk" in rule:
        stmt = stmt.where(at_risk == bool(rule["at_risk"]))
    if "min_arr" in rule:
        stmt = stmt.where(arr.c.arr_cents >= to_cents(Decimal(str(rule["min_arr"]))))
    rows = session.execute(stmt.order_by(Customer.id)).all()
    stage_of: dict[str, str] = {}
    if "stage" in rule or "stage" in experiment.stratify_by:
        stage_of = dict(customers.stages(session, [r.id for r in rows], today=on))
    if "stage" in rule:
        rows = [r for r in rows if stage_of.get(r.id) == rule["stage"]]
    candidates = [
        Candidate(
            r.id,
            {
                "band": r.band or "none",
                "tier": r.tier or "none",
                "segment": r.segment or "none",
                "stage": stage_of.get(r.id, "none"),
                "at_risk": "true" if r.at_risk else "false",
            },
        )
        for r in rows
        if not r.enrolled
    ]
    return candidates, sum(1 for r in rows if r.enrolled)


def stratum_of(values: dict[str, str], keys: list[str]) -> str:
    """The stratum label, e.g. `band=red|tier=high_touch`; `all` without strata."""
    return "|".join(f"{key}={values[key]}" for key in keys) or "all"


def draw_order(experiment_id: str, customer_id: str) -> str:
    """The customer's place in its stratum's draw: SHA-256 of `<experiment id>\\n<customer id>` (ids hold no
    newline), so the order is fixed by the two ids alone, whatever else is in the database."""
    return hashlib.sha256(f"{experiment_id}\n{customer_id}".encode()).hexdigest()


def assign(session: Session, experiment_id: str, *, as_of: date) -> AssignResult:
    """Enroll every customer eligible on `as_of` that is not enrolled yet (rolling enrollment). Within each stratum
    of the newly enrolled, customers are ordered by `draw_order` and the first ⌊share × n + ½⌋ are held out
    (SPEC §9). Existing assignments are never read back into the draw, so they never move."""
    row = session.get(Experiment, experiment_id, with_for_update=True)  # one assign at a time per experiment
    if row is None:
        row = get_experiment(session, experiment_id)
    if not row.starts_on <= as_of <= row.ends_on:
        raise Conflict(
            f"Experiment {experiment_id!r} enrolls from {row.starts_on} to {row.ends_on}; {as_of} is outside.",
            experiment=experiment_id,
        )
    if row.stopped_on is not None and as_of >= row.stopped_on:
        raise Conflict(f"Experiment {experiment_id!r} was stopped on {row.stopped_on}.", experiment=experiment_id)
    candidates, already = _eligible(session, row, as_of)
    strata: dict[str, list[str]] = defaultdict(list)
    for candidate in candidates:
        strata[stratum_of(candidate.values, row.stratify_by)].append(candidate.customer_id)
    results, rows = [], []
    for stratum in sorted(strata):
        ordered = sorted(strata[stratum], key=lambda cid: (draw_order(experiment_id, cid), cid))
        held = formulas.holdout_count(row.holdout_share, len(ordered))
        results.append(
            StratumResult(stratum=stratum, customers=len(ordered), holdout=held, treatment=len(ordered) - held)
        )
        now = utcnow()
        rows += [
            {
                "experiment_id": experiment_id,
                "customer_id": cid,
                "arm": "holdout" if index < held else "treatment",
                "enrolled_on": as_of,
                "stratum": stratum,
                "created_at": now,
            }
            for index, cid in enumerate(ordered)
        ]
    if rows:
        session.execute(insert(ExperimentAssignment), rows)
    session.flush()
    return AssignResult(
        experiment=experiment_id,
        as_of=as_of,
        eligible=len(candidates) + already,
        already_enrolled=already,
        enrolled=len(rows),
        holdout=sum(r.holdout for r in results),
        treatment=sum(r.treatment for r in results),
        strata=results,
    )


def list_assignments(session: Session, experiment_id: str, query: AssignmentListQuery) -> Page[AssignmentOut]:
    """The experiment's assignments in customer id order; with `arm=holdout`, the do-not-contact list."""
    get_experiment(session, experiment_id)
    stmt = select(ExperimentAssignment).where(ExperimentAssignment.experiment_id == experiment_id)
    if query.arm is not None:
        stmt = stmt.where(ExperimentAssignment.arm == query.arm)
    after = query.after()
    if after:
        stmt = stmt.where(ExperimentAssignment.customer_id > str(after[0]))
    found = session.scalars(stmt.order_by(ExperimentAssignment.customer_id).limit(query.limit + 1)).all()
    items = [
        AssignmentOut(customer=a.customer_id, arm=a.arm, enrolled_on=a.enrolled_on, stratum=a.stratum) for a in found
    ]
    return make_page(items, query.limit, key=lambda a: [a.customer])


# --- The holdout guard (called by interventions) --------------------------------------------------------------


def guard_holdout(
    session: Session, *, customer_id: str, type: str, framework: str, on: date, override: bool
) -> list[str]:
    """Refuse (409) an intervention of an experiment's play for one of its holdout customers during the experiment:
    from the customer's enrollment day to `ends_on`, before any stop (SPEC §9). With `override` it passes; the
    experiments it contaminates are returned (their results count it)."""
    stmt = (
        select(Experiment.id, Experiment.name, Experiment.ends_on)
        .join(ExperimentAssignment, ExperimentAssignment.experiment_id == Experiment.id)
        .where(
            ExperimentAssignment.customer_id == customer_id,
            ExperimentAssignment.arm == "holdout",
            ExperimentAssignment.enrolled_on <= on,
            Experiment.play_type == type,
            Experiment.play_framework == framework,
            Experiment.ends_on >= on,
            or_(Experiment.stopped_on.is_(None), Experiment.stopped_on > on),
        )
        .order_by(Experiment.id)
    )
    found = session.execute(stmt).all()
    if found and not override:
        first = found[0]
        raise Conflict(
            f"Customer {customer_id!r} is in the holdout of experiment {first.id!r} ({first.name}) until "
            f'{first.ends_on}: do not contact it with a {framework} {type}. Send "override_holdout": true to record '
            "it anyway; it is counted as contamination.",
            experiment=first.id,
            experiments=[r.id for r in found],
            customer=customer_id,
        )
    return [r.id for r in found]
