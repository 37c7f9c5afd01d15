"""`csroi worker`: the schedule of SPEC §11 in one process, and `csroi worker --once JOB`.

Two threads share the process:
- the **scheduler** runs each job's due slot (daily at CSROI_WORKER_DAILY_AT, UTC; the churn refit on Mondays), in
  the order of `app.jobs.schedule.job_specs`, sleeping until the next slot;
- the **deliverer** looks at the webhook outbox every CSROI_WEBHOOK_POLL_SECONDS (at most 5 s) and, while there is
  work, fans events out, claims due deliveries and POSTs them, CSROI_WEBHOOK_CONCURRENCY at a time.
A long job (a snapshot of a large book) never delays deliveries.

Why a small loop and not a scheduler library: five fixed jobs at fixed times need no cron parser, and what a library
such as APScheduler 3 would not give is the part that matters here: a slot run once across workers and visible to
the API. That is the database's job (a unique (job, slot) row, PostgreSQL advisory locks: `app/jobs/`), and `GET
/v1/jobs` computes the next run from the same schedule data the loop uses.

Every job calls the same service functions as the CLI commands (`csroi health snapshot`, `csroi health fit`,
`csroi interventions measure`), in its own transaction, committed here (an edge).
"""

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import WRITE_OPTION, make_engine, make_sessionmaker, utcnow
from app.experiments import ready as experiments_ready
from app.health import churn
from app.health import service as health_service
from app.interventions import service as interventions_service
from app.jobs import locks
from app.jobs import service as jobs_service
from app.jobs.schedule import DELIVER, JobSpec, job_specs, latest_slot, next_slot
from app.renewals import notices
from app.usage import store as usage_store
from app.webhooks import delivery, urls

log = structlog.get_logger("csroi.worker")

Outcome = Literal["ran", "failed", "taken", "busy"]
MAX_SCHEDULER_SLEEP = 60.0
PASS_SECONDS = 30.0  # a delivery pass records a run at least this often while the outbox stays busy
CLAIMS_PER_SENDER = 4


@dataclass
class Worker:
    """What the jobs need: settings, the database, this process's name, and (for deliveries) an HTTP client."""

    settings: Settings
    engine: Engine
    maker: sessionmaker[Session]
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    client: httpx.Client | None = None
    _pool: ThreadPoolExecutor | None = None

    @property
    def specs(self) -> list[JobSpec]:
        """The jobs and their schedule."""
        return job_specs(daily_at=self.settings.worker_daily_at, poll_seconds=self.settings.webhook_poll_seconds)

    def http(self) -> httpx.Client:
        """The delivery client (guarded against private addresses unless allowed), made on first use."""
        if self.client is None:
            self.client = urls.make_client(
                allow_private=self.settings.webhook_allow_private,
                timeout=self.settings.webhook_timeout_seconds,
                max_connections=self.settings.webhook_concurrency,
            )
        return self.client

    def senders(self) -> ThreadPoolExecutor:
        """The threads that POST a batch of deliveries concurrently."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.webhook_concurrency, thread_name_prefix="webhook")
        return self._pool

    def close(self) -> None:
        """Release the HTTP client and the sender threads (the engine belongs to whoever made it)."""
        if self.client is not None:
            self.client.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def build(settings: Settings) -> Worker:
    """A worker on the settings' database."""
    engine = make_engine(settings.database_url)
    return Worker(settings, engine, make_sessionmaker(engine))


@contextmanager
def _write(worker: Worker) -> Iterator[Session]:
    """A session whose transaction is opened for writing (BEGIN IMMEDIATE on SQLite)."""
    with worker.maker() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        yield session


# --- The jobs: each calls the services the CLI commands call, and commits --------------------------------------


def _snapshot(worker: Worker, at: datetime) -> dict[str, Any]:
    """The daily snapshot of yesterday (the day before the slot)."""
    day = at.date() - timedelta(days=1)
    with _write(worker) as session:
        done = health_service.snapshot_health(session, day=day)
        session.commit()
    return {"date": day.isoformat(), "customers": done.customers, "model_version": done.model_version}


def _measure(worker: Worker, at: datetime) -> dict[str, Any]:
    with _write(worker) as session:
        measured = interventions_service.measure_due(session, at.date())
        session.commit()
    return {"measured": measured}


def _refit(worker: Worker, at: datetime) -> dict[str, Any]:
    with _write(worker) as session:
        row = churn.refit(session, today=at.date(), min_churns=worker.settings.churn_min_churns)
        session.commit()
    if row is None:
        return {"fitted": False, "reason": f"fewer than {worker.settings.churn_min_churns} churns"}
    return {"fitted": True, "examples": row.examples, "churns": row.churns}


def _notices(worker: Worker, at: datetime) -> dict[str, Any]:
    with _write(worker) as session:
        sent = notices.emit_due_notices(session, today=at.date(), thresholds=worker.settings.renewal_notice_days)
        session.commit()
    return {"notices": sent}


def _experiments(worker: Worker, at: datetime) -> dict[str, Any]:
    with _write(worker) as session:
        sent = experiments_ready.emit_ready(
            session,
            today=at.date(),
            default_hourly=worker.settings.default_hourly_cost,
            currency=worker.settings.currency,
        )
        session.commit()
    return {"ready": sent}


def _prune(worker: Worker, at: datetime) -> dict[str, Any]:
    with _write(worker) as session:
        deleted = jobs_service.prune(session, before=at - timedelta(days=worker.settings.job_history_days))
        pruned = delivery.prune(session, before=at - timedelta(days=worker.settings.webhook_history_days))
        session.commit()
    return {
        "deleted": deleted,
        "webhook_deliveries": pruned.deliveries,
        "webhook_attempts": pruned.attempts,
        "webhook_events": pruned.events,
    }


def _retention(worker: Worker, at: datetime) -> dict[str, Any]:
    days = worker.settings.events_retention_days
    if days is None:
        return {"retention_days": None, "months": [], "events": 0}
    with _write(worker) as session:
        done = usage_store.store_for(worker.settings.usage_store).expire_events(session, now=at, retention_days=days)
        session.commit()
    return {"retention_days": days, "horizon": done.horizon.isoformat(), "months": done.months, "events": done.events}


def _deliver(worker: Worker, at: datetime) -> dict[str, Any]:
    return dict(deliver_pass(worker, record=False))


JOBS: dict[str, Callable[[Worker, datetime], dict[str, Any]]] = {
    "health.snapshot": _snapshot,
    "interventions.measure": _measure,
    "renewals.notices": _notices,
    "experiments.ready": _experiments,
    "health.refit": _refit,
    "jobs.prune": _prune,
    "usage.retention": _retention,
    DELIVER: _deliver,
}


def run_job(worker: Worker, name: str, *, slot: datetime | None = None) -> Outcome:
    """Run one job now, recorded in `job_run`: for `slot` (scheduled) or, without one, a manual run.

    `busy`: another worker holds the job's lock (it is running). `taken`: the slot already has a run.
    """
    trigger: Literal["schedule", "manual"] = "schedule" if slot is not None else "manual"
    with locks.job_lock(worker.engine, name) as got:
        if not got:
            log.info("job_busy", job=name, slot=slot.isoformat() if slot else None)
            return "busy"
        with _write(worker) as session:
            run_id = jobs_service.start_run(session, name, slot=slot, trigger=trigger, worker=worker.name, now=utcnow())
            session.commit()
        if run_id is None:
            log.debug("job_taken", job=name, slot=slot.isoformat() if slot else None)
            return "taken"
        return _run_recorded(worker, name, run_id, slot or utcnow())


def _run_recorded(worker: Worker, name: str, run_id: int, at: datetime) -> Outcome:
    log.info("job_started", job=name, run=run_id, at=at.isoformat())
    started = time.perf_counter()
    try:
        result, error = JOBS[name](worker, at), None
    except Exception as exc:
        log.exception("job_failed", job=name, run=run_id)
        result, error = None, f"{exc.__class__.__name__}: {exc}"[:2000]
    status: Literal["succeeded", "failed"] = "failed" if error else "succeeded"
    with _write(worker) as session:
        jobs_service.finish_run(session, run_id, status=status, now=utcnow(), result=result, error=error)
        session.commit()
    duration_ms = round((time.perf_counter() - started) * 1000)
    log.info("job_finished", job=name, run=run_id, status=status, duration_ms=duration_ms, result=result)
    return "failed" if error else "ran"


def run_due(worker: Worker, now: datetime, done: set[tuple[str, datetime]]) -> dict[str, Outcome]:
    """Run every scheduled job whose latest slot has not run; `done` remembers slots seen run (by anyone)."""
    outcomes: dict[str, Outcome] = {}
    for spec in worker.specs:
        slot = latest_slot(spec.schedule, now)
        if slot is None or (spec.name, slot) in done:
            continue
        outcomes[spec.name] = run_job(worker, spec.name, slot=slot)
        if outcomes[spec.name] != "busy":
            done.add((spec.name, slot))
    return outcomes


def recover_interrupted(worker: Worker) -> int:
    """Runs left `running` by a worker that died: failed, saying so. On PostgreSQL only those whose job lock is free
    (a live worker holds the lock of the job it runs); on SQLite (one worker) every one. How many."""
    with worker.maker() as session:
        running = jobs_service.running_runs(session)
    stale = []
    for run_id, job in running:
        with locks.job_lock(worker.engine, job) as free:
            if free:
                stale.append(run_id)
    if stale:
        with _write(worker) as session:
            jobs_service.mark_interrupted(session, stale, now=utcnow())
            session.commit()
        log.warning("jobs_interrupted", runs=stale)
    return len(stale)


# --- Webhook delivery ---------------------------------------------------------------------------------------------


def _claim_batch(worker: Worker) -> tuple[int, timedelta]:
    """How many deliveries one claim takes, and the lease that covers sending them all."""
    concurrency = worker.settings.webhook_concurrency
    batch = concurrency * CLAIMS_PER_SENDER
    rounds = -(-batch // concurrency)
    return batch, timedelta(seconds=worker.settings.webhook_timeout_seconds * rounds + 30)


def deliver_pass(worker: Worker, *, record: bool = True, max_seconds: float = PASS_SECONDS) -> Counter[str]:
    """While the outbox has work (for at most `max_seconds`): fan out, claim, POST, record. The counts; a pass that
    did something (or failed) is recorded as a `poll` run of webhooks.deliver when `record`."""
    totals: Counter[str] = Counter()
    started, clock = utcnow(), time.perf_counter()
    batch, lease = _claim_batch(worker)
    error = None
    try:
        while time.perf_counter() - clock < max_seconds:
            with worker.maker() as session:
                undispatched, due = delivery.pending_work(session, now=utcnow())
            if not (undispatched or due):
                break
            if undispatched:
                with _write(worker) as session:
                    totals["dispatched"] += delivery.dispatch(session)
                    session.commit()
            with _write(worker) as session:
                claimed = delivery.claim(
                    session, now=utcnow(), limit=batch, lease=lease, currency=worker.settings.currency
                )
                session.commit()
            if claimed:
                totals.update(_send(worker, claimed))
    except Exception as exc:
        log.exception("delivery_pass_failed")
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
    if record and (totals or error):
        with _write(worker) as session:
            jobs_service.record_run(
                session, DELIVER, trigger="poll", worker=worker.name, started=started, finished=utcnow(),
                status="failed" if error else "succeeded", result=None if error else dict(totals), error=error,
            )  # fmt: skip
            session.commit()
    return totals


def _send(worker: Worker, claimed: list[delivery.Claimed]) -> Counter[str]:
    """POST the claimed deliveries concurrently and record the attempts."""
    client = worker.http()
    attempts = list(worker.senders().map(lambda c: delivery.send(client, c, at=utcnow()), claimed))
    with _write(worker) as session:
        recorded = delivery.record(session, attempts, now=utcnow())
        session.commit()
    for attempt in attempts:
        fields = {"event_id": attempt.delivery.event, "type": attempt.delivery.type, "delivery": attempt.delivery.id,
                  "status_code": attempt.status_code, "duration_ms": attempt.duration_ms}  # fmt: skip
        if attempt.ok:
            log.info("webhook_delivered", **fields)
        else:
            log.warning("webhook_attempt_failed", error=attempt.error, **fields)
    return Counter(delivered=recorded.delivered, retrying=recorded.retrying, failed=recorded.failed)


# --- The process --------------------------------------------------------------------------------------------------


def _delivery_loop(worker: Worker, stop: threading.Event) -> None:
    while not stop.is_set():
        deliver_pass(worker)
        stop.wait(worker.settings.webhook_poll_seconds)


def _schedule_loop(worker: Worker, stop: threading.Event) -> None:
    done: set[tuple[str, datetime]] = set()
    while not stop.is_set():
        now = utcnow()
        try:
            run_due(worker, now, done)
        except Exception:  # e.g. the database is down: try again at the next wake-up
            log.exception("schedule_failed")
        upcoming = [s for spec in worker.specs if (s := next_slot(spec.schedule, utcnow())) is not None]
        wait = min([(s - utcnow()).total_seconds() for s in upcoming] + [MAX_SCHEDULER_SLEEP])
        stop.wait(max(wait, 0.5))


def run(worker: Worker, stop: threading.Event) -> None:
    """Run the scheduler and the deliverer until `stop` is set; a job in progress finishes first."""
    # httpx logs every request at INFO; the worker logs each attempt itself, with the event and its outcome.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    recover_interrupted(worker)
    settings = worker.settings
    log.info(
        "worker_started",
        worker=worker.name,
        jobs=[s.name for s in worker.specs],
        daily_at=settings.worker_daily_at.isoformat(),
        poll_seconds=settings.webhook_poll_seconds,
    )
    threads = [
        threading.Thread(target=_schedule_loop, args=(worker, stop), name="scheduler"),
        threading.Thread(target=_delivery_loop, args=(worker, stop), name="deliverer"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.info("worker_stopped", worker=worker.name)
