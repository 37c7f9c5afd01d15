"""The ClickHouse usage store (SPEC §14): `pip install 'csroi[clickhouse]'`, `CSROI_USAGE_STORE=clickhouse://…`."""

from app.usage.clickhouse.schema import ClickHouseSettings, Schema
from app.usage.clickhouse.store import ClickHouseStore

__all__ = ["ClickHouseSettings", "ClickHouseStore", "Schema"]
