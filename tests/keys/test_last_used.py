"""A key's last use is recorded at most once a minute, and concurrent requests of one key never fail on it.

The dashboard sends several requests at once with one key. Recording the use used to upgrade the key lookup's
read transaction to a write, which SQLite refuses at once ("database is locked", a 500) when another of those
requests wrote first. These tests use their own database with committed data and real threads, since the
rolled-back transaction of the other tests cannot show two connections at work.
"""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.keys import service
from app.keys.service import Scope
from app.main import create_app
from app.models import ApiKey

THREADS = 6
ROUNDS = 8


@pytest.fixture(scope="module")
def served(
    fresh_database_url: Callable[[], Iterator[str]],
) -> Iterator[tuple[sessionmaker[Session], str, list[TestClient]]]:
    """An app on a fresh database of the suite's kind, a read key, and one client per thread."""
    databases = fresh_database_url()
    url = next(databases)
    migrate.upgrade(url)
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    with maker() as session:
        secret = service.create_key(session, name="dashboard", scopes=[Scope.read]).secret
        session.commit()
    app = create_app(Settings(database_url=url))
    app.state.engine = engine
    app.state.sessionmaker = maker
    clients = [TestClient(app, raise_server_exceptions=False) for _ in range(THREADS)]
    for client in clients:
        client.headers["Authorization"] = f"Bearer {secret}"
        client.__enter__()
    yield maker, secret, clients
    for client in clients:
        client.__exit__(None, None, None)
    engine.dispose()
    databases.close()


def forget_last_use(maker: sessionmaker[Session]) -> None:
    with maker() as session:
        session.execute(update(ApiKey).values(last_used_at=None))
        session.commit()


def last_use(maker: sessionmaker[Session]) -> datetime | None:
    with maker() as session:
        return session.scalar(select(ApiKey.last_used_at))


def test_concurrent_first_uses_of_a_key_all_succeed(
    served: tuple[sessionmaker[Session], str, list[TestClient]],
) -> None:
    maker, _, clients = served
    statuses: list[int] = []
    for _ in range(ROUNDS):
        forget_last_use(maker)
        barrier = threading.Barrier(THREADS)

        def call(client: TestClient, barrier: threading.Barrier = barrier) -> int:
            barrier.wait(timeout=10)
            return client.get("/v1/me").status_code

        with ThreadPoolExecutor(THREADS) as pool:
            statuses += list(pool.map(call, clients))
        assert last_use(maker) is not None
    assert statuses == [200] * (THREADS * ROUNDS)


def test_a_use_within_the_minute_writes_nothing(served: tuple[sessionmaker[Session], str, list[TestClient]]) -> None:
    maker, _, clients = served
    recent = utcnow() - timedelta(seconds=30)
    with maker() as session:
        session.execute(update(ApiKey).values(last_used_at=recent))
        session.commit()
    assert clients[0].get("/v1/me").status_code == 200
    assert last_use(maker) == recent


def test_a_use_after_the_minute_is_recorded(served: tuple[sessionmaker[Session], str, list[TestClient]]) -> None:
    maker, _, clients = served
    old = utcnow() - timedelta(minutes=5)
    with maker() as session:
        session.execute(update(ApiKey).values(last_used_at=old))
        session.commit()
    before = utcnow()
    assert clients[0].get("/v1/me").status_code == 200
    assert last_use(maker) >= before
