"""The ClickHouse store on chDB (ClickHouse in process), through both transports: our chDB client and
clickhouse-connect (the server client, which also drives chDB): its parameter binding and inserts run the same
tests. One chDB data directory per test process (chDB runs one embedded server per process), a fresh database per
test, dropped afterwards."""

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import JobRun
from app.usage.clickhouse import ClickHouseSettings, ClickHouseStore
from app.usage.clickhouse.client import ChdbClient, ClickHouseClient, ConnectClient


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("chdb", reason="the clickhouse extra (pip install 'csroi[clickhouse]')")
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(params=["chdb", "clickhouse-connect"])
def ch_store(chdb_path: Path, request: pytest.FixtureRequest) -> Iterator[ClickHouseStore]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    client: ClickHouseClient = (
        ChdbClient(str(chdb_path)) if request.param == "chdb" else ConnectClient(f"chdb://{chdb_path}")
    )
    store = ClickHouseStore(
        f"chdb://{chdb_path}?database={database}", settings=ClickHouseSettings(cluster=None), client=client
    )
    store.create_schema()
    try:
        yield store
    finally:
        store.client.command(f"DROP DATABASE IF EXISTS {database} SYNC")


RetentionRun = Callable[[Settings, datetime], dict[str, Any]]


@pytest.fixture
def retention_run(engine: Any, session_factory: Any, session: Session) -> RetentionRun:
    """Run the `usage.retention` job once, by a worker of these settings, at `slot`; what its run recorded."""

    def run(settings: Settings, slot: datetime) -> dict[str, Any]:
        from app.worker import Worker, run_job  # noqa: PLC0415 - the worker imports every job's module

        worker = Worker(settings, engine, session_factory, name="t:1")
        try:
            assert run_job(worker, "usage.retention", slot=slot) == "ran"
        finally:
            worker.close()
        session.expire_all()
        [recorded] = session.scalars(select(JobRun).where(JobRun.job == "usage.retention"))
        result: dict[str, Any] = recorded.result
        return result

    return run
