"""One worker at a time per job (SPEC §11): PostgreSQL session advisory locks; SQLite has one worker.

A job's run holds `pg_try_advisory_lock(<job key>)` on a connection of its own for as long as it runs. A second
worker (or `csroi worker --once`) that finds the lock taken skips the job instead of waiting. The unique (job, slot)
row of `job_run` is what makes each scheduled slot run once; the lock adds that two runs of one job never overlap,
and tells a starting worker which `running` rows were left by a worker that died (their lock is free).

On SQLite there are no advisory locks; run one worker per database (docs/operations.md). Even then a slot runs
once, through its unique row.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

NAMESPACE = b"csroi-job:"
log = structlog.get_logger("csroi.worker")


def lock_key(job: str) -> int:
    """A stable signed 64-bit key for the job's advisory lock."""
    return int.from_bytes(hashlib.sha256(NAMESPACE + job.encode()).digest()[:8], "big", signed=True)


@contextmanager
def job_lock(engine: Engine, job: str) -> Iterator[bool]:
    """Yield True while this process holds the job's lock, False when another holds it (never waits).

    On PostgreSQL the lock lives on a dedicated autocommit connection (no transaction stays open during the job) and
    is released at the end; if the connection broke, it is discarded, which releases the lock server-side. Other
    databases always yield True.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(job)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = bool(conn.scalar(select(func.pg_try_advisory_lock(key))))
        try:
            yield got
        finally:
            if got:
                try:
                    conn.scalar(select(func.pg_advisory_unlock(key)))
                except Exception:  # a broken connection: drop it, so the server ends the session and its lock
                    log.warning("job_unlock_failed", job=job)
                    conn.invalidate()
