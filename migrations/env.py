"""Alembic environment: models from app.models, URL from Settings (or the caller's config)."""

from alembic import context
from sqlalchemy import pool

from app.config import get_settings
from app.db import make_engine
from app.models import Base
from app.usage.partitions import include_object

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def _configure(**kwargs: object) -> None:
    url = _url()
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        # usage_event's monthly partitions and id directory are PostgreSQL storage, not models.
        include_object=include_object,
        # SQLite cannot ALTER most things: batch mode copies the table (needs the naming convention).
        render_as_batch=url.startswith("sqlite"),
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit SQL without a database."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate a live database, one transaction for the whole run."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Fail fast rather than queue behind live traffic (Warehouse's env.py).
            conn.exec_driver_sql("SET lock_timeout = '4s'")
            conn.exec_driver_sql("SET statement_timeout = '10min'")
            # The SETs autobegan a transaction; end it so Alembic owns (and commits) its own.
            conn.commit()
        _configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
