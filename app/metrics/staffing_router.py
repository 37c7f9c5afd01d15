"""`GET /v1/metrics/staffing`: the people quadrant's staffing model as a metric route (SPEC §7)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth import ReadAuth
from app.csv import CSV_RESPONSE
from app.db import MetricSessionDep
from app.errors import problem_responses
from app.metrics import staffing as staffing_metric
from app.metrics.respond import respond
from app.metrics.schemas import MetricAnswer

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get(
    "/staffing",
    response_model=MetricAnswer[staffing_metric.StaffingRow],
    responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)},
)
def get_staffing(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[staffing_metric.StaffingQuery, Query()],
    session: MetricSessionDep,
) -> Any:
    """CSMs and onboarding reps, customers and ARR per head, FTE and whole CSMs needed, as of each period end."""
    settings = request.app.state.settings
    answer = staffing_metric.staffing(session, query, ratios=settings.csm_ratios, default_tier=settings.default_tier)
    return respond(request, query, answer, "staffing.csv")
