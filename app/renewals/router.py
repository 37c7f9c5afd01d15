"""Renewals over HTTP: thin routes over the service."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.auth import IngestAuth, ReadAuth
from app.batch import UpsertResult
from app.config import get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import SessionDep, WriteSessionDep, commit_retrying
from app.errors import problem_responses
from app.pagination import PageOut, page_out
from app.renewals import service
from app.renewals.schemas import RenewalBatchIn, RenewalIn, RenewalListQuery, RenewalOut
from app.types import IdPath

router = APIRouter(prefix="/renewals", tags=["renewals"])
WRITE_ERRORS = problem_responses(401, 403, 409, 413, 422)


@router.put(
    "/{renewal_id}",
    response_model=RenewalOut,
    responses={201: {"model": RenewalOut, "description": "Created"}, **WRITE_ERRORS},
)
def put_renewal(
    _auth: IngestAuth, renewal_id: IdPath, body: RenewalIn, session: WriteSessionDep, response: Response
) -> Any:
    """Create or replace a renewal by its CRM id (201 when created); every field is replaced."""
    renewal, created = commit_retrying(session, service.put_renewal, renewal_id, body)
    response.status_code = 201 if created else 200
    return renewal


@router.post("/batch", responses=WRITE_ERRORS)
def post_renewals_batch(_auth: IngestAuth, body: RenewalBatchIn, session: WriteSessionDep) -> UpsertResult:
    """Create or replace up to 10,000 renewals at once, all or nothing."""
    return commit_retrying(session, service.upsert_renewals, body.renewals)


@router.get("/{renewal_id}", response_model=RenewalOut, responses=problem_responses(401, 403, 404, 422))
def get_renewal(_auth: ReadAuth, renewal_id: IdPath, session: SessionDep) -> Any:
    """One renewal."""
    return service.get_renewal(session, renewal_id)


@router.get("", response_model=PageOut[RenewalOut], responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)})
def list_renewals(
    _auth: ReadAuth, request: Request, query: Annotated[RenewalListQuery, Query()], session: SessionDep
) -> Any:
    """Renewals in id order, one cursor page at a time (JSON or CSV)."""
    page = service.list_renewals(session, query)
    if wants_csv(request, query.format):
        rows = [RenewalOut.model_validate(r) for r in page.items]
        return csv_response(rows, RenewalOut, next_cursor=page.next_cursor, filename="renewals.csv")
    return page_out(page, get_app_settings(request).currency)
