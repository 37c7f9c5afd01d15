"""The suite runs on the database it was asked to run on, never silently on another."""

import os

from sqlalchemy.engine import Engine


def test_database_is_the_one_requested(engine: Engine, dialect: str) -> None:
    assert engine.dialect.name == dialect
    if os.environ.get("CSROI_REQUIRE_POSTGRES"):
        assert engine.dialect.name == "postgresql"
