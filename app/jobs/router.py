"""`GET /v1/jobs` (admin): the worker's jobs with their last run and next run, and each job's runs."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from app.auth import AdminAuth
from app.config import Settings, SettingsDep, get_app_settings
from app.csv import CSV_RESPONSE, csv_response, wants_csv
from app.db import SessionDep, utcnow
from app.errors import problem_responses, worded
from app.jobs import service
from app.jobs.schedule import JobSpec, job_specs
from app.jobs.schemas import JobListQuery, JobOut, JobRunOut, JobRunQuery
from app.pagination import Page, PageOut, page_out

router = APIRouter(prefix="/jobs", tags=["jobs"])
JobName = Annotated[
    str,
    Path(
        max_length=60,
        pattern=worded(
            r"^[a-z][a-z_]*\.[a-z][a-z_]*$", "a job name is two lowercase words joined by a dot, e.g. health.snapshot"
        ),
        description="A job's name, e.g. health.snapshot (`GET /v1/jobs` lists them).",
        examples=["health.snapshot"],
    ),
]


def _specs(settings: Settings) -> list[JobSpec]:
    return job_specs(daily_at=settings.worker_daily_at, poll_seconds=settings.webhook_poll_seconds)


@router.get("", response_model=PageOut[JobOut], responses={**CSV_RESPONSE, **problem_responses(401, 403, 422)})
def list_jobs(
    _auth: AdminAuth,
    request: Request,
    query: Annotated[JobListQuery, Query()],
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """Every job of `csroi worker` with its schedule, last run (status, duration, result or error) and next run;
    one page (the worker has a handful of jobs)."""
    jobs = service.list_jobs(session, _specs(settings), now=utcnow())
    page = Page[JobOut](items=jobs, next_cursor=None)
    if wants_csv(request, query.format):
        return csv_response(page.items, JobOut, filename="jobs.csv")
    return page_out(page, get_app_settings(request).currency)


@router.get(
    "/{name}/runs",
    response_model=PageOut[JobRunOut],
    responses={**CSV_RESPONSE, **problem_responses(401, 403, 404, 422)},
)
def list_runs(
    _auth: AdminAuth,
    request: Request,
    name: JobName,
    query: Annotated[JobRunQuery, Query()],
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """A job's runs, newest first (JSON or CSV): when, how triggered, status, duration, result or error."""
    page = service.list_runs(session, _specs(settings), name, query)
    if wants_csv(request, query.format):
        return csv_response(page.items, JobRunOut, next_cursor=page.next_cursor, filename=f"{name}-runs.csv")
    return page_out(page, get_app_settings(request).currency)
