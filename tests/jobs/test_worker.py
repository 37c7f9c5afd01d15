"""The worker's jobs (SPEC §11): each slot runs once however many workers, runs are recorded, failures kept."""

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli, migrate
from app import worker as worker_process
from app.config import Settings, get_settings
from app.jobs import locks
from app.models import HealthSnapshot, Intervention, JobRun, WebhookEvent
from app.worker import Worker, recover_interrupted, run_due, run_job
from tests.builders import make_customers, make_intervention, make_job_run, make_webhook, post_revenue, revenue

MONDAY_SLOT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 2026-11-30 is a Monday
DAILY = [
    "health.snapshot",
    "interventions.measure",
    "renewals.notices",
    "experiments.ready",
    "health.refit",
    "jobs.prune",
    "usage.retention",
]


def runs(session: Session, job: str | None = None) -> list[JobRun]:
    stmt = select(JobRun).order_by(JobRun.id)
    if job:
        stmt = stmt.where(JobRun.job == job)
    session.expire_all()
    return list(session.scalars(stmt))


class TestRunJob:
    def test_a_slot_runs_once(self, worker: Worker, session: Session) -> None:
        assert run_job(worker, "jobs.prune", slot=MONDAY_SLOT) == "ran"
        assert run_job(worker, "jobs.prune", slot=MONDAY_SLOT) == "taken"
        [run] = runs(session, "jobs.prune")
        assert (run.status, run.trigger, run.slot, run.result, run.worker) == (
            "succeeded", "schedule", MONDAY_SLOT,
            {"deleted": 0, "webhook_deliveries": 0, "webhook_attempts": 0, "webhook_events": 0}, "test:1",
        )  # fmt: skip
        assert run.finished_at is not None
        assert run.duration_ms is not None

    def test_a_manual_run_has_no_slot_and_may_repeat(self, worker: Worker, session: Session) -> None:
        assert run_job(worker, "jobs.prune") == "ran"
        assert run_job(worker, "jobs.prune") == "ran"
        assert [(r.trigger, r.slot) for r in runs(session)] == [("manual", None), ("manual", None)]

    def test_a_failing_job_is_recorded_with_its_error(
        self, worker: Worker, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(_worker: Worker, _at: datetime) -> dict:
            raise RuntimeError("the database went away")

        monkeypatch.setitem(worker_process.JOBS, "jobs.prune", broken)
        assert run_job(worker, "jobs.prune", slot=MONDAY_SLOT) == "failed"
        [run] = runs(session)
        assert (run.status, run.error, run.result) == ("failed", "RuntimeError: the database went away", None)

    def test_the_snapshot_job_stores_the_day_before_its_slot(self, worker: Worker, session: Session) -> None:
        make_customers(session, ["a", "b"])
        post_revenue(session, revenue("a", "2026-01-01", 100), revenue("b", "2026-01-01", 100))
        session.commit()
        assert run_job(worker, "health.snapshot", slot=MONDAY_SLOT) == "ran"
        days = session.scalars(select(HealthSnapshot.snapshot_date).distinct()).all()
        assert days == [date(2026, 11, 29)]
        assert runs(session)[0].result == {"date": "2026-11-29", "customers": 2, "model_version": 1}

    def test_the_measure_job_stores_due_outcomes_and_announces_them(self, worker: Worker, session: Session) -> None:
        make_customers(session, ["a"])
        post_revenue(session, revenue("a", "2026-01-01", 100))
        make_webhook(session, events=["intervention.outcome_measured"])
        expected = {"metric": "arr", "change": 10, "unit": "percent", "measure_after_days": 30}
        row = make_intervention(session, customer="a", started_on="2026-06-01", expected=expected)
        session.commit()
        assert run_job(worker, "interventions.measure", slot=MONDAY_SLOT) == "ran"
        assert runs(session)[0].result == {"measured": 1}
        session.expire_all()
        assert session.get(Intervention, row.id).outcome is not None  # type: ignore[union-attr]
        assert session.scalar(select(WebhookEvent.type)) == "intervention.outcome_measured"
        assert run_job(worker, "interventions.measure") == "ran"  # nothing due any more: nothing sent twice
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


class TestRunDue:
    def test_runs_every_due_scheduled_job_once_in_order(self, worker: Worker, session: Session) -> None:
        done: set = set()
        outcomes = run_due(worker, MONDAY_SLOT + timedelta(hours=3), done)
        assert outcomes == dict.fromkeys(DAILY, "ran")
        assert [r.job for r in runs(session)] == DAILY
        assert {r.slot for r in runs(session)} == {MONDAY_SLOT}
        assert run_due(worker, MONDAY_SLOT + timedelta(hours=4), done) == {}  # remembered: no query
        assert run_due(worker, MONDAY_SLOT + timedelta(hours=4), set()) == dict.fromkeys(DAILY, "taken")

    def test_a_worker_started_later_catches_up_the_latest_slot_only(self, worker: Worker, session: Session) -> None:
        """Started on Thursday at noon, the Monday refit and Thursday's daily jobs run; older days do not."""
        thursday_noon = MONDAY_SLOT + timedelta(days=3, hours=10)
        run_due(worker, thursday_noon, set())
        slots = {r.job: r.slot for r in runs(session)}
        assert slots["health.refit"] == MONDAY_SLOT
        assert slots["health.snapshot"] == MONDAY_SLOT + timedelta(days=3)
        assert len(runs(session)) == len(DAILY)

    def test_the_next_day_runs_the_next_slot(self, worker: Worker, session: Session) -> None:
        done: set = set()
        run_due(worker, MONDAY_SLOT, done)
        assert set(run_due(worker, MONDAY_SLOT + timedelta(days=1), done)) == set(DAILY) - {"health.refit"}


class TestInterrupted:
    def test_a_run_left_running_by_a_dead_worker_is_failed_at_start(self, worker: Worker, session: Session) -> None:
        run_id = make_job_run(session, job="health.snapshot", slot=MONDAY_SLOT, status="running")
        session.commit()
        assert recover_interrupted(worker) == 1
        [run] = runs(session)
        assert (run.id, run.status, run.error) == (run_id, "failed", "interrupted: the worker stopped during the run")

    def test_a_run_whose_worker_holds_the_lock_is_left_alone(
        self, worker: Worker, session: Session, engine: Engine, dialect: str
    ) -> None:
        if dialect != "postgresql":
            pytest.skip("advisory locks are PostgreSQL's; on SQLite one worker runs")
        make_job_run(session, job="health.snapshot", slot=MONDAY_SLOT, status="running")
        session.commit()
        with locks.job_lock(engine, "health.snapshot") as held:
            assert held
            assert recover_interrupted(worker) == 0
        assert runs(session)[0].status == "running"


class TestLocks:
    def test_a_job_another_worker_is_running_is_busy(self, worker: Worker, session: Session, engine: Engine,
                                                     dialect: str) -> None:  # fmt: skip
        if dialect != "postgresql":
            pytest.skip("advisory locks are PostgreSQL's; on SQLite one worker runs")
        with engine.connect() as other:
            assert other.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": locks.lock_key("jobs.prune")})
            assert run_job(worker, "jobs.prune", slot=MONDAY_SLOT) == "busy"
            other.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": locks.lock_key("jobs.prune")})
        assert runs(session) == []
        assert run_job(worker, "jobs.prune", slot=MONDAY_SLOT) == "ran"

    def test_keys_are_stable_and_distinct(self) -> None:
        assert locks.lock_key("health.snapshot") == locks.lock_key("health.snapshot")
        assert len({locks.lock_key(name) for name in worker_process.JOBS}) == len(worker_process.JOBS)
        assert all(-(2**63) <= locks.lock_key(name) < 2**63 for name in worker_process.JOBS)


@pytest.fixture
def two_workers(fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[tuple[Worker, Worker]]:
    for url in fresh_database_url():
        migrate.upgrade(url)
        pair = (worker_process.build(Settings(database_url=url)), worker_process.build(Settings(database_url=url)))
        try:
            yield pair
        finally:
            for process in pair:
                process.close()
                process.engine.dispose()


def test_two_workers_run_each_slot_once(two_workers: tuple[Worker, Worker]) -> None:
    """Both see the same slots due at once, each with its own connections: every slot has one run."""
    start = threading.Barrier(2)
    now = MONDAY_SLOT + timedelta(minutes=1)

    def run(process: Worker) -> None:
        done: set = set()
        start.wait()
        while len(done) < len(DAILY):  # a job busy in the other worker is tried again, then found taken
            run_due(process, now, done)

    threads = [threading.Thread(target=run, args=(w,)) for w in two_workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with two_workers[0].maker() as session:
        assert sorted((r.job, r.slot) for r in session.scalars(select(JobRun))) == sorted(
            (job, MONDAY_SLOT) for job in DAILY
        )
        assert {r.status for r in session.scalars(select(JobRun))} == {"succeeded"}


class TestCommand:
    @pytest.fixture(autouse=True)
    def keep_logging(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The command would point logging at the runner's stderr, which closes afterwards (and structlog caches
        its loggers on first use): leave the test process's logging as it is."""
        monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: None)

    def test_once_runs_one_job_and_records_it(self, cli_db: str) -> None:
        runner = CliRunner()
        assert runner.invoke(cli.cli, ["migrate"]).exit_code == 0
        result = runner.invoke(cli.cli, ["worker", "--once", "jobs.prune"])
        assert result.exit_code == 0, result.output
        engine = worker_process.make_engine(cli_db)
        try:
            with engine.connect() as conn:
                rows = conn.execute(select(JobRun.job, JobRun.trigger, JobRun.status)).all()
        finally:
            engine.dispose()
        assert [tuple(r) for r in rows] == [("jobs.prune", "manual", "succeeded")]

    def test_an_unknown_job_is_refused(self, cli_db: str) -> None:
        result = CliRunner().invoke(cli.cli, ["worker", "--once", "health.nope"])
        assert result.exit_code == 2
        assert "no job 'health.nope'" in result.output
        get_settings.cache_clear()
