"""Runs of the worker's jobs (SPEC §11): what ran, when, how it ended."""

from datetime import datetime
from typing import Any, get_args

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType, UTCDateTime, one_of, utcnow
from app.types import JobStatus, JobTrigger


class JobRun(Base):
    """One run of a job. A scheduled run carries its `slot` (the time it was due): the unique (job, slot) pair is
    what makes a slot run once however many workers see it due. Manual runs and delivery passes have no slot."""

    __tablename__ = "job_run"
    __table_args__ = (
        CheckConstraint(one_of("status", get_args(JobStatus)), name="status"),
        CheckConstraint(one_of("trigger", get_args(JobTrigger)), name="trigger"),
        UniqueConstraint("job", "slot"),
        Index("ix_job_run_job_id", "job", "id"),
        Index("ix_job_run_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    slot: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # What the run did, e.g. {"customers": 500} or {"delivered": 12, "retrying": 1}.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    # host:pid of the worker process that ran it.
    worker: Mapped[str] = mapped_column(String(200))
