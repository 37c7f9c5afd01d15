"""Daily aggregates in (SPEC §14): `POST /v1/usage/daily` and `csroi import usage-daily` upsert rollup days.

A row replaces its (customer, kind, day): a warehouse sync re-sending a day is a safe retry (`unchanged`) or a
correction (`updated`). The rows are `usage_daily` rows of facet '' with source 'daily'; their distinct values are
kept under property '' (they answer a `distinct` component of any property). A (customer, kind) is fed by raw
events or by daily rows, never both: a pair already fed by raw events is a 409 naming it.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

from sqlalchemy import Date, String, and_, column, delete, select, tuple_, values
from sqlalchemy.orm import Session

from app import records
from app.batch import LOOKUP_CHUNK, dialect_insert
from app.models import UsageDaily, UsageDailyValue
from app.types import to_micros
from app.usage import rollup
from app.usage.schemas import DailyBatchResult, UsageDailyIn


class DailyRow(NamedTuple):
    """One daily aggregate in storage form: the defaults applied, values in millionths, distinct values sorted."""

    customer_id: str
    kind: str
    day: date
    events: int
    sum_micros: int
    last_micros: int | None
    values: tuple[str, ...]


def to_daily_row(item: UsageDailyIn) -> DailyRow:
    """The stored form of a validated row: count 1 when omitted, sum = count when omitted (each event worth 1)."""
    events = 1 if item.count is None else item.count
    total = events * 1_000_000 if item.sum is None else to_micros(item.sum)
    last = None if item.last is None else to_micros(item.last)
    return DailyRow(
        item.customer, item.kind, item.day, events, total, last, tuple(sorted(set(item.distinct_values or ())))
    )


def _stored(session: Session, rows: Sequence[DailyRow]) -> dict[tuple[str, str, date], DailyRow]:
    """The stored daily rows of the batch's keys, with their values, in two statements per chunk."""
    found: dict[tuple[str, str, date], DailyRow] = {}
    for start in range(0, len(rows), LOOKUP_CHUNK):
        chunk = rows[start : start + LOOKUP_CHUNK]
        wanted = (
            values(column("customer_id", String), column("kind", String), column("day", Date), name="wanted")
            .data([(r.customer_id, r.kind, r.day) for r in chunk])
            .cte("wanted")
        )
        key = and_(
            UsageDaily.customer_id == wanted.c.customer_id,
            UsageDaily.kind == wanted.c.kind,
            UsageDaily.day == wanted.c.day,
            UsageDaily.facet == "",
        )
        days = select(
            UsageDaily.customer_id, UsageDaily.kind, UsageDaily.day, UsageDaily.events, UsageDaily.sum_micros,
            UsageDaily.last_micros,
        ).join(wanted, key)  # fmt: skip
        kept: dict[tuple[str, str, date], list[str]] = {}
        value_key = and_(
            UsageDailyValue.customer_id == wanted.c.customer_id,
            UsageDailyValue.kind == wanted.c.kind,
            UsageDailyValue.day == wanted.c.day,
            UsageDailyValue.facet == "",
            UsageDailyValue.property == "",
        )
        stmt = select(UsageDailyValue.customer_id, UsageDailyValue.kind, UsageDailyValue.day, UsageDailyValue.value)
        for cid, kind, day, value in session.execute(stmt.join(wanted, value_key)):
            kept.setdefault((cid, kind, day), []).append(value)
        for cid, kind, day, events, total, last in session.execute(days):
            values_of = tuple(sorted(kept.get((cid, kind, day), ())))
            found[(cid, kind, day)] = DailyRow(cid, kind, day, int(events), int(total), last, values_of)
    return found


def _record(row: DailyRow) -> dict[str, Any]:
    midnight = datetime.combine(row.day, time(), tzinfo=UTC)  # a daily row's instant: the start of its day
    return {
        "customer_id": row.customer_id,
        "kind": row.kind,
        "facet": "",
        "day": row.day,
        "events": row.events,
        "sum_micros": row.sum_micros,
        "min_micros": None,
        "max_micros": None,
        "first_at": midnight,
        "last_at": None if row.last_micros is None else midnight,
        "last_id": None,
        "last_micros": row.last_micros,
        "source": "daily",
    }


def ingest_daily(session: Session, rows: Sequence[DailyRow]) -> DailyBatchResult:
    """Upsert daily rows by (customer, kind, day), all or nothing: Conflict (409) naming the (customer, kind) pairs
    that raw events feed; stub customers for unknown ids; a day re-sent as stored is counted `unchanged`."""
    rollup.claim(session, {(r.customer_id, r.kind) for r in rows}, source="daily")
    records.ensure_customers(session, [r.customer_id for r in rows])
    stored = _stored(session, rows)
    changed = sorted(
        (r for r in rows if stored.get((r.customer_id, r.kind, r.day)) != r),
        key=lambda r: (r.customer_id, r.kind, r.day),
    )
    created = sum(1 for r in changed if r[:3] not in stored)
    if changed:
        table: Any = UsageDaily.__table__
        stmt = dialect_insert(session, table)
        key = ("customer_id", "kind", "facet", "day")
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[k] for k in key],
            set_={c.name: stmt.excluded[c.name] for c in table.c if c.name not in key},
        )
        session.execute(stmt, [_record(r) for r in changed])
        _replace_values(session, changed)
    return DailyBatchResult(created=created, updated=len(changed) - created, unchanged=len(rows) - len(changed))


def _replace_values(session: Session, changed: Sequence[DailyRow]) -> None:
    """The changed days' distinct values: the stored ones deleted, the batch's inserted."""
    for start in range(0, len(changed), LOOKUP_CHUNK):
        chunk = changed[start : start + LOOKUP_CHUNK]
        keys = tuple_(UsageDailyValue.customer_id, UsageDailyValue.kind, UsageDailyValue.day)
        session.execute(
            delete(UsageDailyValue).where(
                UsageDailyValue.facet == "",
                UsageDailyValue.property == "",
                keys.in_([(r.customer_id, r.kind, r.day) for r in chunk]),
            )
        )
    new = [
        {"customer_id": r.customer_id, "kind": r.kind, "facet": "", "day": r.day, "property": "", "value": v}
        for r in changed
        for v in r.values
    ]
    if new:
        session.execute(UsageDailyValue.__table__.insert(), new)  # type: ignore[attr-defined]
