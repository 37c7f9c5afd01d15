"""Webhook fixtures: a real local receiver, settings that allow it, and a worker on the test's transaction."""

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.worker import Worker
from tests.receiver import Receiver, running_receiver


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Receivers run on 127.0.0.1: allowed, as CSROI_WEBHOOK_ALLOW_PRIVATE=true allows them (SPEC §11)."""
    return Settings(database_url=database_url, webhook_allow_private=True, webhook_timeout_seconds=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def worker(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> Iterator[Worker]:
    """A worker whose sessions join the test's transaction (rolled back afterwards)."""
    process = Worker(settings, engine, session_factory, name="test:1")
    yield process
    process.close()
