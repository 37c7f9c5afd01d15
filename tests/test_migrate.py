"""Migrations are code under test: one head, up and down again, and they match the models exactly.

(pytest-alembic would do this, but its collector breaks on pytest 9; these are its four checks, by hand.)
"""

from collections.abc import Callable, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app import migrate
from app.db import make_engine
from app.models import Base


@pytest.fixture
def empty_url(fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[str]:
    yield from fresh_database_url()


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_single_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_every_revision_upgrades_and_downgrades_step_by_step(empty_url: str) -> None:
    revisions = _revisions()
    for revision in revisions:
        migrate.upgrade(empty_url, revision)
    assert _tables(empty_url) == set(Base.metadata.tables)
    for revision in reversed(revisions[:-1]):
        migrate.downgrade(empty_url, revision)
    migrate.downgrade(empty_url, "base")
    assert _tables(empty_url) == set()
    migrate.upgrade(empty_url)
    assert _tables(empty_url) == set(Base.metadata.tables)


def test_models_match_migrations(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
