"""Posting revenue events: idempotent by id, conflicts refused, the ledger rebuilt for touched customers."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session

from app import batch, records
from app.batch import LOOKUP_CHUNK
from app.db import utcnow
from app.errors import Conflict
from app.ledger import outbox
from app.ledger.schemas import EventBatchResult, RevenueEventIn
from app.models import ArrChange, ArrMonth, Customer, RevenueEvent
from app.money import to_cents

EventKey = tuple[str, str, Any, int]


def _content(customer: str, product: str, effective_date: Any, arr_cents: int) -> EventKey:
    return (customer, product, effective_date, arr_cents)


def _stored_contents(session: Session, ids: list[str]) -> dict[str, EventKey]:
    """The content of events already stored under any of `ids`."""
    found: dict[str, EventKey] = {}
    table = RevenueEvent.__table__
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        rows = session.execute(
            select(table.c.id, table.c.customer_id, table.c.product, table.c.effective_date, table.c.arr).where(
                table.c.id.in_(chunk)
            )
        )
        for row in rows:
            found[row.id] = _content(row.customer_id, row.product, row.effective_date, to_cents(row.arr))
    return found


def _conflict(ids: Sequence[str]) -> Conflict:
    ordered = sorted(set(ids))
    return Conflict(
        f"{len(ordered)} event id(s) were already used with different content; events are immutable, so post a "
        "correction under a new id (same customer, product and date: the one received last wins).",
        ids=ordered,
    )


def _event_content(event: RevenueEventIn) -> EventKey:
    return _content(event.customer, event.product, event.effective_date, to_cents(event.arr))


def _split_new_and_duplicates(session: Session, events: Sequence[RevenueEventIn]) -> tuple[list[RevenueEventIn], int]:
    """New events in arrival order, and how many were duplicates; Conflict when an id's content differs."""
    seen: dict[str, EventKey] = _stored_contents(session, list(dict.fromkeys(e.id for e in events)))
    fresh: list[RevenueEventIn] = []
    duplicates = 0
    conflicts: list[str] = []
    for event in events:
        content = _event_content(event)
        known = seen.get(event.id)
        if known is None:
            seen[event.id] = content
            fresh.append(event)
        elif known == content:
            duplicates += 1
        else:
            conflicts.append(event.id)
    if conflicts:
        raise _conflict(conflicts)
    return fresh, duplicates


def lock_customers(session: Session, customer_ids: list[str]) -> None:
    """Serialise ledger rebuilds per customer on PostgreSQL (SQLite already has one writer at a time).

    Two concurrent batches for one customer would otherwise each rebuild its ledger without seeing the
    other's uncommitted events; the later commit would then drop the earlier batch's movements. Taken in id
    order (no deadlock between two batches) and as FOR NO KEY UPDATE, which conflicts with itself but not with
    the KEY SHARE locks of foreign-key checks: renewals, costs and usage events naming the customer don't wait.
    """
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(Customer.id).where(Customer.id.in_(sorted(customer_ids))).order_by(Customer.id)
        session.execute(stmt.with_for_update(key_share=True))


def _insert_events(session: Session, events: Sequence[RevenueEventIn]) -> int:
    """Insert the events whose id is still free; how many this statement inserted.

    Inserted in arrival order, so `seq` increases with it: the last received wins (SPEC §3). Not sorted by id:
    the customers' row locks, taken in id order before this, already serialise two batches naming one event.
    """
    now = utcnow()
    rows = [
        {
            "id": e.id,
            "customer_id": e.customer,
            "product": e.product,
            "effective_date": e.effective_date,
            "arr": e.arr,
            "received_at": now,
        }
        for e in events
    ]
    return batch.insert_new(session, RevenueEvent.__table__, rows)  # type: ignore[arg-type]


def ingest_revenue_events(session: Session, events: Sequence[RevenueEventIn]) -> EventBatchResult:
    """Store new events (duplicates counted, conflicts refused) and rebuild the touched customers' ledgers.

    A batch racing an identical one (a client's retry) answers `duplicates`, never 409 (SPEC §13): the insert
    skips ids a concurrent batch committed since the look-up, and then the batch's new events are compared with
    what is stored once more: the same content is a duplicate, other content still a Conflict.
    """
    fresh, duplicates = _split_new_and_duplicates(session, events)
    if not fresh:
        return EventBatchResult(accepted=0, duplicates=duplicates)
    customer_ids = sorted({e.customer for e in fresh})
    records.ensure_customers(session, customer_ids)
    lock_customers(session, customer_ids)
    accepted = _insert_events(session, fresh)
    if accepted < len(fresh):
        _check_stored(session, fresh)
    if accepted:
        rebuild_ledger(session, customer_ids)
        # Webhooks (SPEC §11): the batch's churns and expansions, in this transaction (a rollback sends nothing).
        outbox.emit_movement_events(session, ((e.customer, e.effective_date) for e in fresh))
    return EventBatchResult(accepted=accepted, duplicates=duplicates + len(fresh) - accepted)


def _check_stored(session: Session, events: Sequence[RevenueEventIn]) -> None:
    """Conflict naming the events stored (by a concurrent batch) with content other than this batch's."""
    stored = _stored_contents(session, [e.id for e in events])
    conflicts = [e.id for e in events if stored.get(e.id) != _event_content(e)]
    if conflicts:
        raise _conflict(conflicts)


# Derives every ARR change of the given customers from their events, in one set-based statement.
# winners: per customer, product and date, the event received last. series: each product's ARR before and
# after each of its dates. days: per customer and date, the total ARR before and after, and whether the
# customer ever had ARR before (new vs reactivation). Classification follows SPEC §3 to the letter.
_REBUILD_SQL = """
WITH winners AS (
    SELECT customer_id, product, effective_date, arr FROM (
        SELECT customer_id, product, effective_date, arr,
               ROW_NUMBER() OVER (PARTITION BY customer_id, product, effective_date ORDER BY seq DESC) AS rn
        FROM revenue_event WHERE customer_id IN :customer_ids
    ) ranked WHERE rn = 1
),
series AS (
    SELECT customer_id, product, effective_date, arr AS arr_after,
           LAG(arr, 1, 0) OVER (PARTITION BY customer_id, product ORDER BY effective_date) AS arr_before
    FROM winners
),
changes AS (
    SELECT customer_id, product, effective_date, arr_before, arr_after FROM series WHERE arr_after <> arr_before
),
day_deltas AS (
    SELECT customer_id, effective_date, SUM(arr_after - arr_before) AS day_delta
    FROM changes GROUP BY customer_id, effective_date
),
running AS (
    SELECT customer_id, effective_date, day_delta,
           SUM(day_delta) OVER (PARTITION BY customer_id ORDER BY effective_date
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS total_after
    FROM day_deltas
),
days AS (
    SELECT customer_id, effective_date, total_after, total_after - day_delta AS total_before,
           COALESCE(MAX(total_after) OVER (PARTITION BY customer_id ORDER BY effective_date
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS peak_before
    FROM running
)
INSERT INTO arr_change (customer_id, product, effective_date, arr_before_cents, arr_after_cents, delta_cents,
                        movement_type)
SELECT c.customer_id, c.product, c.effective_date, c.arr_before, c.arr_after, c.arr_after - c.arr_before,
       CASE
           WHEN d.total_before = 0 AND d.total_after > 0 THEN
               CASE WHEN d.peak_before > 0 THEN 'reactivation' ELSE 'new' END
           WHEN d.total_before > 0 AND d.total_after = 0 THEN 'churn'
           WHEN c.arr_before = 0 THEN 'cross_sell'
           WHEN c.arr_after > c.arr_before THEN 'upsell'
           ELSE 'downsell'
       END
FROM changes c JOIN days d ON d.customer_id = c.customer_id AND d.effective_date = c.effective_date
"""


# The `arr_month` rollup of the same customers: their changes summed per calendar month, with the ARR before
# each month (every change of earlier months). {month} is the dialect's first day of the change's month.
_ROLLUP_SQL = """
INSERT INTO arr_month (customer_id, month, opening_cents, delta_cents, new, reactivation, upsell, cross_sell,
                       downsell, churn)
SELECT customer_id, month,
       CAST(SUM(SUM(delta_cents)) OVER (PARTITION BY customer_id ORDER BY month) - SUM(delta_cents) AS BIGINT),
       CAST(SUM(delta_cents) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'new' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'reactivation' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'upsell' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'cross_sell' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'downsell' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN movement_type = 'churn' THEN ABS(delta_cents) ELSE 0 END) AS BIGINT)
FROM (SELECT customer_id, {month} AS month, delta_cents, movement_type
      FROM arr_change WHERE customer_id IN :customer_ids) changes
GROUP BY customer_id, month
"""
_MONTH_OF = {"postgresql": "CAST(date_trunc('month', effective_date) AS DATE)"}
_MONTH_OF_SQLITE = "date(effective_date, 'start of month')"


def rebuild_ledger(session: Session, customer_ids: Sequence[str]) -> None:
    """Recompute the ARR changes and movements of these customers (and only these) from their events.

    Their `arr_month` rollup is recomputed from the new changes in the same transaction.
    """
    ids = list(dict.fromkeys(customer_ids))
    month = _MONTH_OF.get(session.get_bind().dialect.name, _MONTH_OF_SQLITE)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        session.execute(delete(ArrMonth).where(ArrMonth.customer_id.in_(chunk)))
        session.execute(delete(ArrChange).where(ArrChange.customer_id.in_(chunk)))
        statement = text(_REBUILD_SQL).bindparams(bindparam("customer_ids", expanding=True))
        session.execute(statement, {"customer_ids": chunk})
        rollup = text(_ROLLUP_SQL.format(month=month)).bindparams(bindparam("customer_ids", expanding=True))
        session.execute(rollup, {"customer_ids": chunk})
