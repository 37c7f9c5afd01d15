"""`GET /v1/metrics/staffing`: the people quadrant's staffing model as a metric route (SPEC §7)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth import ReadAuth
from app.config import SettingsDep
from app.db import MetricSessionDep
from app.metrics import staffing as staffing_metric
from app.metrics.respond import METRIC_RESPONSES, respond
from app.metrics.schemas import MetricAnswer, StaffingQuery, StaffingRow

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get(
    "/staffing",
    response_model=MetricAnswer[StaffingRow],
    responses=METRIC_RESPONSES,
)
def get_staffing(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[StaffingQuery, Query()],
    session: MetricSessionDep,
    settings: SettingsDep,
) -> Any:
    """CSMs and onboarding reps, customers and ARR per head, FTE and whole CSMs needed, as of each period end."""
    answer = staffing_metric.staffing(session, query, ratios=settings.csm_ratios, default_tier=settings.default_tier)
    return respond(request, query, answer, "staffing.csv")
