"""Recording the worker's job runs and reading them back (SPEC §11)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from app.batch import dialect_insert
from app.errors import NotFound, Unprocessable
from app.jobs.schedule import JobSpec, latest_slot, next_slot
from app.jobs.schemas import JobOut, JobRunOut, JobRunQuery
from app.models import JobRun
from app.pagination import Page, make_page
from app.types import JobStatus, JobTrigger


def start_run(
    session: Session, job: str, *, slot: datetime | None, trigger: JobTrigger, worker: str, now: datetime
) -> int | None:
    """Record that `job` starts now; its run number, or None when the slot is already taken (another worker ran
    it, or runs it): the unique (job, slot) pair is what makes a slot run once."""
    table = JobRun.__table__
    stmt = (
        dialect_insert(session, table)  # type: ignore[arg-type]
        .values(job=job, slot=slot, trigger=trigger, status="running", started_at=now, worker=worker)
        .on_conflict_do_nothing(index_elements=[table.c.job, table.c.slot])
        .returning(table.c.id)
    )
    run_id: int | None = session.scalar(stmt)
    return run_id


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: JobStatus,
    now: datetime,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record how a started run ended."""
    started = session.scalar(select(JobRun.started_at).where(JobRun.id == run_id))
    duration = None if started is None else max(0, round((now - started).total_seconds() * 1000))
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(status=status, finished_at=now, duration_ms=duration, result=result, error=error)
    )


def record_run(
    session: Session,
    job: str,
    *,
    trigger: JobTrigger,
    worker: str,
    started: datetime,
    finished: datetime,
    status: JobStatus,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record a run after the fact (a delivery pass that had work, or failed)."""
    duration = max(0, round((finished - started).total_seconds() * 1000))
    session.add(
        JobRun(
            job=job,
            slot=None,
            trigger=trigger,
            status=status,
            started_at=started,
            finished_at=finished,
            duration_ms=duration,
            result=result,
            error=error,
            worker=worker,
        )
    )


def running_runs(session: Session) -> list[tuple[int, str]]:
    """(run number, job) of the runs recorded as running."""
    rows = session.execute(select(JobRun.id, JobRun.job).where(JobRun.status == "running").order_by(JobRun.id))
    return [(r.id, r.job) for r in rows]


def mark_interrupted(session: Session, run_ids: Sequence[int], *, now: datetime) -> None:
    """Runs whose worker stopped mid-run (no worker holds their job any more): failed, saying so."""
    if run_ids:
        session.execute(
            update(JobRun)
            .where(JobRun.id.in_(run_ids), JobRun.status == "running")
            .values(status="failed", finished_at=now, error="interrupted: the worker stopped during the run")
        )


def prune(session: Session, *, before: datetime) -> int:
    """Delete finished runs that started before `before`; how many."""
    result = session.execute(delete(JobRun).where(JobRun.started_at < before, JobRun.status != "running"))
    return int(cast(CursorResult[Any], result).rowcount)


def _next_run(spec: JobSpec, taken: datetime | None, now: datetime) -> datetime | None:
    """The latest slot while it has not run (overdue), else the next one."""
    latest = latest_slot(spec.schedule, now)
    if latest is None:
        return None
    return latest if taken is None or taken < latest else next_slot(spec.schedule, now)


def list_jobs(session: Session, specs: Sequence[JobSpec], *, now: datetime) -> list[JobOut]:
    """Every job with its latest run and next due time: two statements whatever the history's length."""
    latest_ids = select(func.max(JobRun.id)).group_by(JobRun.job).scalar_subquery()
    last = {r.job: r for r in session.scalars(select(JobRun).where(JobRun.id.in_(latest_ids)))}
    slots = select(JobRun.job, func.max(JobRun.slot)).where(JobRun.slot.is_not(None)).group_by(JobRun.job)
    taken: dict[str, datetime | None] = {job: slot for job, slot in session.execute(slots)}
    jobs = []
    for spec in specs:
        run = last.get(spec.name)
        jobs.append(
            JobOut(
                name=spec.name,
                description=spec.description,
                schedule=spec.schedule.describe(),
                last_run=run.id if run else None,
                last_trigger=run.trigger if run else None,
                last_status=run.status if run else None,
                last_started_at=run.started_at if run else None,
                last_finished_at=run.finished_at if run else None,
                last_duration_ms=run.duration_ms if run else None,
                last_result=run.result if run else None,
                last_error=run.error if run else None,
                next_run_at=_next_run(spec, taken.get(spec.name), now),
            )
        )
    return jobs


def list_runs(session: Session, specs: Sequence[JobSpec], job: str, query: JobRunQuery) -> Page[JobRunOut]:
    """A job's runs, newest first; NotFound for a name that is not a job."""
    if job not in {spec.name for spec in specs}:
        raise NotFound("job", job)
    stmt = select(JobRun).where(JobRun.job == job)
    if query.status is not None:
        stmt = stmt.where(JobRun.status == query.status)
    after = query.after()
    if after:
        if not after[0].isdigit():
            raise Unprocessable(
                "The cursor is not one this list issued.",
                [{"loc": ["query", "cursor"], "msg": "not a job-run cursor", "type": "value_error"}],
            )
        stmt = stmt.where(JobRun.id < int(after[0]))
    rows = list(session.scalars(stmt.order_by(JobRun.id.desc()).limit(query.limit + 1)))
    page = make_page(rows, query.limit, key=lambda r: [str(r.id)])
    return Page[JobRunOut](
        items=[JobRunOut.model_validate(r, from_attributes=True) for r in page.items], next_cursor=page.next_cursor
    )
