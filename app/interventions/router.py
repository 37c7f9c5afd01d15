"""Interventions over HTTP: record, edit, move through the lifecycle, override, measure."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.audit import service as audit
from app.auth import ReadAuth, WriteAuth
from app.batch import UpsertResult
from app.config import get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import MetricSessionDep, SessionDep, WriteSessionDep
from app.errors import problem_responses
from app.interventions import recommend, service
from app.interventions.schemas import (
    ImpactOverrideIn,
    InterventionBatchIn,
    InterventionIn,
    InterventionListQuery,
    InterventionOut,
    InterventionPatch,
    InterventionRecordIn,
    OutcomeOverrideIn,
    RecommendationOut,
    RecommendationQuery,
    TransitionIn,
)
from app.pagination import Page, PageOut, page_out
from app.types import IdPath

router = APIRouter(prefix="/interventions", tags=["interventions"])
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)


def _views(request: Request, session: Any, rows: list[Any]) -> list[InterventionOut]:
    settings = request.app.state.settings
    as_of = service.today()
    computed = service.impacts(
        session,
        {r.customer_id for r in rows},
        as_of,
        min_controls=settings.min_controls,
        churn_defaults=settings.churn_defaults,
        shown={r.id for r in rows},  # a page's figures: pools for its interventions only (the same figures)
    )
    return service.build_views(session, rows, settings.default_hourly_cost, as_of=as_of, computed=computed)


def _view(request: Request, session: Any, row: Any) -> InterventionOut:
    return _views(request, session, [row])[0]


@router.post("", status_code=201, responses=problem_responses(401, 403, 409, 422))
def create_intervention(
    _auth: WriteAuth, request: Request, body: InterventionIn, session: WriteSessionDep
) -> InterventionOut:
    """Record an intervention: why, what it should change, and (status in_progress) start it now."""
    row = service.create_intervention(session, body, level_kinds=get_app_settings(request).level_kinds)
    view = _view(request, session, row)
    session.commit()
    return view


@router.get("", response_model=PageOut[InterventionOut], responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)})
def list_interventions(
    _auth: ReadAuth, request: Request, query: Annotated[InterventionListQuery, Query()], session: MetricSessionDep
) -> Any:
    """Interventions with their outcome, impact and ROI; filters, cursor pages, CSV."""
    # A metric read: the views' incremental figures aggregate the whole book's health and ledger (work_mem).
    page = service.list_interventions(session, query)
    views = _views(request, session, list(page.items))
    if wants_csv(request, query.format):
        return csv_response(views, InterventionOut, next_cursor=page.next_cursor, filename="interventions.csv")
    return page_out(
        Page[InterventionOut](items=views, next_cursor=page.next_cursor), get_app_settings(request).currency
    )


@router.post("/batch", responses=problem_responses(401, 403, 409, 413, 422))
def post_interventions_batch(
    _auth: WriteAuth, request: Request, body: InterventionBatchIn, session: WriteSessionDep
) -> UpsertResult:
    """Upsert up to 10,000 interventions by id, all or nothing (SPEC §11: interventions are records)."""
    level_kinds = get_app_settings(request).level_kinds
    result = service.upsert_interventions(session, body.interventions, level_kinds=level_kinds)
    session.commit()
    return result


@router.put(
    "/{intervention_id}",
    response_model=InterventionOut,
    responses={201: {"model": InterventionOut, "description": "Created"}, **problem_responses(401, 403, 409, 422)},
)
def put_intervention(
    _auth: WriteAuth,
    request: Request,
    intervention_id: IdPath,
    body: InterventionRecordIn,
    session: WriteSessionDep,
    response: Response,
) -> Any:
    """Create (201) or update (200) an intervention by your id; the status moves only along the lifecycle (409)."""
    level_kinds = get_app_settings(request).level_kinds
    row, created = service.upsert_intervention(session, intervention_id, body, level_kinds=level_kinds)
    view = _view(request, session, row)
    session.commit()
    response.status_code = 201 if created else 200
    return view


@router.post("/measure", responses=problem_responses(401, 403, 422))
def measure_interventions(_auth: WriteAuth, session: WriteSessionDep) -> dict[str, int]:
    """Store the outcome of every intervention whose measurement date has passed (for scheduled runs)."""
    stored = service.measure_due(session, service.today())
    session.commit()
    return {"measured": stored}


@router.get("/{intervention_id}", responses=problem_responses(401, 403, 404, 422))
def get_intervention(
    _auth: ReadAuth, request: Request, intervention_id: IdPath, session: SessionDep
) -> InterventionOut:
    """One intervention with its context, outcome, impact, cost and ROI."""
    return _view(request, session, service.get_intervention(session, intervention_id))


@router.patch("/{intervention_id}", responses=WRITE_ERRORS)
def patch_intervention(
    _auth: WriteAuth, request: Request, intervention_id: IdPath, body: InterventionPatch, session: WriteSessionDep
) -> InterventionOut:
    """Edit type, framework, owner, reason, dates, hours, cost or expectation."""
    row = service.update_intervention(session, intervention_id, body, level_kinds=get_app_settings(request).level_kinds)
    view = _view(request, session, row)
    session.commit()
    return view


def _transition(move: str) -> Callable[..., InterventionOut]:
    def route(
        _auth: WriteAuth,
        request: Request,
        intervention_id: IdPath,
        session: WriteSessionDep,
        body: TransitionIn | None = None,
    ) -> InterventionOut:
        row = service.transition(session, intervention_id, move, body or TransitionIn())
        view = _view(request, session, row)
        session.commit()
        return view

    route.__name__ = f"{move}_intervention"
    route.__doc__ = {
        "start": "Start it: the context is captured now, once.",
        "complete": "Mark it completed.",
        "cancel": "Cancel a planned or running intervention.",
    }[move]
    return route


for _move in ("start", "complete", "cancel"):
    # The 400 of an undecodable body is declared with every body's (app.errors.declare_json_body_responses).
    router.post(f"/{{intervention_id}}/{_move}", responses=problem_responses(401, 403, 404, 409, 422))(
        _transition(_move)
    )


@router.put("/{intervention_id}/outcome", responses=WRITE_ERRORS)
def put_outcome(
    _auth: WriteAuth,
    request: Request,
    intervention_id: IdPath,
    body: OutcomeOverrideIn,
    session: WriteSessionDep,
    actor: audit.ActorDep,
) -> InterventionOut:
    """Record a manual outcome note (and override)."""
    before = service.get_intervention(session, intervention_id).outcome_override
    row = service.set_outcome_override(session, intervention_id, body)
    obj = f"intervention/{intervention_id}/outcome"
    audit.record(session, actor, "intervention.outcome.put", obj, before=before, after=row.outcome_override)
    view = _view(request, session, row)
    session.commit()
    return view


@router.put("/{intervention_id}/impact", responses=WRITE_ERRORS)
def put_impact(
    _auth: WriteAuth,
    request: Request,
    intervention_id: IdPath,
    body: ImpactOverrideIn,
    session: WriteSessionDep,
    actor: audit.ActorDep,
) -> InterventionOut:
    """Override the computed impact with a note; it then reports `attribution: manual`."""
    before = service.get_intervention(session, intervention_id).impact_override
    row = service.set_impact_override(session, intervention_id, body)
    obj = f"intervention/{intervention_id}/impact"
    audit.record(session, actor, "intervention.impact.put", obj, before=before, after=row.impact_override)
    view = _view(request, session, row)
    session.commit()
    return view


recommendation_router = APIRouter(tags=["interventions"])


@recommendation_router.get("/customers/{customer_id}/recommendation", responses=problem_responses(401, 403, 404, 422))
def get_recommendation(
    _auth: ReadAuth, customer_id: IdPath, query: Annotated[RecommendationQuery, Query()], session: SessionDep
) -> RecommendationOut:
    """Which framework and intervention type fit the customer now, ranked by this company's measured history."""
    today = service.today()
    return recommend.recommend(session, customer_id, as_of=query.as_of or today, today=today)
