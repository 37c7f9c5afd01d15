"""Scorecard, targets and month close over HTTP (SPEC §7): thin routes over the service."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from app.audit import service as audit
from app.auth import AdminAuth, ReadAuth, WriteAuth
from app.csv import CSV_MEDIA_TYPE, CSV_RESPONSE, csv_response, csv_text, wants_csv
from app.db import MetricSessionDep, SessionDep, WriteSessionDep
from app.errors import problem_responses, worded
from app.scorecard import service
from app.scorecard.figures import METRICS
from app.scorecard.schemas import (
    MONTH_PATTERN,
    ScorecardOut,
    ScorecardQuery,
    TargetIn,
    TargetList,
    TargetListQuery,
    TargetOut,
)

router = APIRouter()
CSV_COLUMNS = ["quadrant", "metric", "value", "previous", "change", "target", "status"]
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="A calendar month, YYYY-MM.", examples=["2026-02"])]
MetricPath = Annotated[
    str,
    Path(
        max_length=64,
        pattern=worded(r"^[a-z0-9_]+$", "a scorecard metric name is lowercase letters, digits and _, e.g. nrr"),
        description="A scorecard metric name, e.g. `nrr`: one of the scorecard's entries (any other is a 422).",
        examples=["nrr"],
        # The names the service accepts (service._check_metric), so the document lists them rather than `string`.
        json_schema_extra={"enum": sorted(METRICS)},
    ),
]


def _settings(request: Request) -> dict[str, Any]:
    return {"settings": request.app.state.settings}


def _csv(card: ScorecardOut) -> Response:
    """One line per entry, quadrant first, in the column order SPEC §7 fixes."""
    rows = [
        {"quadrant": quadrant, **entry.model_dump(mode="python")}
        for quadrant, entries in card.quadrants
        for entry in entries
    ]
    headers = {"Content-Disposition": f'attachment; filename="scorecard-{card.month}.csv"'}
    return Response(csv_text(rows, CSV_COLUMNS), media_type=CSV_MEDIA_TYPE, headers=headers)


@router.get(
    "/scorecards/{month}",
    response_model=ScorecardOut,
    tags=["scorecard"],
    responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)},
)
def get_scorecard(
    _auth: ReadAuth,
    request: Request,
    month: MonthPath,
    query: Annotated[ScorecardQuery, Query()],
    session: MetricSessionDep,
) -> Any:
    """The month's balanced scorecard (frozen figures and restatements once closed), as JSON or CSV."""
    card = service.get_scorecard(session, month, **_settings(request))
    return _csv(card) if wants_csv(request, query.format) else card


@router.post(
    "/scorecards/{month}/close",
    response_model=ScorecardOut,
    tags=["scorecard"],
    responses=problem_responses(401, 403, 409, 422),
)
def close_scorecard(
    _auth: AdminAuth, request: Request, month: MonthPath, session: WriteSessionDep, actor: audit.ActorDep
) -> Any:
    """Freeze an ended month's scorecard: later reads return these figures and list restatements (409 if closed)."""
    card = service.close_month(session, month, **_settings(request))
    audit.record(session, actor, "scorecard.close", f"scorecard/{month}", after=card)
    session.commit()
    return card


@router.put(
    "/targets/{metric}",
    response_model=TargetOut,
    tags=["scorecard"],
    responses={201: {"model": TargetOut, "description": "Created"}, **problem_responses(401, 403, 422)},
)
def put_target(
    _auth: WriteAuth,
    metric: MetricPath,
    body: TargetIn,
    session: WriteSessionDep,
    response: Response,
    actor: audit.ActorDep,
) -> Any:
    """Set a scorecard metric's target and direction (201 when created)."""
    before = service.get_target(session, metric)
    target, created = service.put_target(session, metric, body)
    audit.record(session, actor, "target.put", f"target/{metric}", before=before, after=target)
    session.commit()
    response.status_code = 201 if created else 200
    return target


@router.get(
    "/targets",
    response_model=TargetList,
    tags=["scorecard"],
    responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)},
)
def list_targets(
    _auth: ReadAuth, request: Request, query: Annotated[TargetListQuery, Query()], session: SessionDep
) -> Any:
    """Every scorecard target (JSON or CSV)."""
    targets = service.list_targets(session, currency=request.app.state.settings.currency)
    if wants_csv(request, query.format):
        return csv_response(targets.items, TargetOut, filename="targets.csv")
    return targets


@router.delete(
    "/targets/{metric}", status_code=204, tags=["scorecard"], responses=problem_responses(401, 403, 404, 422)
)
def delete_target(_auth: WriteAuth, metric: MetricPath, session: WriteSessionDep, actor: audit.ActorDep) -> Response:
    """Remove a scorecard metric's target (its status becomes null)."""
    before = service.get_target(session, metric)
    service.delete_target(session, metric)
    audit.record(session, actor, "target.delete", f"target/{metric}", before=before)
    session.commit()
    return Response(status_code=204)
