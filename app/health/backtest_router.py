"""The health backtest and the suggested model over HTTP (SPEC §10)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.auth import AdminAuth, ReadAuth
from app.config import SettingsDep
from app.csv import CSV_MEDIA_TYPE, CSV_RESPONSE, csv_text, wants_csv
from app.db import MetricSessionDep, utcnow
from app.errors import problem_responses
from app.health import backtest, suggest
from app.health.backtest_schemas import CALIBRATION_COLUMNS, BacktestOut, BacktestQuery, BacktestRange, SuggestOut

router = APIRouter(prefix="/health/backtest", tags=["health"])


@router.get("", response_model=BacktestOut, responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)})
def get_backtest(
    _auth: ReadAuth,
    request: Request,
    query: Annotated[BacktestQuery, Query()],
    session: MetricSessionDep,
    settings: SettingsDep,
) -> Any:
    """How well health scores foretold churn over the range: AUC, Brier score, lift, calibration (JSON or CSV)."""
    answer = backtest.get_backtest(
        session,
        start=query.start,
        end=query.end,
        horizon_days=query.horizon_days,
        model_version=query.model_version,
        today=utcnow().date(),
        churn_defaults=settings.churn_defaults,
    )
    if not wants_csv(request, query.format):
        return answer
    text = csv_text(answer.calibration_rows(), CALIBRATION_COLUMNS)
    headers = {"Content-Disposition": 'attachment; filename="health-backtest.csv"'}
    return Response(text, media_type=CSV_MEDIA_TYPE, headers=headers)


@router.post("/suggest", responses=problem_responses(401, 403, 422))
def post_suggest(
    _auth: AdminAuth, query: Annotated[BacktestRange, Query()], session: MetricSessionDep, settings: SettingsDep
) -> SuggestOut:
    """Propose model weights and bands learned from the history (time-split logistic regression); stores nothing."""
    return suggest.suggest(session, query, today=utcnow().date(), min_churns=settings.churn_min_churns)
