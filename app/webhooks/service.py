"""The outbox (SPEC §11): other features write webhook events here, in the transaction of the change.

An event is written only when some subscription wants its type, so a book without subscriptions pays one indexed
read of the (tiny) `webhook_topic` table per write that could emit. Events are rows of `webhook_event`; the worker
fans them out to the subscriptions and delivers them (`app/webhooks/delivery.py`).

Two ways in, both one statement however many events:
- `emit`: events built in Python (an outcome measured, a month closed), one executemany;
- `emit_select`: events computed in SQL (`INSERT … SELECT`, e.g. every churn of a 10,000-event revenue batch),
  with `json_object`, `money` and `days_between` to build their data portably on SQLite and PostgreSQL.
A `dedupe_key` makes an event that must be sent once a no-op the second time (`ON CONFLICT DO NOTHING`).
"""

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Integer,
    Numeric,
    Select,
    Text,
    case,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.batch import dialect_insert
from app.db import utcnow
from app.models import WebhookEvent, WebhookTopic
from app.types import WebhookEventType

KEY_PREFIX = "evt_"
# A SQL value for the builders below: a column, a mapped attribute or an expression (SQLAlchemy's own argument type
# for these is private).
SqlValue = Any
# What `emit_select` inserts: rows of (type, customer_id, dedupe_key, data).
EventRows = Select[str, str | None, str | None, str]


@dataclass(frozen=True)
class Emitted:
    """One event built in Python: its data (JSON-able: Decimal, date and datetime allowed), the customer it is about
    (erasing the customer deletes it) and, for an event sent at most once, its dedupe key."""

    data: Mapping[str, Any]
    customer_id: str | None = None
    dedupe_key: str | None = None


def wanted(session: Session, types: Iterable[str]) -> set[str]:
    """Which of `types` at least one subscription wants: one indexed read, the whole cost without subscriptions."""
    asked = sorted(set(types))
    if not asked:
        return set()
    return set(session.scalars(select(WebhookTopic.type).where(WebhookTopic.type.in_(asked)).distinct()))


def emitted(session: Session, dedupe_keys: Iterable[str]) -> set[str]:
    """Which of these dedupe keys an event already carries (to skip work whose event was sent)."""
    keys = sorted(set(dedupe_keys))
    if not keys:
        return set()
    return set(session.scalars(select(WebhookEvent.dedupe_key).where(WebhookEvent.dedupe_key.in_(keys))))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # as every API answer writes an exact decimal: a JSON number
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(data: Mapping[str, Any]) -> str:
    """Event data as compact JSON text."""
    return json.dumps(data, separators=(",", ":"), default=_json_default)


def new_key() -> str:
    """A random event id, as `random_key` makes in SQL."""
    return KEY_PREFIX + secrets.token_hex(16)


def emit(session: Session, event_type: WebhookEventType, events: Sequence[Emitted]) -> int:
    """Write these events when some subscription wants `event_type`; how many were written (dedupe keys already
    used are skipped)."""
    if not events or not wanted(session, [event_type]):
        return 0
    now = utcnow()
    rows = [
        {
            "key": new_key(),
            "type": event_type,
            "created_at": now,
            "data": dumps(e.data),
            "customer_id": e.customer_id,
            "dedupe_key": e.dedupe_key,
            "dispatched": False,
        }
        for e in events
    ]
    table = WebhookEvent.__table__
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=[table.c.dedupe_key])  # type: ignore[arg-type]
    result = session.execute(stmt, rows, execution_options={"preserve_rowcount": True})
    return int(cast(CursorResult[Any], result).rowcount)


def emit_select(session: Session, events: EventRows) -> int:
    """`INSERT … SELECT` the events `events` selects, as columns `type`, `customer_id`, `dedupe_key` and `data` (JSON
    text, see `json_object`); the caller has checked `wanted`. One statement; how many rows it wrote."""
    source = events.subquery("emitted")
    now = utcnow()
    rows = select(
        random_key(session),
        source.c.type,
        literal(now, WebhookEvent.__table__.c.created_at.type),
        source.c.data,
        source.c.customer_id,
        source.c.dedupe_key,
        literal(False),
    ).where(true())  # SQLite reads `INSERT … SELECT … ON CONFLICT` only with a WHERE clause in the SELECT
    table = WebhookEvent.__table__
    columns = ["key", "type", "created_at", "data", "customer_id", "dedupe_key", "dispatched"]
    stmt = (
        dialect_insert(session, table)  # type: ignore[arg-type]
        .from_select(columns, rows)
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
    )
    result = session.execute(stmt, execution_options={"preserve_rowcount": True})
    return int(cast(CursorResult[Any], result).rowcount)


# --- Building event data in SQL, the same JSON on both databases -------------------------------------------------


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def random_key(session: Session) -> ColumnElement[str]:
    """A random `evt_` + 32 hex digits per row, computed by the database."""
    if _postgres(session):
        digits = func.replace(sql_cast(func.gen_random_uuid(), Text), "-", "")
    else:
        digits = func.lower(func.hex(func.randomblob(16)))
    return literal(KEY_PREFIX, Text) + digits


def json_object(session: Session, fields: Mapping[str, SqlValue]) -> ColumnElement[str]:
    """A JSON object's text from (key, SQL value) pairs, keys in the order given: text, dates (as YYYY-MM-DD),
    integers, `money(...)`, `boolean(...)` and NULL (JSON null) keep their JSON types."""
    args: list[Any] = []
    for key, value in fields.items():
        args += [literal_column(_quoted(key)), value]
    if _postgres(session):
        return sql_cast(func.json_build_object(*args), Text)
    return func.json_object(*args)


def _quoted(key: str) -> str:
    if not key.replace("_", "").isalnum():
        raise ValueError(f"an event data key is a plain word, not {key!r}")
    return f"'{key}'"


def money(session: Session, cents: SqlValue) -> ColumnElement[Any]:
    """Integer cents as an exact JSON number with two decimals (1234.50), never through a float."""
    if _postgres(session):
        return func.round(sql_cast(cents, Numeric) / 100, 2)
    magnitude = func.abs(cents)
    text = case((cents < 0, "-"), else_="") + func.printf("%d.%02d", magnitude / 100, magnitude % 100)
    return func.json(text)


def boolean(session: Session, condition: SqlValue) -> ColumnElement[Any]:
    """A SQL condition as JSON true or false (SQLite would write 1 and 0)."""
    if _postgres(session):
        return case((condition, literal_column("true")), else_=literal_column("false"))
    return func.json(case((condition, literal_column("'true'")), else_=literal_column("'false'")))


def integer(value: int) -> ColumnElement[int]:
    """A bound integer PostgreSQL can type inside `json_object`."""
    return sql_cast(literal(value), Integer)


def days_from(session: Session, day: date, column: SqlValue) -> ColumnElement[int]:
    """Whole days from `day` to the date `column` (negative when the column's date is earlier)."""
    if _postgres(session):
        return sql_cast(column - literal(day), Integer)
    return sql_cast(func.julianday(column) - func.julianday(literal(day.isoformat())), Integer)


def date_text(session: Session, value: SqlValue) -> ColumnElement[str]:
    """A date column as YYYY-MM-DD text (for dedupe keys)."""
    return sql_cast(value, Text)
