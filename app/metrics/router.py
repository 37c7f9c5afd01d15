"""Metric routes: thin GETs over app.metrics services, JSON or CSV (SPEC §2, §4)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth import ReadAuth
from app.config import SettingsDep
from app.db import MetricSessionDep, utcnow
from app.metrics import renewals as renewal_metrics
from app.metrics import retention as retention_metric
from app.metrics import roi as roi_metric
from app.metrics.respond import METRIC_RESPONSES, respond
from app.metrics.schemas import (
    CostOfRenewalsQuery,
    CostOfRenewalsRow,
    MetricAnswer,
    MetricQuery,
    RenewalsRow,
    RetentionQuery,
    RetentionRow,
    RoiQuery,
    RoiRow,
)

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.get("/retention", response_model=MetricAnswer[RetentionRow], responses=METRIC_RESPONSES)
def get_retention(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[RetentionQuery, Query()],
    session: MetricSessionDep,
) -> Any:
    """NRR, GRR, logo churn and ARR growth of the customers paying at the start of each period."""
    return respond(request, query, retention_metric.retention(session, query), "retention.csv")


@router.get("/renewals", response_model=MetricAnswer[RenewalsRow], responses=METRIC_RESPONSES)
def get_renewals(
    _auth: ReadAuth, request: Request, query: Annotated[MetricQuery, Query()], session: MetricSessionDep
) -> Any:
    """Renewals due per period and group: counts, ARR, raw and net renewal rates (SPEC §4)."""
    answer = renewal_metrics.renewals(session, query)
    return respond(request, query, answer, "renewals.csv")


@router.get(
    "/cost-of-renewals",
    response_model=MetricAnswer[CostOfRenewalsRow],
    responses=METRIC_RESPONSES,
)
def get_cost_of_renewals(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[CostOfRenewalsQuery, Query()],
    session: MetricSessionDep,
    settings: SettingsDep,
) -> Any:
    """CS cost per $1K of ARR renewed, per calendar month, with its 12-month moving average and trend (SPEC §4)."""
    cs_teams = settings.cs_teams
    answer = renewal_metrics.cost_of_renewals(session, query, cs_teams=cs_teams)
    return respond(request, query, answer, "cost-of-renewals.csv")


@router.get("/roi", response_model=MetricAnswer[RoiRow], responses=METRIC_RESPONSES)
def get_roi(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[RoiQuery, Query()],
    session: MetricSessionDep,
    settings: SettingsDep,
) -> Any:
    """CS ROI of the interventions started in each period: outcomes, retained and expanded ARR, cost, health lift."""
    answer = roi_metric.roi(
        session,
        query,
        cs_teams=settings.cs_teams,
        default_hourly=settings.default_hourly_cost,
        min_controls=settings.min_controls,
        churn_defaults=settings.churn_defaults,
        today=utcnow().date(),
    )
    return respond(request, query, answer, "roi.csv")
