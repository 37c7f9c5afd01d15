"""Job fixtures: a worker whose sessions join the test's transaction."""

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.worker import Worker


@pytest.fixture
def worker(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]) -> Iterator[Worker]:
    process = Worker(settings, engine, session_factory, name="test:1")
    yield process
    process.close()
