"""Delivering the outbox (SPEC §11): fan events out to subscriptions, claim due deliveries, POST them signed, record.

Each step is its own short transaction, committed by the worker (`app/worker.py`); the HTTP requests happen
between transactions, so a slow receiver never holds a lock or a database connection.

- `dispatch`: events not yet fanned out become one delivery per subscription wanting their type.
- `claim`: due deliveries are taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL (two workers never take the same
  one; SQLite has one writer), moved a lease ahead and stamped with a claim token. A worker that dies mid-send
  only delays them by the lease; a late result whose claim was taken over is not written over the new one.
- `send`: one signed POST; any 2xx is delivered.
- `record`: the attempts and the new state of each delivery, two statements for the whole batch.

Retries back off exponentially: 30 s after the first failure (the first retry comes within 60 s), doubling up to
an hour; a delivery whose next attempt would fall more than 24 h after its window started is `failed`.
"""

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, Table, and_, bindparam, delete, insert, literal, select, update
from sqlalchemy.orm import Session

from app import __version__
from app.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookTopic
from app.webhooks import signing

FIRST_RETRY = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
RETRY_WINDOW = timedelta(hours=24)
DISPATCH_BATCH = 1_000
USER_AGENT = f"csroi-webhooks/{__version__}"


def backoff(failures: int) -> timedelta:
    """The pause after the `failures`-th failed attempt in a row: 30 s, 60 s, 2 min, … capped at an hour."""
    doublings = min(max(failures, 1) - 1, 16)  # 30 s × 2^16 is past the cap already; a larger power overflows
    pause: timedelta = FIRST_RETRY * 2**doublings
    return min(pause, MAX_BACKOFF)


def dispatch(session: Session, *, limit: int = DISPATCH_BATCH) -> int:
    """Fan up to `limit` undispatched events out to the subscriptions wanting their type; how many events.

    Three statements: take the events (SKIP LOCKED: a concurrent worker takes others), insert their deliveries with
    one `INSERT … SELECT`, mark them dispatched. A subscription created after the event was written still gets it
    if it wants its type when the worker fans it out (within seconds).
    """
    ids = list(
        session.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.dispatched.is_(False))
            .order_by(WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return 0
    created = WebhookEvent.created_at
    rows = (
        select(WebhookEvent.id, WebhookTopic.webhook_id, literal("pending"), created, created, created)
        .join(WebhookTopic, WebhookTopic.type == WebhookEvent.type)
        .where(WebhookEvent.id.in_(ids))
    )
    columns = ["event_id", "webhook_id", "status", "window_start", "next_attempt_at", "created_at"]
    session.execute(insert(WebhookDelivery).from_select(columns, rows))
    session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(ids)).values(dispatched=True))
    return len(ids)


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker may attempt now, with everything the request needs."""

    id: int
    claim: str
    failures: int
    window_start: datetime
    url: str
    secret: str
    body: bytes
    event: str
    type: str


def event_body(key: str, event_type: str, created: datetime, data: str, currency: str) -> bytes:
    """The body `{id, type, created, data}`: data as emitted, with the reporting `currency` first (SPEC §11: every
    amount says its currency). Built as text so that data goes out exactly as stored."""
    created_text = created.isoformat(timespec="microseconds").replace("+00:00", "Z")
    head = signing_json({"id": key, "type": event_type, "created": created_text})
    inner = data.strip()
    rest = inner[1:].strip()
    currency_field = '"currency":' + signing_json(currency)
    data_text = "{" + currency_field + ("}" if rest == "}" else "," + rest)
    return (head[:-1] + ',"data":' + data_text + "}").encode()


def signing_json(value: Any) -> str:
    """Compact JSON text (ASCII-only, so the body's bytes do not depend on an encoder's Unicode choices)."""
    return json.dumps(value, separators=(",", ":"))


def claim(session: Session, *, now: datetime, limit: int, lease: timedelta, currency: str) -> list[Claimed]:
    """Take up to `limit` due deliveries for this worker: two statements (the claiming UPDATE, then their details)."""
    token = secrets.token_hex(16)
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()))
        .values(claim=token, next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult[Any], taken).rowcount:
        return []
    rows = session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.failures,
            WebhookDelivery.window_start,
            Webhook.url,
            Webhook.secret,
            WebhookEvent.key,
            WebhookEvent.type,
            WebhookEvent.created_at,
            WebhookEvent.data,
        )
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.claim == token)
        .order_by(WebhookDelivery.id)
    )
    return [
        Claimed(
            id=r.id,
            claim=token,
            failures=r.failures,
            window_start=r.window_start,
            url=r.url,
            secret=r.secret,
            body=event_body(r.key, r.type, r.created_at, r.data, currency),
            event=r.key,
            type=r.type,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Attempt:
    """What one POST got: a status code, or an error without one."""

    delivery: Claimed
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """Any 2xx is a delivery."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _error_text(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout: no answer in time"
    text = str(exc) or exc.__class__.__name__
    return text if text.startswith("refused") else f"{exc.__class__.__name__}: {text}"


ANSWER_BYTES = 64 * 1024


def _drain(response: httpx.Response) -> None:
    """Read a short answer to its end, so its connection is reused (keep-alive: no new TLS handshake per
    delivery); stop at 64 KiB, which closes the connection instead: only the status matters."""
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if read > ANSWER_BYTES:
            return


def send(client: httpx.Client, delivery: Claimed, *, at: datetime) -> Attempt:
    """POST the delivery, signed now; any 2xx is delivered (the answer's body is not kept)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.HEADER: signing.header(delivery.secret, int(at.timestamp()), delivery.body),
        "Csroi-Event-Id": delivery.event,
        "Csroi-Event-Type": delivery.type,
    }
    started = time.perf_counter()
    try:
        with client.stream("POST", delivery.url, content=delivery.body, headers=headers) as response:
            status, error = response.status_code, None
            _drain(response)
    except httpx.HTTPError as exc:
        status, error = None, _error_text(exc)[:500]
    elapsed = round((time.perf_counter() - started) * 1000)
    return Attempt(delivery, at, status, error, elapsed)


@dataclass(frozen=True)
class Recorded:
    """What a batch of attempts came to."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def _next_state(attempt: Attempt, now: datetime) -> dict[str, Any]:
    claimed = attempt.delivery
    if attempt.ok:
        return {"status": "delivered", "failures": 0, "next": None, "delivered": now, "error": None}
    failures = claimed.failures + 1
    due = now + backoff(failures)
    gave_up = due > claimed.window_start + RETRY_WINDOW
    error = attempt.error or f"HTTP {attempt.status_code}"
    return {
        "status": "failed" if gave_up else "pending",
        "failures": failures,
        "next": None if gave_up else due,
        "delivered": None,
        "error": error,
    }


def record(session: Session, attempts: Sequence[Attempt], *, now: datetime) -> Recorded:
    """Write the attempts and each delivery's new state: one executemany each. A delivery whose claim another
    worker took over since (this one outlived its lease) keeps the other's state; its attempt is still logged."""
    if not attempts:
        return Recorded()
    session.execute(
        insert(WebhookAttempt),
        [
            {
                "delivery_id": a.delivery.id,
                "attempted_at": a.at,
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],
    )
    states = [(a, _next_state(a, now)) for a in attempts]
    table = cast(Table, WebhookDelivery.__table__)
    d = table.c
    stmt = (
        update(table)
        .where(d.id == bindparam("b_id"), d.claim == bindparam("b_claim"))
        .values(
            status=bindparam("b_status"),
            attempts=d.attempts + 1,
            failures=bindparam("b_failures"),
            next_attempt_at=bindparam("b_next", type_=d.next_attempt_at.type),
            delivered_at=bindparam("b_delivered", type_=d.delivered_at.type),
            last_status_code=bindparam("b_code", type_=d.last_status_code.type),
            last_error=bindparam("b_error", type_=d.last_error.type),
            claim=None,
        )
    )
    session.execute(
        stmt,
        [
            {
                "b_id": a.delivery.id,
                "b_claim": a.delivery.claim,
                "b_status": s["status"],
                "b_failures": s["failures"],
                "b_next": s["next"],
                "b_delivered": s["delivered"],
                "b_code": a.status_code,
                "b_error": s["error"],
            }
            for a, s in states
        ],
    )
    return Recorded(
        delivered=sum(1 for _, s in states if s["status"] == "delivered"),
        retrying=sum(1 for _, s in states if s["status"] == "pending"),
        failed=sum(1 for _, s in states if s["status"] == "failed"),
    )


def pending_work(session: Session, *, now: datetime) -> tuple[bool, bool]:
    """(an event waits to be fanned out, a delivery is due): two index probes, no lock (an idle poll)."""
    undispatched = select(WebhookEvent.id).where(WebhookEvent.dispatched.is_(False)).limit(1)
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .limit(1)
    )
    return session.scalar(undispatched) is not None, session.scalar(due) is not None


@dataclass(frozen=True)
class Pruned:
    """What `prune` removed: finished deliveries (with their attempts), and events left without deliveries."""

    deliveries: int
    attempts: int
    events: int


def _count(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def prune(session: Session, *, before: datetime) -> Pruned:
    """Forget finished webhook traffic older than `before`, in four statements whatever its volume.

    A delivery is finished once delivered or failed; it goes, with its attempts, when its window started before
    `before` (a manual retry restarts the window, so a retried delivery keeps its history). An event fanned out
    before `before` with no delivery left goes too, except that an event with a `dedupe_key` keeps its row with an
    empty body (`{}`): the key is what stops a renewal notice or a closed month from being sent twice, so it must
    outlive the body. Pending deliveries and their events are never touched.
    """
    finished = select(WebhookDelivery.id).where(
        WebhookDelivery.status != "pending", WebhookDelivery.window_start < before
    )
    attempts = _count(session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(finished))))
    deliveries = _count(session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(finished))))
    orphan = and_(
        WebhookEvent.dispatched.is_(True),
        WebhookEvent.created_at < before,
        ~select(WebhookDelivery.id).where(WebhookDelivery.event_id == WebhookEvent.id).exists(),
    )
    events = _count(session.execute(delete(WebhookEvent).where(orphan, WebhookEvent.dedupe_key.is_(None))))
    tombstones = and_(orphan, WebhookEvent.dedupe_key.is_not(None), WebhookEvent.data != "{}")
    session.execute(update(WebhookEvent).where(tombstones).values(data="{}"))
    return Pruned(deliveries=deliveries, attempts=attempts, events=events)
