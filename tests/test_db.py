"""Engines and sessions (`app/db.py`): the database the suite asked for, and metric reads with their work_mem."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from structlog.processors import format_exc_info
from structlog.testing import capture_logs

from app.db import SessionDep, get_metric_session, make_engine, make_sessionmaker, set_local_work_mem
from app.logs import add_request_id
from app.metrics.health_router import router as health_metrics_router
from app.metrics.router import router as metrics_router
from app.metrics.staffing_router import router as staffing_router
from app.metrics.unit_economics_router import router as unit_economics_router
from app.scorecard.router import router as scorecard_router

SET_WORK_MEM = "set_config('work_mem'"


def test_database_is_the_one_requested(engine: Engine, dialect: str) -> None:
    """The suite runs on the database it was asked to run on, never silently on another."""
    assert engine.dialect.name == dialect
    if os.environ.get("CSROI_REQUIRE_POSTGRES"):
        assert engine.dialect.name == "postgresql"


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent through `engine` during the test."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


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
