"""`GET /v1/audit` (admin): the audit log, newest first, JSON or CSV."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.audit import service
from app.audit.schemas import AuditEntryOut, AuditQuery
from app.auth import AdminAuth
from app.config import get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import SessionDep
from app.errors import problem_responses
from app.pagination import PageOut, page_out

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=PageOut[AuditEntryOut], responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)})
def list_audit(_auth: AdminAuth, request: Request, query: Annotated[AuditQuery, Query()], session: SessionDep) -> Any:
    """Who changed the health model, targets, closed months, manual outcomes and impacts, experiments and keys,
    and what the object was before and after; cursor pages, newest first."""
    page = service.list_entries(session, query)
    if wants_csv(request, query.format):
        return csv_response(page.items, AuditEntryOut, next_cursor=page.next_cursor, filename="audit.csv")
    return page_out(page, get_app_settings(request).currency)
