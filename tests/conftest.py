"""Test fixtures: one migrated database per session, each test inside a rolled-back transaction.

The suite runs on SQLite by default. Set CSROI_TEST_DATABASE_URL to a PostgreSQL server URL (any database on
it, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run it on PostgreSQL: a fresh database is
created for the session and dropped afterwards. CI sets CSROI_REQUIRE_POSTGRES=1 so it can never silently
fall back to SQLite.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.config import Settings, get_settings
from app.db import make_engine
from app.keys.service import Scope
from app.main import create_app
from tests.builders import make_api_key
from tests.statements import recorded

TEST_URL_ENV = "CSROI_TEST_DATABASE_URL"


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(TEST_URL_ENV)
    return f"csroi test database: {make_url(url).get_backend_name() if url else 'sqlite'}"


def _postgres_database(server_url: str) -> Iterator[str]:
    """A fresh, uniquely named database on the server at `server_url`, dropped afterwards."""
    name = f"csroi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def dialect() -> str:
    """`postgresql` or `sqlite`: which database this run tests."""
    url = os.environ.get(TEST_URL_ENV)
    return make_url(url).get_backend_name() if url else "sqlite"


@pytest.fixture(scope="session")
def fresh_database_url(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Iterator[str]]:
    """A factory of empty databases of the dialect under test (for migration tests)."""

    def factory() -> Iterator[str]:
        server = os.environ.get(TEST_URL_ENV)
        if server:
            yield from _postgres_database(server)
        else:
            yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'csroi.db'}"

    return factory


@pytest.fixture(scope="session")
def database_url(fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[str]:
    """The session's database, migrated to head with Alembic (never create_all)."""
    generator = fresh_database_url()
    url = next(generator)
    migrate.upgrade(url)
    yield url
    generator.close()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent through `engine` during the test (`tests.statements.recorded`)."""
    with recorded(engine) as sent:
        yield sent


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions that commit into savepoints of the test's outer transaction."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def cli_db(fresh_database_url: Callable[[], Iterator[str]], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database that the CLI reads from DATABASE_URL."""
    for url in fresh_database_url():
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        yield url
    get_settings.cache_clear()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> FastAPI:
    """The app, every request's session joined to the test's transaction."""
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = session_factory
    return app


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    """A client without an API key."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def make_key(session: Session) -> Callable[..., str]:
    """Create an API key with the given scopes; returns its secret."""

    def factory(*scopes: Scope) -> str:
        secret = make_api_key(session, scopes=scopes)
        session.commit()
        return secret

    return factory


@pytest.fixture
def client(anonymous: TestClient, make_key: Callable[..., str]) -> TestClient:
    """A client with an admin key."""
    anonymous.headers["Authorization"] = f"Bearer {make_key(Scope.admin)}"
    return anonymous


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
