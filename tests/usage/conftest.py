"""The ClickHouse store on chDB (ClickHouse in process), through both transports: our chDB client and
clickhouse-connect (the server client, which also drives chDB): its parameter binding and inserts run the same
tests. One chDB data directory per test process (chDB runs one embedded server per process), a fresh database per
test, dropped afterwards."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

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
