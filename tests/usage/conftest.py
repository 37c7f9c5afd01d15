"""The ClickHouse store on chDB (ClickHouse in process): one data directory per test process (chDB runs one embedded
server per process), a fresh database per test, dropped afterwards."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.usage.clickhouse import ClickHouseSettings, ClickHouseStore


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("chdb", reason="the clickhouse extra (pip install 'csroi[clickhouse]')")
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def ch_store(chdb_path: Path) -> Iterator[ClickHouseStore]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    store = ClickHouseStore(f"chdb://{chdb_path}?database={database}", settings=ClickHouseSettings(cluster=None))
    store.create_schema()
    try:
        yield store
    finally:
        store.client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
