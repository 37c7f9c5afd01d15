"""Revenue events, movements and ARR over HTTP."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth import IngestAuth, ReadAuth
from app.config import get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import SessionDep, WriteSessionDep, commit_retrying, utcnow
from app.errors import problem_responses
from app.ledger import ingest, service
from app.ledger.schemas import (
    ArrQuery,
    CustomerArrOut,
    EventBatchResult,
    MovementOut,
    MovementQuery,
    RevenueEventBatchIn,
)
from app.pagination import PageOut, page_out
from app.types import IdPath

router = APIRouter(tags=["revenue"])


@router.post("/revenue-events", responses=problem_responses(401, 403, 409, 413, 422))
def post_revenue_events(_auth: IngestAuth, body: RevenueEventBatchIn, session: WriteSessionDep) -> EventBatchResult:
    """Post up to 10,000 revenue events, all or nothing; re-posted ids are counted as duplicates."""
    return commit_retrying(session, ingest.ingest_revenue_events, body.events)


@router.get(
    "/movements", response_model=PageOut[MovementOut], responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)}
)
def list_movements(
    _auth: ReadAuth, request: Request, query: Annotated[MovementQuery, Query()], session: SessionDep
) -> Any:
    """ARR movements derived from the revenue events (new, reactivation, upsell, cross_sell, downsell, churn)."""
    page = service.list_movements(session, query)
    if wants_csv(request, query.format):
        return csv_response(page.items, MovementOut, next_cursor=page.next_cursor, filename="movements.csv")
    return page_out(page, get_app_settings(request).currency)


@router.get("/customers/{customer_id}/arr", responses=problem_responses(401, 403, 404, 422))
def get_customer_arr(
    _auth: ReadAuth, customer_id: IdPath, query: Annotated[ArrQuery, Query()], session: SessionDep
) -> CustomerArrOut:
    """A customer's ARR on `as_of` (default today): the total, MRR and each product."""
    return service.get_customer_arr(session, customer_id, query.as_of or utcnow().date())
