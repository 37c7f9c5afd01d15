"""Database plumbing: declarative base, engines for SQLite and PostgreSQL, per-request sessions."""

import hashlib
import random
import time as clock
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

import structlog
from fastapi import Depends, Request
from sqlalchemy import JSON, BigInteger, DateTime, Dialect, MetaData, any_, create_engine, event, literal, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, QueryableAttribute, Session, sessionmaker
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import TypeDecorator

from app.types import from_micros, to_micros

# One naming convention (STYLE.md): it also lets Alembic's batch mode alter constraints on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

# Execution option that asks for a write transaction: BEGIN IMMEDIATE on SQLite (ENGINEERING.md pitfall 10).
WRITE_OPTION = "csroi_write"

# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race and was rolled back, and
# running it again is expected to succeed (PostgreSQL docs, "Serialization Failure Handling").
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS = 4
RETRY_BASE_SECONDS = 0.02

P = ParamSpec("P")
T = TypeVar("T")
log = structlog.get_logger("csroi.db")


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC; SQLite would otherwise drop the offset (pitfall 7)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a UTC offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A JSON column (JSONB on PostgreSQL). none_as_null: Python None is SQL NULL (not the JSON value null), so
# `IS NULL` filters work.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Micros(TypeDecorator[Decimal]):
    """An exact decimal value with up to six decimals, stored as a BigInteger of millionths (`app.types`)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(Decimal(value))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return from_micros(value)


def one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> str:
    """The SQL of a CHECK constraint: `column` holds one of `values` (an enum's `get_args`), or NULL if nullable."""
    allowed = f"{column} IN ({', '.join(repr(v) for v in values)})"
    return f"{column} IS NULL OR {allowed}" if nullable else allowed


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _install_sqlite_hooks(engine: Engine) -> None:
    """WAL, foreign keys, busy timeout, and explicit BEGIN so SQLAlchemy (not pysqlite) owns transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT and BEGIN IMMEDIATE; we emit BEGIN ourselves
        # (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # FULL: an acknowledged write survives a power cut, not only a process crash (SPEC §8).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the write lock at BEGIN: a deferred one that reads first and writes
        # later fails with SQLITE_BUSY instead of waiting for the busy timeout.
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` with the pragmas and options csroi relies on."""
    # A database error's text lists the statement's bound parameters: customer names, notes, filter values.
    # That text reaches the unhandled-error log (never the answer); hide them, the SQL and request id remain.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (routes return them after committing)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; rolled back on error, closed at the end."""
    session = request.app.state.sessionmaker()
    try:
        yield session
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def get_write_session(session: Annotated[Session, Depends(get_session)]) -> Session:
    """The request's session, its transaction opened for writing (BEGIN IMMEDIATE on SQLite)."""
    session.connection(execution_options={WRITE_OPTION: True})
    return session


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, wrapped by SQLAlchemy or raised by psycopg itself; None otherwise."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlstate", None)
    return code if isinstance(code, str) else None


def commit_retrying(
    session: Session, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run `work(session, ...)` and commit; a deadlock or serialization failure reruns the whole transaction.

    SPEC §13: concurrent writers never see a 500. Sorting by id (app.batch) makes deadlocks rare, not impossible
    (two batches still lock customers and their events in two phases), so the loser is rolled back and run again,
    at most WRITE_ATTEMPTS times, after a jittered, growing pause that lets the winner commit. Write routes call
    this as their one service call, before answering: no response has started, so a rerun is invisible to the
    client. The work must be a function of the database alone (it is, for every service), as it may run twice.
    """
    attempt = 1
    while True:
        try:
            result = work(session, *args, **kwargs)
            session.commit()
        except Exception as exc:
            code = sqlstate(exc)
            if code not in RETRYABLE_SQLSTATES or attempt == WRITE_ATTEMPTS:
                raise
            session.rollback()
            pause = random.uniform(0.5, 1.5) * RETRY_BASE_SECONDS * 2 ** (attempt - 1)  # noqa: S311 - not a secret
            log.warning("transaction_retry", sqlstate=code, attempt=attempt, pause_ms=round(pause * 1000, 1))
            clock.sleep(pause)
            session.connection(execution_options={WRITE_OPTION: True})
            attempt += 1
        else:
            return result


def serialize(session: Session, name: str) -> None:
    """Hold `name`'s lock until the transaction ends: writers of the same name then run one after the other.

    PostgreSQL: a transaction-level advisory lock keyed by the name's digest (released at commit or rollback, so a
    failed request never leaves it held). SQLite needs none: its write transactions are already one at a time
    (`BEGIN IMMEDIATE`). For read-then-insert writes a unique key alone would turn into a 500, like the next version
    number of a health model.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"csroi-write:" + name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def set_local_work_mem(session: Session, work_mem: str | None) -> None:
    """On PostgreSQL, raise `work_mem` for the rest of the session's current transaction only.

    `set_config(..., true)` is `SET LOCAL` with a bound value: it ends with the transaction (commit or the
    rollback of `get_session`), so a pooled connection goes back with the server's value. `work_mem` comes
    from settings, already checked against `64MB`-style sizes (`app.config.parse_work_mem`). No-op on SQLite
    or when `work_mem` is empty.
    """
    if work_mem and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config('work_mem', :work_mem, true)"), {"work_mem": work_mem})


def get_metric_session(request: Request, session: Annotated[Session, Depends(get_session)]) -> Session:
    """The request's session for a metric read: its transaction opened with `CSROI_METRICS_WORK_MEM`.

    Metric queries sort and hash-aggregate the ledger by customer and period; at PostgreSQL's default 4 MB
    those steps spill to disk (README, retention benchmark).
    """
    set_local_work_mem(session, request.app.state.settings.metrics_work_mem)
    return session


def in_values(
    session: Session, column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:values)`, one array parameter however many values: an IN
    list of thousands of ids costs more to compile and convert than the statement takes to run."""
    ordered = sorted(set(values))
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(ordered, type_=ARRAY(column.type)))
    return column.in_(ordered)


# --- Reads shared within one session ----------------------------------------------------------------------------
# One request may need the same whole-book read several times (the ROI metric reads the ledger, the customers and
# the health of the whole book for attribution, controls and the health baseline; the scorecard does so for two
# months). `read_cache` keeps such reads in the session until it writes: any flush, any statement that is not a
# SELECT, and any commit or rollback empties every cache of the session, so a read never outlives the data it was
# read from, nor the transaction it was read in (a long-lived session sees other transactions' writes again).

_READ_CACHES = "csroi.read_caches"


def read_cache(session: Session, name: str) -> dict[Any, Any]:
    """The session's cache called `name`, emptied whenever the session writes, commits or rolls back."""
    caches: dict[str, dict[Any, Any]] = session.info.setdefault(_READ_CACHES, {})
    return caches.setdefault(name, {})


def forget_reads(session: Session) -> None:
    """Empty every `read_cache` of the session."""
    session.info.pop(_READ_CACHES, None)


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_transaction_end")  # commit or rollback, savepoints too
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_after(session: Session, *_: Any) -> None:
    forget_reads(session)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_write(state: ORMExecuteState) -> None:
    if not state.is_select:  # an INSERT, UPDATE, DELETE or text statement may change what was read
        forget_reads(state.session)


SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]
MetricSessionDep = Annotated[Session, Depends(get_metric_session)]


def day_end(as_of: date) -> datetime:
    """The first instant after `as_of` (UTC): events strictly before it count for that day."""
    return datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
