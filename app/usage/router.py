"""Usage events over HTTP."""

from fastapi import APIRouter

from app.auth import IngestAuth
from app.db import WriteSessionDep
from app.errors import problem_responses
from app.usage import service
from app.usage.schemas import EventBatchResult, UsageEventBatchIn

router = APIRouter()


@router.post("/events", tags=["events"], responses=problem_responses(401, 403, 409, 413, 422))
def post_events(_auth: IngestAuth, body: UsageEventBatchIn, session: WriteSessionDep) -> EventBatchResult:
    """Ingest up to 10,000 usage events, all or nothing; re-posted ids are counted as duplicates."""
    result = service.ingest_usage_events(session, body.events)
    session.commit()
    return result
