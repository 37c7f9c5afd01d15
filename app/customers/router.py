"""Customers and team members over HTTP: thin routes over the service."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.audit import service as audit
from app.auth import AdminAuth, IngestAuth, ReadAuth
from app.batch import UpsertResult
from app.config import SettingsDep, get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.customers import erasure, service, views
from app.customers.schemas import (
    CustomerBatchIn,
    CustomerIn,
    CustomerListQuery,
    CustomerOut,
    ErasureOut,
    TeamMemberBatchIn,
    TeamMemberIn,
    TeamMemberListQuery,
    TeamMemberOut,
)
from app.db import SessionDep, WriteSessionDep, commit_retrying, utcnow
from app.errors import problem_responses
from app.pagination import PageOut, page_out
from app.types import IdPath

router = APIRouter()
READ_ERRORS = problem_responses(401, 403, 422)
WRITE_ERRORS = problem_responses(401, 403, 409, 413, 422)


@router.put(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    tags=["customers"],
    responses={201: {"model": CustomerOut, "description": "Created"}, **WRITE_ERRORS},
)
def put_customer(
    _auth: IngestAuth,
    customer_id: IdPath,
    body: CustomerIn,
    session: WriteSessionDep,
    response: Response,
    settings: SettingsDep,
) -> Any:
    """Create or update a customer by its CRM id (201 when created)."""
    _, created = commit_retrying(session, service.put_customer, customer_id, body)
    response.status_code = 201 if created else 200
    return views.get_customer_view(session, customer_id, today=utcnow().date(), churn_defaults=settings.churn_defaults)


@router.post("/customers/batch", tags=["customers"], responses=WRITE_ERRORS)
def post_customers_batch(_auth: IngestAuth, body: CustomerBatchIn, session: WriteSessionDep) -> UpsertResult:
    """Upsert up to 10,000 customers at once, all or nothing."""
    return commit_retrying(session, service.upsert_customers, body.customers)


@router.delete(
    "/customers/{customer_id}",
    response_model=ErasureOut,
    tags=["customers"],
    responses=problem_responses(401, 403, 404, 422),
)
def erase_customer(_auth: AdminAuth, customer_id: IdPath, session: WriteSessionDep, actor: audit.ActorDep) -> Any:
    """Erase a customer and every row about it in one transaction (SPEC §11): revenue and usage events, the ledger,
    renewals, interventions, snapshots and assignments; costs keep their amount and lose the link. The audit log
    keeps only a SHA-256 of the id."""
    return commit_retrying(session, erasure.erase_customer, customer_id, actor=actor)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    tags=["customers"],
    responses=problem_responses(401, 403, 404, 422),
)
def get_customer(_auth: ReadAuth, customer_id: IdPath, session: SessionDep, settings: SettingsDep) -> Any:
    """One customer with its current ARR, latest health, lifecycle stage, risk, next renewal and open work."""
    return views.get_customer_view(session, customer_id, today=utcnow().date(), churn_defaults=settings.churn_defaults)


@router.get(
    "/customers",
    response_model=PageOut[CustomerOut],
    tags=["customers"],
    responses={**CSV_RESPONSE, **READ_ERRORS},
)
def list_customers(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[CustomerListQuery, Query()],
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """The CSM's worklist: customers with ARR, health, stage, risk, next renewal and open work, filtered and sorted
    in SQL (e.g. `?at_risk=true&renewal_due_within_days=90&sort=-revenue_at_risk`), one full cursor page at a time
    (JSON or CSV)."""
    page = views.list_customer_views(session, query, today=utcnow().date(), churn_defaults=settings.churn_defaults)
    if wants_csv(request, query.format):
        return csv_response(page.items, CustomerOut, next_cursor=page.next_cursor, filename="customers.csv")
    return page_out(page, settings.currency)


@router.put(
    "/team-members/{member_id}",
    response_model=TeamMemberOut,
    tags=["team"],
    responses={201: {"model": TeamMemberOut, "description": "Created"}, **WRITE_ERRORS},
)
def put_team_member(
    _auth: IngestAuth, member_id: IdPath, body: TeamMemberIn, session: WriteSessionDep, response: Response
) -> Any:
    """Create or update a team member by id (201 when created)."""
    member, created = commit_retrying(session, service.put_team_member, member_id, body)
    response.status_code = 201 if created else 200
    return member


@router.post("/team-members/batch", tags=["team"], responses=WRITE_ERRORS)
def post_team_members_batch(_auth: IngestAuth, body: TeamMemberBatchIn, session: WriteSessionDep) -> UpsertResult:
    """Upsert up to 10,000 team members at once, all or nothing."""
    return commit_retrying(session, service.upsert_team_members, body.team_members)


@router.get(
    "/team-members/{member_id}",
    response_model=TeamMemberOut,
    tags=["team"],
    responses=problem_responses(401, 403, 404, 422),
)
def get_team_member(_auth: ReadAuth, member_id: IdPath, session: SessionDep) -> Any:
    """One team member."""
    return service.get_team_member(session, member_id)


@router.get(
    "/team-members",
    response_model=PageOut[TeamMemberOut],
    tags=["team"],
    responses={**CSV_RESPONSE, **READ_ERRORS},
)
def list_team_members(
    _auth: ReadAuth, request: Request, query: Annotated[TeamMemberListQuery, Query()], session: SessionDep
) -> Any:
    """Team members in id order, one cursor page at a time (JSON or CSV)."""
    page = service.list_team_members(session, query)
    if wants_csv(request, query.format):
        rows = [TeamMemberOut.model_validate(m) for m in page.items]
        return csv_response(rows, TeamMemberOut, next_cursor=page.next_cursor, filename="team-members.csv")
    return page_out(page, get_app_settings(request).currency)
