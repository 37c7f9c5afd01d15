"""Usage events over HTTP."""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.openapi.utils import get_openapi
from pydantic import WithJsonSchema

from app.auth import IngestAuth
from app.config import SettingsDep
from app.db import WriteSessionDep, commit_retrying
from app.errors import problem_responses
from app.usage import service, store
from app.usage.schemas import DailyBatchResult, EventBatchResult, UsageDailyBatchIn, UsageEventBatchIn

router = APIRouter()

# The body is documented as `UsageEventBatchIn` (its schema is added to the OpenAPI components in app.main) but
# arrives as parsed JSON: `service.parse_events` validates it without building 10,000 models, and falls back to
# the model itself for anything it refuses, so 422 and 413 answers are the model's.
EventBatchBody = Annotated[Any, Body(), WithJsonSchema({"$ref": "#/components/schemas/UsageEventBatchIn"})]


@router.post("/events", tags=["events"], responses=problem_responses(401, 403, 409, 413, 422))
def post_events(
    _auth: IngestAuth, body: EventBatchBody, session: WriteSessionDep, settings: SettingsDep
) -> EventBatchResult:
    """Ingest up to 10,000 usage events, all or nothing; re-posted ids are counted as duplicates, events older than
    the retention (CSROI_EVENTS_RETENTION_DAYS) as expired."""
    rows = service.parse_events(body, max_items=settings.max_batch_items)
    return commit_retrying(session, store.ingest_events, rows, retention_days=settings.events_retention_days)


@router.post("/usage/daily", tags=["events"], responses=problem_responses(401, 403, 409, 413, 422))
def post_usage_daily(_auth: IngestAuth, body: UsageDailyBatchIn, session: WriteSessionDep) -> DailyBatchResult:
    """Upsert up to 10,000 daily usage aggregates by (customer, kind, day), all or nothing (a warehouse sync)."""
    return commit_retrying(session, store.ingest_usage_daily, body.rows)


def usage_batch_schemas() -> dict[str, Any]:
    """The `UsageEventBatchIn` and `UsageEventIn` component schemas, exactly as FastAPI writes a model body's."""
    probe = APIRouter()

    @probe.post("/")
    def _documented(body: UsageEventBatchIn) -> None: ...

    schemas: dict[str, Any] = get_openapi(title="", version="", routes=probe.routes)["components"]["schemas"]
    return {name: schemas[name] for name in ("UsageEventBatchIn", "UsageEventIn")}
