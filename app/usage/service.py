"""Usage event ingestion: idempotent, all-or-nothing, COPY-fast on PostgreSQL (SPEC §2 events, §3)."""

import functools
import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, delete, func, select, text
from sqlalchemy.orm import Session

from app import records
from app.batch import LOOKUP_CHUNK, MAX_BATCH_ITEMS
from app.db import utcnow
from app.errors import Conflict, InvalidInput
from app.models import UsageEvent
from app.types import VALUE_SCALE, UsageComponent, to_micros
from app.usage import partitions, rollup
from app.usage.raw_reads import windowed_raw as windowed_raw  # noqa: PLC0414 - re-exported for health
from app.usage.schemas import (
    FAST_EVENTS,
    SURVEY_KIND,
    EventBatchResult,
    FastEvent,
    UsageEventBatchIn,
    UsageEventIn,
    canonical_json,
    parse_value,
    survey_problem,
)

if TYPE_CHECKING:
    from app.usage.store import UsageStore

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


def make_row(  # noqa: PLR0917 - the row's own fields, in its order
    event_id: str, customer: str, kind: str, occurred: datetime, micros: int, properties: str
) -> EventRow:
    """The row with the digest of everything but its id (stored digests depend on this exact form)."""
    content = "\x1f".join((customer, kind, occurred.isoformat(), str(micros), properties))
    digest = hashlib.blake2b(content.encode(), digest_size=16).hexdigest()
    return EventRow(event_id, customer, kind, occurred, micros, properties, digest)


def to_row(item: UsageEventIn) -> EventRow:
    """The stored form of a validated event."""
    occurred = item.occurred_at.astimezone(UTC)
    return make_row(item.id, item.customer, item.kind, occurred, to_micros(item.value), canonical_json(item.properties))


_DEFAULT_MICROS = to_micros(Decimal(1))
_MAX_INT_VALUE = 9 * 10**12  # `parse_value`'s bound: an integer below it in size needs no Decimal


# `canonical_json` of flat properties, by content: a feed repeats a few shapes ({"feature": "export"}) thousands of
# times, and json.dumps with sort_keys builds an encoder per call (2.7 of 5-6 µs here). The key holds each value's
# type beside it (1, 1.0 and True are equal in Python) and takes only str, int, bool and None values, whose JSON is
# a function of (type, value), where a float's is not (0.0 == -0.0). Keys in another order are another entry with
# the same text. Bounded: the least recently used shapes are dropped.
_CACHEABLE = frozenset({str, int, bool, type(None)})


@functools.lru_cache(maxsize=4096)
def _flat_properties_text(key: tuple[tuple[str, type, Any], ...]) -> str:
    return canonical_json({name: value for name, _, value in key})


def _properties_text(properties: dict[str, Any]) -> str:
    """`canonical_json(properties)`, from the cache when the same flat properties came before."""
    parts = []
    for name, value in properties.items():
        kind = type(value)
        if kind not in _CACHEABLE:
            return canonical_json(properties)
        parts.append((name, kind, value))
    return _flat_properties_text(tuple(parts))


def _fast_row(event: FastEvent) -> EventRow:
    """`to_row` of the model the event would validate into; ValueError/OverflowError where the model refuses."""
    value = event.get("value", 1)
    if type(value) is int and -_MAX_INT_VALUE < value < _MAX_INT_VALUE:
        micros = value * VALUE_SCALE
    else:
        micros = to_micros(parse_value(value))  # the model's own check; ValueError as a 422 would
    properties = event.get("properties")
    if event["kind"] == SURVEY_KIND and survey_problem(event["kind"], properties, Decimal(micros) / VALUE_SCALE):
        raise ValueError("a survey answer outside its scale")  # the model names the item and the scale
    text = _properties_text(properties) if properties else "{}"
    if "\\u0000" in text or "\x00" in text:
        raise ValueError("properties must not contain NUL characters")
    occurred = event["occurred_at"].astimezone(UTC)
    return make_row(event["id"], event["customer"], event["kind"], occurred, micros, text)


def _iso_times(events: list[Any]) -> bool:
    """Whether every `occurred_at` is text in ISO form (YYYY-…): else the model must judge it, since FastEvent reads
    0 or "1700000000" as a Unix timestamp and the model refuses them. Cheaper than a validator per event."""
    for event in events:
        occurred = event.get("occurred_at") if isinstance(event, dict) else None
        if type(occurred) is not str or occurred[4:5] != "-":
            return False
    return True


def parse_events(body: Any, *, max_items: int = MAX_BATCH_ITEMS) -> list[EventRow]:
    """A `POST /v1/events` body (as parsed JSON) to rows; `InvalidInput` with exactly the model's errors.

    Fast path: pydantic-core validates plain dicts (no models) and one loop builds the rows. Anything it
    refuses, however it refuses, is validated again through `UsageEventBatchIn`, which either raises the
    documented 422/413 errors (item indexes and field paths included) or accepts, and then its items are used.
    """
    if isinstance(body, dict) and len(body) == 1 and isinstance(events := body.get("events"), list):
        if 0 < len(events) <= max_items and _iso_times(events):
            try:
                return [_fast_row(event) for event in FAST_EVENTS.validate_python(events)]
            except (ValidationError, ValueError, ArithmeticError):
                pass
    try:
        batch = UsageEventBatchIn.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise InvalidInput([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    return [to_row(item) for item in batch.events]


def conflict(ids: Sequence[str]) -> Conflict:
    ordered = sorted(set(ids))
    return Conflict(
        f"{len(ordered)} event id(s) were already used for different content; nothing was written.",
        ids=ordered,
    )


def unique_rows(rows: Sequence[EventRow]) -> tuple[list[EventRow], int]:
    """The batch's distinct events and how many repeats it carried; Conflict when one id has two contents."""
    distinct: dict[str, EventRow] = {}
    conflicts: list[str] = []
    for row in rows:
        seen = distinct.setdefault(row.id, row)
        if seen.content_hash != row.content_hash:
            conflicts.append(row.id)
    if conflicts:
        raise conflict(conflicts)
    return list(distinct.values()), len(rows) - len(distinct)


def retention_horizon(now: datetime, retention_days: int | None) -> datetime | None:
    """The instant before which events are expired (CSROI_EVENTS_RETENTION_DAYS); None keeps every event."""
    return None if retention_days is None else now - timedelta(days=retention_days)


def ingest_usage_events(
    session: Session,
    items: Sequence[UsageEventIn | EventRow],
    *,
    retention_days: int | None = None,
    now: datetime | None = None,
) -> EventBatchResult:
    """Store new events, count re-posted ones, refuse the batch (409) if an id arrives with new content.

    With a retention, events older than its horizon are counted as `expired` and neither stored nor compared with
    stored ones: their month may already be dropped, and storing one again would count it twice in the rollup.
    """
    rows, repeats = unique_rows([i if isinstance(i, EventRow) else to_row(i) for i in items])
    horizon = retention_horizon(now or utcnow(), retention_days)
    expired = 0
    if horizon is not None:
        kept = [r for r in rows if r.occurred_at >= horizon]
        expired, rows = len(rows) - len(kept), kept
    if not rows:
        accepted = 0
    elif session.get_bind().dialect.name == "postgresql":
        accepted = _ingest_postgresql(session, rows)  # claims its pairs from the stage
    else:
        rollup.claim(session, {(r.customer_id, r.kind) for r in rows}, source="raw")  # 409 on a daily-fed pair
        accepted = _ingest_sqlite(session, rows)
    return EventBatchResult(accepted=accepted, duplicates=repeats + len(rows) - accepted, expired=expired)


def _stored_hashes(session: Session, ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        stmt = select(UsageEvent.id, UsageEvent.content_hash).where(UsageEvent.id.in_(chunk))
        found.update({row.id: row.content_hash for row in session.execute(stmt)})
    return found


def _ingest_sqlite(session: Session, rows: list[EventRow]) -> int:
    """Look up the batch's ids, then one executemany of the new rows (SQLite has one writer anyway)."""
    stored = _stored_hashes(session, [r.id for r in rows])
    conflicts = [r.id for r in rows if stored.get(r.id, r.content_hash) != r.content_hash]
    if conflicts:
        raise conflict(conflicts)
    new = [r for r in rows if r.id not in stored]
    if not new:
        return 0
    records.ensure_customers(session, [r.customer_id for r in new])
    before = rollup.last_rowid(session)
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
    rollup.add_sqlite(session, before)  # the daily rollup of exactly these rows, in this transaction
    return len(new)


# The event insert of a PostgreSQL batch: ids new to the directory (app/usage/partitions.py) are claimed in id order
# (two batches naming the same new ids lock them in the same order instead of deadlocking, issue 10; a racing claim
# waits for the other batch and then skips), and exactly the claimed rows go into usage_event (a plain insert into
# its month's partition: nothing there can conflict any more).
# Both are parts of the rollup's one statement (`rollup.insert_and_add_pg`), which also upserts the daily rows of
# exactly the inserted events: PostgreSQL takes data-modifying CTEs at the top level only, so the claim is a
# sibling CTE of the insert.
_CLAIM_IDS = (
    f"claimed AS (INSERT INTO {partitions.DIRECTORY} (id, content_hash)"  # noqa: S608 - constant names
    f" SELECT id, content_hash FROM {_STAGE} ORDER BY id ON CONFLICT (id) DO NOTHING RETURNING id)"
)
_INSERT_CLAIMED = (
    f"INSERT INTO usage_event ({_COLUMNS}, received_at)"  # noqa: S608 - constant names
    f" SELECT s.id, s.customer_id, s.kind, s.occurred_at, s.value, s.properties::jsonb, s.content_hash, %(now)s"
    f" FROM {_STAGE} s JOIN claimed USING (id)"
)


def _ingest_postgresql(session: Session, rows: list[EventRow]) -> int:
    """Binary COPY into a temp staging table; the months' partitions; the event insert with its daily rollup; a hash
    check; stub customers."""
    specs = sorted(rollup.kept_for_ingest(session))  # the facets to roll up into, locked against a model PUT
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
        try:
            rollup.claim_staged(cur, _STAGE, source="raw")  # 409 on a daily-fed pair
        except Conflict:
            cur.execute(f"DELETE FROM {_STAGE}")  # noqa: S608 - empty for a caller that goes on
            raise
        partitions.ensure_months(cur, {partitions.month_of(r.occurred_at) for r in rows})
        # Events before stub customers: the event insert takes usage_event for writing, so an erasure (which first
        # locks usage_event in SHARE mode, `erase_events`) runs wholly before or wholly after this batch, and a
        # customer it deletes never keeps events (no foreign key says so: the insert ran 1.28-1.35x as fast without).
        accepted = rollup.insert_and_add_pg(cur, specs, _INSERT_CLAIMED, {"now": now}, before=[_CLAIM_IDS])
        conflicts: list[str] = []
        if accepted < len(rows):
            # Ids not claimed were already stored (possibly committed a moment ago by a concurrent batch), in any
            # month: a different digest (it covers occurred_at) means the same id was used for different content.
            cur.execute(
                f"SELECT s.id FROM {_STAGE} s JOIN {partitions.DIRECTORY} d ON d.id = s.id"  # noqa: S608
                " WHERE d.content_hash <> s.content_hash"
            )
            conflicts = [r[0] for r in cur.fetchall()]
        if not conflicts:
            # Stub customers (SPEC §2) in id order, so concurrent batches lock new ones in the same order.
            # Customers already stored are skipped by an anti-join (a hash join against the customer table is
            # cheaper than a conflicting insert's probe per row); ON CONFLICT covers one inserted meanwhile.
            cur.execute(
                f"INSERT INTO customer (id, created_at, updated_at) SELECT s.customer_id, %s, %s"  # noqa: S608
                f" FROM (SELECT DISTINCT customer_id FROM {_STAGE}) s WHERE NOT EXISTS"
                " (SELECT 1 FROM customer c WHERE c.id = s.customer_id) ORDER BY 1 ON CONFLICT (id) DO NOTHING",
                (now, now),
            )
        # Empty the stage for the next batch in this transaction; on a 409 the rollback empties it.
        cur.execute(f"DELETE FROM {_STAGE}")  # noqa: S608
    if conflicts:
        raise conflict(conflicts)
    return accepted


# --- What other features call: the configured usage store, and the rollup's upkeep ------------------------------
# (app/usage/store.py imports this module for raw ingest, so the store is imported when first asked for.)


def usage_store() -> "UsageStore":
    """The configured usage store (`CSROI_USAGE_STORE`): health's usage reads go through it (SPEC §14)."""
    from app.usage.store import get_store  # noqa: PLC0415 - store imports this module

    return get_store()


def keep_facets(session: Session, components: Sequence[UsageComponent]) -> int:
    """Keep (and backfill now) what a health model version being stored reads from the daily rollup."""
    return rollup.keep(session, components)


def erase_usage_rollup(session: Session, customer_id: str) -> int:
    """Delete a customer's daily usage rollup (erasure, SPEC §11); rows deleted."""
    return usage_store().erase(session, customer_id)


def rebuild_rollup(
    session: Session, customers: Sequence[str] | None, *, components: Iterable[UsageComponent] = ()
) -> int:
    """`csroi usage rebuild-rollup`: the raw-fed rollup recomputed from raw events; usage_daily rows written."""
    return rollup.rebuild(session, customers, components=components)


def erase_events(session: Session, customer_id: str) -> int:
    """Delete a customer's usage events (erasure, SPEC §11); how many.

    On PostgreSQL, first lock usage_event in SHARE mode: an ingest in flight (which holds it for writing from
    its event insert on) commits first and its events are deleted here; one starting now waits, then makes a
    new stub customer for its events. Without the foreign key, this is what keeps events from outliving their
    customer. The directory forgets the ids, as if they had never been posted.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE usage_event IN SHARE MODE"))
        session.execute(
            text(
                f"DELETE FROM {partitions.DIRECTORY} WHERE id IN"  # noqa: S608 - a constant name
                " (SELECT id FROM usage_event WHERE customer_id = :customer)"
            ),
            {"customer": customer_id},
        )
    result = session.execute(delete(UsageEvent).where(UsageEvent.customer_id == customer_id))
    return int(cast(CursorResult[Any], result).rowcount)


class Expiry(NamedTuple):
    """What one retention pass did."""

    horizon: datetime
    months: list[str]  # the months dropped, YYYY-MM
    events: int


def expire_events(session: Session, *, now: datetime, retention_days: int) -> Expiry:
    """Delete the raw events of every UTC month that ended before the horizon (`retention_days` before `now`).

    Whole months on both databases, so both keep the same rows: PostgreSQL drops each expired month's partition
    (and its ids in the directory), SQLite deletes the rows. Events after a month's start but before the horizon
    stay until their whole month is expired. The rollup (health's source) keeps every day.
    """
    horizon = now - timedelta(days=retention_days)
    first_kept = partitions.month_of(horizon)
    if session.get_bind().dialect.name != "postgresql":
        start = datetime(first_kept[0], first_kept[1], 1, tzinfo=UTC)
        # Stored as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff': its first seven characters are the month.
        months = select(func.substr(UsageEvent.occurred_at, 1, 7)).where(UsageEvent.occurred_at < start).distinct()
        gone_months = sorted(session.scalars(months))
        result = session.execute(delete(UsageEvent).where(UsageEvent.occurred_at < start))
        return Expiry(horizon, gone_months, int(cast(CursorResult[Any], result).rowcount))
    raw: Any = session.connection().connection.driver_connection
    dropped, events = [], 0
    with raw.cursor() as cur:
        # Dropping a partition takes usage_event exclusively: rather fail (and retry at the next slot) than queue
        # ingest and health reads behind a long transaction.
        cur.execute("SET LOCAL lock_timeout = '5s'")
        for month in partitions.partitions(cur):
            if month < first_kept:
                events += partitions.drop_month(cur, month)
                dropped.append(f"{month[0]:04d}-{month[1]:02d}")
    return Expiry(horizon, dropped, events)
