"""`GET /v1/metrics/staffing`: the people quadrant's staffing model as a metric route (SPEC §7)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth import ReadAuth
from app.config import SettingsDep
from app.csv import CSV_RESPONSE
from app.db import MetricSessionDep
from app.errors import problem_responses
from app.metrics import staffing as staffing_metric
from app.metrics.respond import respond
from app.metrics.schemas import MetricAnswer, StaffingQuery, StaffingRow

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get(
    "/staffing",
    response_model=MetricAnswer[StaffingRow],
    responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)},
)
def get_staffing(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[StaffingQuery, Query()],
    session: MetricSessionDep,
    settings: SettingsDep,
) -> Any:
    """CSMs and onboarding reps, customers and ARR per head, and CSMs needed per tier, as of each period end."""
    ratios = settings.csm_ratios
    return respond(request, query, staffing_metric.staffing(session, query, ratios=ratios), "staffing.csv")
