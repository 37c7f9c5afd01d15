"""Holdout experiments over HTTP (SPEC §9): thin routes over the service and the result."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.audit import service as audit
from app.auth import ReadAuth, WriteAuth
from app.config import SettingsDep, get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import SessionDep, WriteSessionDep
from app.errors import problem_responses
from app.experiments import result, service
from app.experiments.schemas import (
    AssignmentListQuery,
    AssignmentOut,
    AssignQuery,
    AssignResult,
    ExperimentIn,
    ExperimentListQuery,
    ExperimentOut,
    ExperimentResultOut,
    ResultQuery,
    StopQuery,
)
from app.pagination import PageOut, page_out
from app.types import IdPath

router = APIRouter(prefix="/experiments", tags=["experiments"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.put(
    "/{experiment_id}",
    response_model=ExperimentOut,
    responses={201: {"model": ExperimentOut, "description": "Created"}, **problem_responses(401, 403, 409, 422)},
)
def put_experiment(
    _auth: WriteAuth,
    experiment_id: IdPath,
    body: ExperimentIn,
    session: WriteSessionDep,
    response: Response,
    actor: audit.ActorDep,
) -> Any:
    """Create or replace an experiment (201 when created); its design is fixed once customers are enrolled."""
    before = service.find_view(session, experiment_id)
    view, created = service.put_experiment(session, experiment_id, body)
    audit.record(session, actor, "experiment.put", f"experiment/{experiment_id}", before=before, after=view)
    session.commit()
    response.status_code = 201 if created else 200
    return view


@router.get("", response_model=PageOut[ExperimentOut], responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)})
def list_experiments(
    _auth: ReadAuth, request: Request, query: Annotated[ExperimentListQuery, Query()], session: SessionDep
) -> Any:
    """Experiments in id order, one cursor page at a time (JSON or CSV)."""
    page = service.list_experiments(session, query)
    if wants_csv(request, query.format):
        return csv_response(page.items, ExperimentOut, next_cursor=page.next_cursor, filename="experiments.csv")
    return page_out(page, get_app_settings(request).currency)


@router.get("/{experiment_id}", responses=READ_ERRORS)
def get_experiment(_auth: ReadAuth, experiment_id: IdPath, session: SessionDep) -> ExperimentOut:
    """One experiment with the size of each arm."""
    return service.views(session, [service.get_experiment(session, experiment_id)])[0]


@router.post("/{experiment_id}/stop", responses=WRITE_ERRORS)
def stop_experiment(
    _auth: WriteAuth,
    experiment_id: IdPath,
    query: Annotated[StopQuery, Query()],
    session: WriteSessionDep,
    actor: audit.ActorDep,
) -> ExperimentOut:
    """Stop the experiment on `?on=` (default today): no more enrollment, and its holdout is free from that day."""
    before = service.find_view(session, experiment_id)
    view = service.stop_experiment(session, experiment_id, query.on or service.today())
    audit.record(session, actor, "experiment.stop", f"experiment/{experiment_id}", before=before, after=view)
    session.commit()
    return view


@router.post("/{experiment_id}/assign", responses=WRITE_ERRORS)
def assign(
    _auth: WriteAuth,
    experiment_id: IdPath,
    query: Annotated[AssignQuery, Query()],
    session: WriteSessionDep,
    actor: audit.ActorDep,
) -> AssignResult:
    """Enroll every customer eligible on `?as_of=` (default today) not enrolled yet; earlier assignments never move."""
    found = service.assign(session, experiment_id, as_of=query.as_of or service.today())
    audit.record(session, actor, "experiment.assign", f"experiment/{experiment_id}", after=found)
    session.commit()
    return found


@router.get(
    "/{experiment_id}/assignments",
    response_model=PageOut[AssignmentOut],
    responses={**CSV_RESPONSE, **READ_ERRORS},
)
def list_assignments(
    _auth: ReadAuth,
    request: Request,
    experiment_id: IdPath,
    query: Annotated[AssignmentListQuery, Query()],
    session: SessionDep,
) -> Any:
    """Enrolled customers with arm, enrollment day and stratum; `?arm=holdout&format=csv` is the do-not-contact
    list for CSMs."""
    page = service.list_assignments(session, experiment_id, query)
    if wants_csv(request, query.format):
        name = f"{experiment_id}-{query.arm or 'assignments'}.csv"
        return csv_response(page.items, AssignmentOut, next_cursor=page.next_cursor, filename=name)
    return page_out(page, get_app_settings(request).currency)


@router.get("/{experiment_id}/result", responses=READ_ERRORS)
def get_result(
    _auth: ReadAuth,
    experiment_id: IdPath,
    query: Annotated[ResultQuery, Query()],
    session: SessionDep,
    settings: SettingsDep,
) -> ExperimentResultOut:
    """The intention-to-treat result: per arm, treatment − holdout with intervals and p-values, incremental
    retained ARR, ROI with its bootstrap interval, minimum detectable effect, status and contamination."""
    return result.experiment_result(
        session,
        experiment_id,
        as_of=query.as_of or service.today(),
        seed=query.seed,
        default_hourly=settings.default_hourly_cost,
        currency=settings.currency,
    )
