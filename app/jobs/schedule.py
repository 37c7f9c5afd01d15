"""The worker's schedule (SPEC §11), as data: which jobs exist, when each is due, and its slots.

A *slot* is the instant a scheduled job is due (every day at CSROI_WORKER_DAILY_AT, UTC; the refit on Mondays).
A slot runs once: the worker records it in `job_run` under a unique (job, slot) pair. A worker that was down at a
slot runs the latest missed one when it starts (as anacron does), never older ones: the daily snapshot of a
missed day can be backfilled with `csroi health snapshot --date D`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

MONDAY = 0


@dataclass(frozen=True)
class Daily:
    """Every day at `at` (UTC)."""

    at: time

    def describe(self) -> str:
        """The schedule in words."""
        return f"daily at {self.at:%H:%M} UTC"


@dataclass(frozen=True)
class Weekly:
    """Every week on `weekday` (0 is Monday) at `at` (UTC)."""

    weekday: int
    at: time

    def describe(self) -> str:
        """The schedule in words."""
        day = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[self.weekday]
        return f"weekly on {day} at {self.at:%H:%M} UTC"


@dataclass(frozen=True)
class Every:
    """Continuously: a pass every `seconds` (the webhook outbox poll)."""

    seconds: float

    def describe(self) -> str:
        """The schedule in words."""
        return f"every {self.seconds:g} s (continuous)"


Schedule = Daily | Weekly | Every


def latest_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """The latest slot at or before `now`; None for a continuous job."""
    if isinstance(schedule, Every):
        return None
    today = datetime.combine(now.astimezone(UTC).date(), schedule.at, tzinfo=UTC)
    if isinstance(schedule, Daily):
        return today if today <= now else today - timedelta(days=1)
    slot = today - timedelta(days=(today.weekday() - schedule.weekday) % 7)
    return slot if slot <= now else slot - timedelta(days=7)


def next_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """The first slot after `now`; None for a continuous job."""
    latest = latest_slot(schedule, now)
    if latest is None:
        return None
    return latest + timedelta(days=1 if isinstance(schedule, Daily) else 7)


@dataclass(frozen=True)
class JobSpec:
    """One job: its name (`csroi worker --once NAME`), what it does, and when."""

    name: str
    description: str
    schedule: Schedule


DELIVER = "webhooks.deliver"


def job_specs(*, daily_at: time, poll_seconds: float) -> list[JobSpec]:
    """Every job of the worker, in the order a worker runs the ones due together."""
    daily = Daily(daily_at)
    return [
        JobSpec(
            "health.snapshot",
            "Stores every customer's health on the day before the slot (the daily snapshot of yesterday); emits "
            "health.band_changed and customer.at_risk.",
            daily,
        ),
        JobSpec(
            "interventions.measure",
            "Stores the outcome of every intervention whose measurement date has passed; emits "
            "intervention.outcome_measured.",
            daily,
        ),
        JobSpec(
            "renewals.notices",
            "Emits renewal.due once per open renewal and notice threshold (CSROI_RENEWAL_NOTICE_DAYS).",
            daily,
        ),
        JobSpec("experiments.ready", "Emits experiment.ready once an experiment's every window has closed.", daily),
        JobSpec("health.refit", "Refits the churn model on stored snapshots and churns.", Weekly(MONDAY, daily_at)),
        JobSpec(
            "jobs.prune",
            "Deletes job runs older than CSROI_JOB_HISTORY_DAYS, and finished webhook deliveries older than"
            " CSROI_WEBHOOK_HISTORY_DAYS.",
            daily,
        ),
        JobSpec(
            "usage.retention",
            "Deletes raw usage events of every UTC month wholly older than CSROI_EVENTS_RETENTION_DAYS (PostgreSQL "
            "and ClickHouse drop the month's partition); the daily rollup that health reads stays. Does nothing when "
            "unset.",
            daily,
        ),
        JobSpec(
            DELIVER,
            "Fans new webhook events out to subscriptions and delivers due ones, signed, with retries.",
            Every(poll_seconds),
        ),
    ]
