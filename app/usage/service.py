"""Usage event ingestion: idempotent, all-or-nothing, COPY-fast on PostgreSQL (SPEC §2 events, §3)."""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.customers import service as customers_service
from app.db import utcnow
from app.errors import Conflict
from app.usage.models import UsageEvent, to_micros
from app.usage.schemas import EventBatchResult, UsageEventIn, canonical_json

_LOOKUP_CHUNK = 5_000
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DateTime on SQLite
_COLUMNS = "id, customer_id, kind, occurred_at, value, properties, content_hash"
_STAGE = "usage_event_stage"


class EventRow(NamedTuple):
    """One event, ready to write: UTC time, value in millionths, properties as canonical JSON."""

    id: str
    customer_id: str
    kind: str
    occurred_at: datetime
    value: int
    properties: str
    content_hash: str


def to_row(item: UsageEventIn) -> EventRow:
    """The stored form of an event, with the digest of everything but its id."""
    occurred = item.occurred_at.astimezone(UTC)
    micros = to_micros(item.value)
    properties = canonical_json(item.properties)
    content = "\x1f".join((item.customer, item.kind, occurred.isoformat(), str(micros), properties))
    digest = hashlib.blake2b(content.encode(), digest_size=16).hexdigest()
    return EventRow(item.id, item.customer, item.kind, occurred, micros, properties, digest)


def _conflict(ids: Sequence[str]) -> Conflict:
    ordered = sorted(set(ids))
    return Conflict(
        f"{len(ordered)} event id(s) were already used for different content; nothing was written.",
        ids=ordered,
    )


def unique_rows(items: Sequence[UsageEventIn]) -> tuple[list[EventRow], int]:
    """The batch's distinct events and how many repeats it carried; Conflict when one id has two contents."""
    rows: dict[str, EventRow] = {}
    conflicts: list[str] = []
    for item in items:
        row = to_row(item)
        seen = rows.setdefault(row.id, row)
        if seen.content_hash != row.content_hash:
            conflicts.append(row.id)
    if conflicts:
        raise _conflict(conflicts)
    return list(rows.values()), len(items) - len(rows)


def ingest_usage_events(session: Session, items: Sequence[UsageEventIn]) -> EventBatchResult:
    """Store new events, count re-posted ones, refuse the batch (409) if an id arrives with new content."""
    rows, repeats = unique_rows(items)
    if session.get_bind().dialect.name == "postgresql":
        accepted = _ingest_postgresql(session, rows)
    else:
        accepted = _ingest_sqlite(session, rows)
    return EventBatchResult(accepted=accepted, duplicates=repeats + len(rows) - accepted)


def _stored_hashes(session: Session, ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        stmt = select(UsageEvent.id, UsageEvent.content_hash).where(UsageEvent.id.in_(chunk))
        found.update({row.id: row.content_hash for row in session.execute(stmt)})
    return found


def _ingest_sqlite(session: Session, rows: list[EventRow]) -> int:
    """Look up the batch's ids, then one executemany of the new rows (SQLite has one writer anyway)."""
    stored = _stored_hashes(session, [r.id for r in rows])
    conflicts = [r.id for r in rows if stored.get(r.id, r.content_hash) != r.content_hash]
    if conflicts:
        raise _conflict(conflicts)
    new = [r for r in rows if r.id not in stored]
    if not new:
        return 0
    customers_service.ensure_customers(session, [r.customer_id for r in new])
    received = utcnow().replace(tzinfo=None).strftime(_SQLITE_DATETIME)
    # The driver's executemany, bypassing per-row type processing: values are already in storage form
    # (UTC text in SQLAlchemy's DateTime format, integer millionths, JSON text), as UsageEvent reads them.
    params = [
        (r.id, r.customer_id, r.kind, r.occurred_at.replace(tzinfo=None).strftime(_SQLITE_DATETIME), r.value,
         r.properties, r.content_hash, received)
        for r in new
    ]  # fmt: skip
    session.connection().exec_driver_sql(
        f"INSERT INTO usage_event ({_COLUMNS}, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        params,
    )
    return len(new)


def _ingest_postgresql(session: Session, rows: list[EventRow]) -> int:
    """Binary COPY into a temp staging table, then one INSERT … ON CONFLICT DO NOTHING and a hash check."""
    raw: Any = session.connection().connection.driver_connection
    now = utcnow()
    with raw.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (id text, customer_id text, kind text, occurred_at timestamptz,"
            " value bigint, properties text, content_hash text) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY {_STAGE} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "text", "text", "timestamptz", "int8", "text", "text"])
            for row in rows:
                copy.write_row(row)
        # Stub customers first (SPEC §2): the foreign key needs them, and ON CONFLICT makes it one statement.
        cur.execute(
            f"INSERT INTO customer (id, created_at, updated_at) SELECT DISTINCT customer_id, %s, %s FROM {_STAGE}"  # noqa: S608
            " ON CONFLICT (id) DO NOTHING",
            (now, now),
        )
        cur.execute(
            f"INSERT INTO usage_event ({_COLUMNS}, received_at) SELECT id, customer_id, kind, occurred_at, value,"  # noqa: S608
            f" properties::jsonb, content_hash, %s FROM {_STAGE} ON CONFLICT (id) DO NOTHING",
            (now,),
        )
        accepted: int = cur.rowcount
        conflicts: list[str] = []
        if accepted < len(rows):
            # Rows not inserted already existed (possibly committed a moment ago by a concurrent batch): a
            # different digest means the same id was used for different content.
            cur.execute(
                f"SELECT s.id FROM {_STAGE} s JOIN usage_event e ON e.id = s.id"  # noqa: S608
                " WHERE e.content_hash <> s.content_hash"
            )
            conflicts = [r[0] for r in cur.fetchall()]
        # Empty the stage for the next batch in this transaction; on a 409 the rollback empties it.
        cur.execute(f"DELETE FROM {_STAGE}")  # noqa: S608
    if conflicts:
        raise _conflict(conflicts)
    return accepted
