"""Operational routes: liveness, readiness (database reachable and migrated), Prometheus metrics."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.migrate import head_revision

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable or not migrated"}})
def readyz(request: Request) -> Any:
    """Readiness: the database answers and is at the latest migration."""
    head = head_revision()
    try:
        with request.app.state.engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "reason": "database unreachable or not migrated"}, 503)
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": "migration pending",
                "database_revision": current,
                "head_revision": head,
            },
            503,
        )
    return {"status": "ready", "revision": current}
