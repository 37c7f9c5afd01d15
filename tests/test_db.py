"""Engines and sessions (`app/db.py`): the database the suite asked for, metric reads with their work_mem, and
write transactions rerun when they lose a race.
"""

import inspect
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from structlog.processors import format_exc_info
from structlog.testing import capture_logs

from app import db
from app.costs import router as costs_router
from app.customers import router as customers_router
from app.db import SessionDep, commit_retrying, get_metric_session, make_engine, make_sessionmaker, set_local_work_mem
from app.errors import Conflict
from app.ledger import router as ledger_router
from app.logs import add_request_id
from app.metrics.health_router import router as health_metrics_router
from app.metrics.router import router as metrics_router
from app.metrics.staffing_router import router as staffing_router
from app.metrics.unit_economics_router import router as unit_economics_router
from app.models import Customer
from app.renewals import router as renewals_router
from app.scorecard.router import router as scorecard_router
from app.usage import router as usage_router

SET_WORK_MEM = "set_config('work_mem'"


def test_database_is_the_one_requested(engine: Engine, dialect: str) -> None:
    """The suite runs on the database it was asked to run on, never silently on another."""
    assert engine.dialect.name == dialect
    if os.environ.get("CSROI_REQUIRE_POSTGRES"):
        assert engine.dialect.name == "postgresql"


def _work_mem_and_backend(session: Session) -> tuple[str, int]:
    work_mem, pid = session.execute(text("SELECT current_setting('work_mem'), pg_backend_pid()")).one()
    return work_mem, pid


class TestSetLocalWorkMem:
    """CSROI_METRICS_WORK_MEM: metric reads raise work_mem for their own transaction only (PostgreSQL)."""

    def test_lasts_for_the_transaction_only(self, database_url: str, dialect: str) -> None:
        """Inside the read transaction work_mem is raised; the pooled connection comes back with the server's value."""
        if dialect != "postgresql":
            pytest.skip("work_mem is a PostgreSQL setting")
        engine = make_engine(database_url, pool_size=1, max_overflow=0)  # one pooled connection, reused
        sessions = make_sessionmaker(engine)
        try:
            with sessions() as session:
                server_value, backend = _work_mem_and_backend(session)
            assert server_value != "64MB"

            for end_transaction in (Session.rollback, Session.commit, Session.close):
                with sessions() as session:
                    set_local_work_mem(session, "64MB")
                    assert _work_mem_and_backend(session) == ("64MB", backend)
                    end_transaction(session)
                with sessions() as session:
                    assert _work_mem_and_backend(session) == (server_value, backend)
        finally:
            engine.dispose()

    def test_is_a_no_op_off_postgres_or_when_off(self, session: Session, dialect: str, statements: list[str]) -> None:
        set_local_work_mem(session, None)
        set_local_work_mem(session, "")
        assert not [s for s in statements if SET_WORK_MEM in s]
        set_local_work_mem(session, "64MB")
        assert bool([s for s in statements if SET_WORK_MEM in s]) == (dialect == "postgresql")


def _metric_query(statements: list[str]) -> str:
    return next(s for s in statements if "arr_change" in s)


def _depends_on(route: APIRoute, call: Any) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call is call:
            return True
        pending.extend(dependant.dependencies)
    return False


class TestMetricSession:
    """`get_metric_session`: every metric read sets work_mem once, before its query, in the request's transaction."""

    def test_metric_route_reads_with_the_setting(self, client: TestClient, dialect: str, statements: list[str]) -> None:
        response = client.get("/v1/metrics/retention", params={"start": "2025-01-01", "end": "2025-03-31"})
        assert response.status_code == 200
        set_calls = [i for i, s in enumerate(statements) if SET_WORK_MEM in s]
        if dialect != "postgresql":
            assert set_calls == []
            return
        assert len(set_calls) == 1  # before the metric query, in the same (request's) transaction
        assert set_calls[0] < statements.index(_metric_query(statements))

    def test_metric_route_without_the_setting(self, app: FastAPI, client: TestClient, statements: list[str]) -> None:
        app.state.settings.metrics_work_mem = None
        response = client.get("/v1/metrics/retention", params={"start": "2025-01-01", "end": "2025-03-31"})
        assert response.status_code == 200
        assert not [s for s in statements if SET_WORK_MEM in s]

    def test_every_metric_read_uses_the_metric_session(self) -> None:
        # FastAPI nests included routers (app.routes), so read the routers themselves (as app.routes does).
        routers = [metrics_router, health_metrics_router, staffing_router, unit_economics_router, scorecard_router]
        reads = [
            route
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
            and "GET" in route.methods
            and (route.path.startswith("/metrics/") or route.path == "/scorecards/{month}")
        ]
        assert len(reads) >= 9
        assert [r.path for r in reads if not _depends_on(r, get_metric_session)] == []


class Recorder:
    """Stands in for a structlog logger: keeps each warning's event and fields."""

    def __init__(self) -> None:
        self.warnings: list[dict[str, Any]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.warnings.append({"event": event, **fields})


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """The retry log lines, with the pauses between attempts skipped."""
    recorder = Recorder()
    monkeypatch.setattr(db, "log", recorder)
    monkeypatch.setattr(db.clock, "sleep", lambda _seconds: None)
    return recorder


class LosesRaces:
    """Work that writes a customer, then fails with `error` on its first `failures` runs."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error, self.failures, self.runs = error, failures, 0

    def __call__(self, session: Session, customer_id: str) -> int:
        self.runs += 1
        session.add(Customer(id=customer_id))
        session.flush()
        if self.runs <= self.failures:
            raise self.error
        return self.runs


class DriverError(Exception):
    """A DBAPI error carrying its SQLSTATE, as psycopg's do."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def database_error(sqlstate: str) -> OperationalError:
    return OperationalError("INSERT ...", {}, DriverError(sqlstate))


def customer_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Customer.id)))


class TestCommitRetrying:
    """SPEC §13: a deadlock or serialization failure reruns the whole transaction; nothing else does."""

    @pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
    def test_a_lost_race_is_rolled_back_and_run_again(self, session: Session, retries: Recorder, sqlstate: str) -> None:
        work = LosesRaces(database_error(sqlstate), failures=2)
        assert commit_retrying(session, work, "acme") == 3
        assert customer_ids(session) == ["acme"]  # the failed runs' writes were rolled back
        assert [(r["event"], r["sqlstate"], r["attempt"]) for r in retries.warnings] == [
            ("transaction_retry", sqlstate, 1),
            ("transaction_retry", sqlstate, 2),
        ]

    def test_gives_up_after_the_last_attempt(self, session: Session, retries: Recorder) -> None:
        work = LosesRaces(database_error("40P01"), failures=db.WRITE_ATTEMPTS)
        with pytest.raises(OperationalError):
            commit_retrying(session, work, "acme")
        assert work.runs == db.WRITE_ATTEMPTS
        assert len(retries.warnings) == db.WRITE_ATTEMPTS - 1

    @pytest.mark.parametrize(
        "error",
        [
            IntegrityError("INSERT ...", {}, DriverError("23505")),
            database_error("57014"),  # query_canceled (statement timeout): not a lost race
            Conflict("ids used with other content", ids=["e1"]),
        ],
    )
    def test_other_errors_are_raised_at_once(self, session: Session, retries: Recorder, error: Exception) -> None:
        work = LosesRaces(error, failures=1)
        with pytest.raises(type(error)):
            commit_retrying(session, work, "acme")
        assert (work.runs, retries.warnings) == (1, [])

    def test_a_real_deadlock_is_retried(self, engine: Engine, dialect: str, retries: Recorder) -> None:
        """Two transactions take two advisory locks in opposite orders: PostgreSQL aborts one, which reruns."""
        if dialect != "postgresql":
            pytest.skip("SQLite has one writer at a time: no deadlock to detect")
        barrier = threading.Barrier(2)
        runs: Counter[int] = Counter()
        keys = (7_301_001, 7_301_002)

        def work(session: Session, first: int, second: int) -> int:
            runs[first] += 1
            session.execute(select(func.pg_advisory_xact_lock(first)))
            if runs[first] == 1:
                barrier.wait(timeout=10)  # both hold their first lock before asking for the second
            session.execute(select(func.pg_advisory_xact_lock(second)))
            return runs[first]

        def run(first: int, second: int) -> int:
            with make_sessionmaker(engine)() as session:
                return commit_retrying(session, work, first, second)

        with ThreadPoolExecutor(2) as pool:
            assert sorted(pool.map(run, keys, keys[::-1])) == [1, 2]
        assert [r["sqlstate"] for r in retries.warnings] == ["40P01"]

    def test_write_routes_commit_through_it(self) -> None:
        """The routes that create rows by client id never commit on their own (issue 10)."""
        modules = [costs_router, customers_router, ledger_router, renewals_router, usage_router]
        assert [m.__name__ for m in modules if "session.commit()" in inspect.getsource(m)] == []
        assert all("commit_retrying(" in inspect.getsource(m) for m in modules)


class TestLogsCarryNoCustomerData:
    """Issue 10: an unhandled database error is logged with its SQL and the request id, never its bound values."""

    def test_engines_hide_bound_parameters(self, engine: Engine) -> None:
        assert engine.hide_parameters

    def test_unhandled_error_log(self, app: FastAPI, client: TestClient) -> None:
        @app.get("/v1/boom-sql")
        def boom(session: SessionDep, who: str) -> None:  # a filter value, as a list route binds it
            session.execute(text("SELECT name FROM no_such_table WHERE name = :name"), {"name": who})

        with capture_logs(processors=[add_request_id, format_exc_info]) as logs:
            response = client.get("/v1/boom-sql", params={"who": "Secret Customer Ltd"})
        assert response.status_code == 500
        (line,) = [entry for entry in logs if entry["event"] == "unhandled error"]
        assert line["request_id"] == response.headers["x-request-id"]
        assert "no_such_table" in line["exception"]  # the SQL is kept: it is what a maintainer needs
        assert "SQL parameters hidden" in line["exception"]
        assert "Secret Customer Ltd" not in str(logs)
        assert "Secret Customer Ltd" not in response.text
