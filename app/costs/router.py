"""Costs over HTTP: thin routes over the service."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.auth import IngestAuth, ReadAuth
from app.batch import UpsertResult
from app.config import get_app_settings
from app.costs import service
from app.costs.schemas import CostBatchIn, CostIn, CostListQuery, CostOut
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import SessionDep, WriteSessionDep, commit_retrying
from app.errors import problem_responses
from app.pagination import PageOut, page_out
from app.types import IdPath

router = APIRouter(prefix="/costs", tags=["costs"])
WRITE_ERRORS = problem_responses(401, 403, 409, 413, 422)


@router.put(
    "/{cost_id}",
    response_model=CostOut,
    responses={201: {"model": CostOut, "description": "Created"}, **WRITE_ERRORS},
)
def put_cost(_auth: IngestAuth, cost_id: IdPath, body: CostIn, session: WriteSessionDep, response: Response) -> Any:
    """Create or replace a cost by its id (201 when created); every field is replaced."""
    cost, created = commit_retrying(session, service.put_cost, cost_id, body)
    response.status_code = 201 if created else 200
    return cost


@router.post("/batch", responses=WRITE_ERRORS)
def post_costs_batch(_auth: IngestAuth, body: CostBatchIn, session: WriteSessionDep) -> UpsertResult:
    """Create or replace up to 10,000 costs at once, all or nothing."""
    return commit_retrying(session, service.upsert_costs, body.costs)


@router.get("/{cost_id}", response_model=CostOut, responses=problem_responses(401, 403, 404, 422))
def get_cost(_auth: ReadAuth, cost_id: IdPath, session: SessionDep) -> Any:
    """One cost."""
    return service.get_cost(session, cost_id)


@router.get("", response_model=PageOut[CostOut], responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)})
def list_costs(_auth: ReadAuth, request: Request, query: Annotated[CostListQuery, Query()], session: SessionDep) -> Any:
    """Costs in id order, one cursor page at a time (JSON or CSV)."""
    page = service.list_costs(session, query)
    if wants_csv(request, query.format):
        rows = [CostOut.model_validate(r) for r in page.items]
        return csv_response(rows, CostOut, next_cursor=page.next_cursor, filename="costs.csv")
    return page_out(page, get_app_settings(request).currency)
