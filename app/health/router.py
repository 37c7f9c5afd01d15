"""Health model, customer health, snapshots and history over HTTP (SPEC §6)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

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
    HealthModelOut,
    HealthQuery,
    HealthSnapshotOut,
    SnapshotQuery,
    SnapshotResult,
)
from app.pagination import PageOut, page_out
from app.types import IdPath

router = APIRouter()


@router.get("/health-model", tags=["health"], responses=problem_responses(401, 403))
def get_health_model(_auth: AdminAuth, session: SessionDep) -> HealthModelOut:
    """The health model in force (the built-in default, version 1, until one is stored)."""
    return service.get_health_model(session)


@router.put("/health-model", tags=["health"], responses=problem_responses(401, 403, 409, 422))
def put_health_model(
    _auth: AdminAuth, body: HealthModelIn, session: WriteSessionDep, actor: audit.ActorDep
) -> HealthModelOut:
    """Store a new health model version; it scores every read and snapshot from now on."""
    before = service.get_health_model(session)
    result = service.put_health_model(session, body)
    audit.record(session, actor, "health_model.put", f"health_model/{result.version}", before=before, after=result)
    session.commit()
    return result


@router.get("/customers/{customer_id}/health", tags=["health"], responses=problem_responses(401, 403, 404, 422))
def get_customer_health(
    _auth: ReadAuth,
    customer_id: IdPath,
    query: Annotated[HealthQuery, Query()],
    session: SessionDep,
    settings: SettingsDep,
) -> CustomerHealthOut:
    """A customer's health on `as_of` (default today), computed from the events up to that day."""
    as_of = query.as_of or utcnow().date()
    return service.get_customer_health(session, customer_id, as_of=as_of, churn_defaults=settings.churn_defaults)


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
    """Compute and store every customer's health for `date` (re-running a day replaces it)."""
    result = service.snapshot_health(session, day=query.date)
    session.commit()
    return result
