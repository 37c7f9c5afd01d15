"""Health model, customer health, snapshots and history over HTTP (SPEC §6)."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from app.audit import service as audit
from app.auth import AdminAuth, ReadAuth
from app.config import SettingsDep, get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import SessionDep, WriteSessionDep, utcnow
from app.errors import problem_responses
from app.health import service
from app.health.schemas import (
    CustomerHealthOut,
    HealthHistoryQuery,
    HealthModelIn,
    HealthModelListQuery,
    HealthModelOut,
    HealthModelQuery,
    HealthQuery,
    HealthSnapshotOut,
    SnapshotQuery,
    SnapshotResult,
)
from app.pagination import PageOut, page_out
from app.types import IdPath

router = APIRouter()


@router.get("/health-model", tags=["health"], responses=problem_responses(401, 403, 422))
def get_health_model(
    _auth: AdminAuth, query: Annotated[HealthModelQuery, Query()], session: SessionDep
) -> HealthModelOut:
    """The health model in force today, or on `as_of` (the built-in default, version 1, until one takes effect)."""
    return service.get_health_model(session, as_of=query.as_of or utcnow().date())


@router.put("/health-model", tags=["health"], responses=problem_responses(401, 403, 409, 422))
def put_health_model(
    _auth: AdminAuth, body: HealthModelIn, session: WriteSessionDep, actor: audit.ActorDep
) -> HealthModelOut:
    """Store a new health model version, in force from `effective_from` (default today) for every read of those days."""
    today = utcnow().date()
    before = service.get_health_model(session, as_of=today)
    result = service.put_health_model(session, body, today=today)
    # A version that restates past days is audited under its own action, so the log shows every rewrite of history.
    action = "health_model.backdate" if result.backdated else "health_model.put"
    audit.record(session, actor, action, f"health_model/{result.version}", before=before, after=result)
    session.commit()
    return result


@router.get(
    "/health-models",
    response_model=PageOut[HealthModelOut],
    tags=["health"],
    responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)},
)
def list_health_models(
    _auth: AdminAuth, request: Request, query: Annotated[HealthModelListQuery, Query()], session: SessionDep
) -> Any:
    """Every health model version, the built-in default first, with the days each is in force (JSON or CSV)."""
    page = service.list_health_models(session, query)
    if wants_csv(request, query.format):
        return csv_response(page.items, HealthModelOut, next_cursor=page.next_cursor, filename="health-models.csv")
    return page_out(page, get_app_settings(request).currency)


@router.get("/health-models/{version}", tags=["health"], responses=problem_responses(401, 403, 404, 422))
def get_health_model_version(
    _auth: AdminAuth,
    version: Annotated[
        int, Path(ge=1, le=2**31 - 1, description="Model version (1: the built-in default).", examples=[1])
    ],
    session: SessionDep,
) -> HealthModelOut:
    """One health model version (1: the built-in default), with the days it is in force."""
    return service.get_health_model_version(session, version)


@router.get("/customers/{customer_id}/health", tags=["health"], responses=problem_responses(401, 403, 404, 422))
def get_customer_health(
    _auth: ReadAuth,
    customer_id: IdPath,
    query: Annotated[HealthQuery, Query()],
    session: SessionDep,
    settings: SettingsDep,
) -> CustomerHealthOut:
    """A customer's health on `as_of` (default today) from the events up to that day, by the model in force then."""
    return service.get_customer_health(
        session,
        customer_id,
        as_of=query.as_of or utcnow().date(),
        churn_defaults=settings.churn_defaults,
        model_version=query.model_version,
    )


@router.get(
    "/customers/{customer_id}/health/history",
    response_model=PageOut[HealthSnapshotOut],
    tags=["health"],
    responses={**CSV_RESPONSE, **problem_responses(401, 403, 404, 422)},
)
def get_health_history(
    _auth: ReadAuth,
    request: Request,
    customer_id: IdPath,
    query: Annotated[HealthHistoryQuery, Query()],
    session: SessionDep,
) -> Any:
    """A customer's daily health snapshots from start to end, oldest first (JSON or CSV)."""
    page = service.list_health_history(session, customer_id, query)
    if wants_csv(request, query.format):
        return csv_response(page.items, HealthSnapshotOut, next_cursor=page.next_cursor, filename="health.csv")
    return page_out(page, get_app_settings(request).currency)


@router.post("/health/snapshots", tags=["health"], responses=problem_responses(401, 403, 422))
def post_health_snapshots(
    _auth: AdminAuth, query: Annotated[SnapshotQuery, Query()], session: WriteSessionDep
) -> SnapshotResult:
    """Compute and store every customer's health for `date` by the model in force then (re-running replaces it)."""
    result = service.snapshot_health(session, day=query.date, model_version=query.model_version)
    session.commit()
    return result
