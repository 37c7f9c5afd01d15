"""Metric routes: thin GETs over app.metrics services, JSON or CSV (SPEC §2, §4)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth import ReadAuth
from app.csv import CSV_RESPONSE
from app.db import SessionDep
from app.errors import problem_responses
from app.metrics import retention as retention_metric
from app.metrics.respond import respond
from app.metrics.schemas import MetricAnswer

router = APIRouter(prefix="/metrics", tags=["metrics"])
METRIC_RESPONSES = {**CSV_RESPONSE, **problem_responses(401, 403, 422)}


@router.get("/retention", response_model=MetricAnswer[retention_metric.RetentionRow], responses=METRIC_RESPONSES)
def get_retention(
    _auth: ReadAuth, request: Request, query: Annotated[retention_metric.RetentionQuery, Query()], session: SessionDep
) -> Any:
    """NRR, GRR, logo churn and ARR growth of the customers paying at the start of each period."""
    return respond(request, query, retention_metric.retention(session, query), "retention.csv")
