"""`GET /v1/metrics/unit-economics`: a thin GET over app.metrics.unit_economics, JSON or CSV (SPEC §4)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth import ReadAuth
from app.config import SettingsDep
from app.db import MetricSessionDep
from app.metrics import unit_economics as unit_economics_metric
from app.metrics.respond import METRIC_RESPONSES, respond
from app.metrics.schemas import MetricAnswer, MetricQuery, UnitEconomicsRow

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get(
    "/unit-economics",
    response_model=MetricAnswer[UnitEconomicsRow],
    responses=METRIC_RESPONSES,
)
def get_unit_economics(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[MetricQuery, Query()],
    session: MetricSessionDep,
    settings: SettingsDep,
) -> Any:
    """ARPA, CAC, CEC, CRC, mean monthly logo churn, customer lifetime and CLV per period and group (SPEC §4)."""
    margin = settings.gross_margin
    answer = unit_economics_metric.unit_economics(session, query, gross_margin=margin)
    return respond(request, query, answer, "unit-economics.csv")
