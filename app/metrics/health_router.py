"""Health and risk metric routes: thin GETs over app.metrics.health, JSON or CSV (SPEC §6)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth import ReadAuth
from app.config import SettingsDep
from app.db import MetricSessionDep
from app.metrics import health as health_metrics
from app.metrics.respond import METRIC_RESPONSES, respond
from app.metrics.schemas import HealthRow, MetricAnswer, MetricQuery, SupportRow, VocRow

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get("/health", response_model=MetricAnswer[HealthRow], responses=METRIC_RESPONSES)
def get_health_metric(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[MetricQuery, Query()],
    session: MetricSessionDep,
    settings: SettingsDep,
) -> Any:
    """Paying customers per health band, their ARR, average score and revenue at risk at each period end."""
    defaults = settings.churn_defaults
    return respond(request, query, health_metrics.health(session, query, defaults=defaults), "health.csv")


@router.get("/voc", response_model=MetricAnswer[VocRow], responses=METRIC_RESPONSES)
def get_voc_metric(
    _auth: ReadAuth, request: Request, query: Annotated[MetricQuery, Query()], session: MetricSessionDep
) -> Any:
    """Survey responses, NPS, CSAT and CES per period and group (SPEC §6)."""
    return respond(request, query, health_metrics.voc_metric(session, query), "voc.csv")


@router.get("/support", response_model=MetricAnswer[SupportRow], responses=METRIC_RESPONSES)
def get_support_metric(
    _auth: ReadAuth, request: Request, query: Annotated[MetricQuery, Query()], session: MetricSessionDep
) -> Any:
    """Tickets opened, first response and resolution times and escalation rate per period and group (SPEC §6)."""
    return respond(request, query, health_metrics.support_metric(session, query), "support.csv")
