"""The jobs' read views (SPEC §11: last run, status, duration, next run)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.pagination import ListQuery
from app.schemas import QueryIn
from app.types import JobStatus, JobTrigger, ResponseFormat


class JobOut(BaseModel):
    """One job of the worker with its latest run and when it is next due."""

    name: str = Field(description="The job's name, as `csroi worker --once NAME` takes it.")
    description: str = Field(description="What the job does.")
    schedule: str = Field(description="When it runs, in words (UTC).")
    last_run: int | None = Field(description="The latest run's number (`GET /v1/jobs/{name}/runs`); null: never ran.")
    last_trigger: JobTrigger | None = Field(
        description="How the latest run started: schedule, manual (`csroi worker --once`) or poll (a delivery pass "
        "that had work); null: never ran."
    )
    last_status: JobStatus | None = Field(description="running, succeeded or failed; null: never ran.")
    last_started_at: datetime | None = Field(description="When the latest run started, UTC.")
    last_finished_at: datetime | None = Field(description="When it ended, UTC; null while running.")
    last_duration_ms: int | None = Field(description="How long it took, in milliseconds; null while running.")
    last_result: Any = Field(description='What it did, e.g. {"customers": 500}; null while running or failed.')
    last_error: str | None = Field(description="Why it failed; null otherwise.")
    next_run_at: datetime | None = Field(
        description="When the job is next due, UTC: a time in the past means its latest slot has not run (no worker "
        "is running, or it is about to); null for webhooks.deliver, which runs continuously."
    )


class JobRunOut(BaseModel):
    """One run of a job."""

    id: int = Field(description="The run's number; runs are listed newest first.")
    job: str = Field(description="The job's name.")
    slot: datetime | None = Field(description="The scheduled time it ran for, UTC; null for manual runs and polls.")
    trigger: JobTrigger = Field(description="schedule, manual or poll.")
    status: JobStatus = Field(description="running, succeeded or failed.")
    started_at: datetime = Field(description="When it started, UTC.")
    finished_at: datetime | None = Field(description="When it ended, UTC; null while running.")
    duration_ms: int | None = Field(description="How long it took, in milliseconds; null while running.")
    result: Any = Field(description="What it did; null while running or failed.")
    error: str | None = Field(description="Why it failed; null otherwise.")
    worker: str = Field(description="The worker process that ran it, host:pid.")


class JobListQuery(QueryIn):
    """The jobs list: one page, every job (the worker has a handful)."""

    format: ResponseFormat | None = Field(
        None,
        description="`csv` answers text/csv with the same rows (or send `Accept: text/csv`); default JSON.",
        examples=["json"],
    )


class JobRunQuery(ListQuery):
    """A job's runs, newest first."""

    status: JobStatus | None = Field(None, description="Only runs with this status.", examples=["failed"])
