"""Batch machinery every batch route reuses: the item limit, set-based upserts, stub customers.

A batch is all-or-nothing (SPEC §2): FastAPI validates every item before the route runs (one bad item is a
422 listing them all), the service writes inside the request's one transaction, and the route commits once.
"""

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar, cast

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError
from sqlalchemy import CursorResult, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import utcnow
from app.errors import BATCH_TOO_LARGE

T = TypeVar("T")
MAX_BATCH_ITEMS = 10_000
# Ids per `IN (...)` lookup: well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters.
LOOKUP_CHUNK = 5_000
# The item limit of the app serving the current request (`Settings.max_batch_items`): set by
# `BatchLimitMiddleware`, which `create_app` installs with its settings, because a pydantic validator cannot
# see the request. Outside a request (the CLI, tests of a service) the documented default applies.
_max_items: ContextVar[int] = ContextVar("csroi_max_batch_items", default=MAX_BATCH_ITEMS)


class BatchLimitMiddleware:
    """Makes the app's `max_batch_items` the limit `BatchItems` counts against while it serves a request."""

    def __init__(self, app: ASGIApp, max_items: int) -> None:
        self.app = app
        self.max_items = max_items

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _max_items.set(self.max_items)
        try:
            await self.app(scope, receive, send)
        finally:
            _max_items.reset(token)


class UpsertResult(BaseModel):
    """What a record batch did: `updated` counts every item whose id already existed."""

    created: int = Field(description="Items whose id was new: rows inserted.")
    updated: int = Field(description="Items whose id already existed (rows replaced or patched), repeats included.")


class EventCounts(BaseModel):
    """The counts of an immutable-event batch (revenue or usage events); each feature names its own result.

    Two `EventBatchResult` subclasses, not one class: the committed OpenAPI document names both components.
    """

    accepted: int = Field(description="New events stored by this batch.")
    duplicates: int = Field(
        description="Events whose id was already stored with the same content: recognised and skipped (a safe retry)."
    )


def _limit_items(value: Any) -> Any:
    # Counted before any item is validated, so 10,001 good items are a 413 rather than a 422.
    limit = _max_items.get()
    if isinstance(value, list) and len(value) > limit:
        raise PydanticCustomError(
            BATCH_TOO_LARGE,
            "A batch holds at most {limit} items; this one has {count}. Split it.",
            {"limit": limit, "count": len(value)},
        )
    return value


# `BatchItems[Item]`: a list of at most 10,000 items, counted before any item is validated (413 beyond).
BatchItems = Annotated[
    list[T],
    BeforeValidator(_limit_items),
    Field(min_length=1, json_schema_extra={"maxItems": MAX_BATCH_ITEMS}),
]


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """`INSERT` with ON CONFLICT support for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def existing_ids(session: Session, table: Table, ids: Sequence[str]) -> set[str]:
    """Which of `ids` already have a row in `table`."""
    found: set[str] = set()
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[start : start + LOOKUP_CHUNK]
        found.update(session.scalars(select(table.c.id).where(table.c.id.in_(chunk))))
    return found


def insert_new(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose id is free (`ON CONFLICT (id) DO NOTHING`); how many this statement inserted.

    The count is the database's, so it stays exact when a concurrent transaction inserts the same ids: on
    PostgreSQL the statement waits for it, then skips what it committed. One executemany with the driver's
    summed rowcount, not `RETURNING`: that renders multi-row VALUES that psycopg parses in Python, 3x slower.
    The rows are written in the order given, which callers choose (id order: no deadlock between two batches).
    """
    if not rows:
        return 0
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=[table.c.id])
    result = session.execute(stmt, list(rows), execution_options={"preserve_rowcount": True})
    return cast(CursorResult[Any], result).rowcount


def _by_columns(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by the columns they carry (one executemany each), in a stable order: columns, then id."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return [groups[columns] for columns in sorted(groups)]


def upsert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> UpsertResult:
    """Insert or update rows keyed by `id`; only the columns each row carries are written.

    Within one batch the last item with an id wins, as a CRM correcting itself expects. Rows are grouped by
    the columns they carry so an item that omits a field keeps the stored value instead of nulling it, and
    written in id order. `created` is what the database inserted, so of two batches racing to create one id
    exactly one counts it (SPEC §13); when a racing batch created some of the new ids first, which ones is not
    known, so every new id of this batch is then written again by the update (with the values just inserted).
    """
    now = utcnow()
    latest = [{**row, "created_at": now, "updated_at": now} for row in {row["id"]: row for row in rows}.values()]
    before = existing_ids(session, table, [row["id"] for row in latest])  # known ids skip the insert
    new = [row for row in latest if row["id"] not in before]
    created = sum(insert_new(session, table, group) for group in _by_columns(new))
    known = latest if created < len(new) else [row for row in latest if row["id"] in before]
    for group in _by_columns(known):
        stmt = dialect_insert(session, table)
        updates = {c: stmt.excluded[c] for c in group[0] if c not in ("id", "created_at")}
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.id], set_=updates)
        session.execute(stmt, group)
    return UpsertResult(created=created, updated=len(rows) - created)


def ensure_rows(session: Session, table: Table, ids: Sequence[str]) -> int:
    """Create bare rows (only an id) for ids that do not exist yet, in id order; returns how many this created."""
    found = existing_ids(session, table, ids)  # once, not per id: that made a 5,000-id batch take 40 s
    missing = sorted(set(ids) - found)
    now = utcnow()
    return insert_new(session, table, [{"id": i, "created_at": now, "updated_at": now} for i in missing])
