"""The usage store: where raw events, daily aggregates and health's usage reads live (SPEC §14).

`UsageStore` is the interface health and ingest use: the five reads of `app/usage/raw_reads.py` (same signatures,
same answers), raw and daily ingest, and erasure. `SqlStore` (the default) keeps everything in the application
database and answers health from the daily rollup; `RawSqlReads` answers from raw events and is the reference the
property test and the benchmark compare against. `get_store()` picks by `CSROI_USAGE_STORE`: unset or `sql` is
`SqlStore`; a `clickhouse://…` or `chdb://PATH` DSN is the ClickHouse store, imported only then, so the default
install needs no ClickHouse package.
"""

import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from sqlalchemy.orm import Session

from app.types import UsageComponent
from app.usage import daily, daily_reads, rollup
from app.usage import raw_reads as queries
from app.usage import service as usage_service
from app.usage.schemas import DailyBatchResult, EventBatchResult, UsageDailyIn, UsageEventIn

Raws = list[dict[str, Decimal | None]]
Seats = dict[str, tuple[Decimal, datetime]]
PointRaws = list[dict[int, Decimal | None]]
PointSeats = dict[int, tuple[Decimal, datetime]]
Window = tuple[str, str, date]


class UsageStore(Protocol):
    """What health and ingest need from wherever usage lives."""

    def model_raws(
        self,
        session: Session,
        components: Sequence[UsageComponent],
        *,
        as_of: date,
        customers: Sequence[str] | None,
        seats: bool,
        first: Sequence[Mapping[str, datetime]] | None = None,
    ) -> tuple[Raws, Seats]:
        """Every component's raw value per customer on as_of, and the latest seats when `seats` (SPEC §6)."""
        ...

    def point_raws(
        self, session: Session, components: Sequence[UsageComponent], points: Sequence[tuple[str, date]], *, seats: bool
    ) -> tuple[PointRaws, PointSeats]:
        """`model_raws` of many (customer, day) points, keyed by each point's index."""
        ...

    def first_seen(
        self, session: Session, components: Sequence[UsageComponent], *, customers: Sequence[str] | None
    ) -> list[dict[str, datetime]]:
        """When each customer first had each component's events."""
        ...

    def window_totals(
        self, session: Session, windows: set[Window], *, window_days: int
    ) -> dict[Window, tuple[int, int | None]]:
        """Event count and Σ of values (millionths) of each (customer, kind, day) window."""
        ...

    def latest_upto(self, session: Session, points: set[Window]) -> dict[Window, Decimal]:
        """The latest value of each (customer, kind, day), however old."""
        ...

    def ingest_events(
        self, session: Session, rows: list[usage_service.EventRow], *, retention_days: int | None = None
    ) -> EventBatchResult:
        """Store raw events (idempotent by id; 409 on a reused id or a daily-fed pair); events older than
        `retention_days` are counted as expired and not stored."""
        ...

    def ingest_daily(self, session: Session, rows: list[daily.DailyRow]) -> DailyBatchResult:
        """Upsert daily aggregates by (customer, kind, day) (409 on a raw-fed pair)."""
        ...

    def erase(self, session: Session, customer_id: str) -> int:
        """Delete the customer's usage rollup (raw events are erased with the customer); rows deleted."""
        ...

    def expire_events(self, session: Session, *, now: datetime, retention_days: int) -> usage_service.Expiry:
        """The `usage.retention` job: drop the raw events of every UTC month that ended `retention_days` before
        `now` (the rollup and daily aggregates stay)."""
        ...


class RawSqlReads:
    """Health reads from raw `usage_event` rows (`app/usage/raw_reads.py`): the reference answers."""

    def model_raws(
        self,
        session: Session,
        components: Sequence[UsageComponent],
        *,
        as_of: date,
        customers: Sequence[str] | None,
        seats: bool,
        first: Sequence[Mapping[str, datetime]] | None = None,
    ) -> tuple[Raws, Seats]:
        """See `UsageStore.model_raws`."""
        return queries.model_raws(session, components, as_of=as_of, customers=customers, seats=seats, first=first)

    def point_raws(
        self, session: Session, components: Sequence[UsageComponent], points: Sequence[tuple[str, date]], *, seats: bool
    ) -> tuple[PointRaws, PointSeats]:
        """See `UsageStore.point_raws`."""
        return queries.point_raws(session, components, points, seats=seats)

    def first_seen(
        self, session: Session, components: Sequence[UsageComponent], *, customers: Sequence[str] | None
    ) -> list[dict[str, datetime]]:
        """See `UsageStore.first_seen`."""
        return queries.first_seen(session, components, customers=customers)

    def window_totals(
        self, session: Session, windows: set[Window], *, window_days: int
    ) -> dict[Window, tuple[int, int | None]]:
        """See `UsageStore.window_totals`."""
        return queries.window_totals(session, windows, window_days=window_days)

    def latest_upto(self, session: Session, points: set[Window]) -> dict[Window, Decimal]:
        """See `UsageStore.latest_upto`."""
        return queries.latest_upto(session, points)

    def ingest_events(
        self, session: Session, rows: list[usage_service.EventRow], *, retention_days: int | None = None
    ) -> EventBatchResult:
        """See `UsageStore.ingest_events`: rows and their daily rollup, in the session's transaction."""
        return usage_service.ingest_usage_events(session, rows, retention_days=retention_days)

    def ingest_daily(self, session: Session, rows: list[daily.DailyRow]) -> DailyBatchResult:
        """See `UsageStore.ingest_daily`."""
        return daily.ingest_daily(session, rows)

    def erase(self, session: Session, customer_id: str) -> int:
        """See `UsageStore.erase`."""
        return rollup.erase(session, customer_id)

    def expire_events(self, session: Session, *, now: datetime, retention_days: int) -> usage_service.Expiry:
        """See `UsageStore.expire_events`: PostgreSQL drops the months' partitions, SQLite deletes their rows."""
        return usage_service.expire_events(session, now=now, retention_days=retention_days)


class SqlStore(RawSqlReads):
    """The default store: health reads from the daily rollup. A component reading a facet or property the rollup
    does not keep (no stored model has it, e.g. a model being tried out) is read from raw events instead."""

    def model_raws(
        self,
        session: Session,
        components: Sequence[UsageComponent],
        *,
        as_of: date,
        customers: Sequence[str] | None,
        seats: bool,
        first: Sequence[Mapping[str, datetime]] | None = None,
    ) -> tuple[Raws, Seats]:
        """See `UsageStore.model_raws`."""
        if not rollup.covers(session, components):
            return super().model_raws(session, components, as_of=as_of, customers=customers, seats=seats, first=first)
        return daily_reads.model_raws(session, components, as_of=as_of, customers=customers, seats=seats, first=first)

    def point_raws(
        self, session: Session, components: Sequence[UsageComponent], points: Sequence[tuple[str, date]], *, seats: bool
    ) -> tuple[PointRaws, PointSeats]:
        """See `UsageStore.point_raws`."""
        if not rollup.covers(session, components):
            return super().point_raws(session, components, points, seats=seats)
        return daily_reads.point_raws(session, components, points, seats=seats)

    def first_seen(
        self, session: Session, components: Sequence[UsageComponent], *, customers: Sequence[str] | None
    ) -> list[dict[str, datetime]]:
        """See `UsageStore.first_seen`."""
        if not rollup.covers(session, components):
            return super().first_seen(session, components, customers=customers)
        return daily_reads.first_seen(session, components, customers=customers)

    def window_totals(
        self, session: Session, windows: set[Window], *, window_days: int
    ) -> dict[Window, tuple[int, int | None]]:
        """See `UsageStore.window_totals`."""
        return daily_reads.window_totals(session, windows, window_days=window_days)

    def latest_upto(self, session: Session, points: set[Window]) -> dict[Window, Decimal]:
        """See `UsageStore.latest_upto`."""
        return daily_reads.latest_upto(session, points)


# The packages each ClickHouse DSN scheme needs: the `clickhouse` extra (`pip install 'csroi[clickhouse]'`).
_EXTRA_PACKAGES = {"chdb": "chdb", "clickhouse": "clickhouse_connect", "clickhouses": "clickhouse_connect"}


def check_store(dsn: str) -> None:
    """Stop at start-up, with what to do, when `CSROI_USAGE_STORE` names a store whose packages are not installed
    (rather than a 500 on the first usage request)."""
    scheme = dsn.split("://", 1)[0] if "://" in dsn else ""
    package = _EXTRA_PACKAGES.get(scheme)
    if package is not None and importlib.util.find_spec(package) is None:
        raise RuntimeError(
            f"CSROI_USAGE_STORE={scheme}://… needs the {package} package: install the ClickHouse extra with "
            "pip install 'csroi[clickhouse]' (docs/clickhouse.md), or unset CSROI_USAGE_STORE for the SQL store."
        )


def _clickhouse(dsn: str) -> UsageStore:
    """The ClickHouse store (`app/usage/clickhouse.py`, its optional extra), imported only when configured."""
    module = importlib.import_module("app.usage.clickhouse")
    store: UsageStore = module.ClickHouseStore(dsn)
    return store


@lru_cache
def store_for(dsn: str) -> UsageStore:
    """The store a `CSROI_USAGE_STORE` value names (one per value per process)."""
    if dsn in ("", "sql"):
        return SqlStore()
    if dsn == "raw":
        return RawSqlReads()
    return _clickhouse(dsn)


def get_store() -> UsageStore:
    """The configured usage store (`CSROI_USAGE_STORE`, read once through the settings)."""
    from app.config import get_settings  # noqa: PLC0415 - settings only when a store is first asked for

    return store_for(get_settings().usage_store)


def ingest_events(
    session: Session,
    items: Sequence[UsageEventIn | usage_service.EventRow],
    *,
    retention_days: int | None = None,
) -> EventBatchResult:
    """`POST /v1/events`', `csroi import events`' and the demo's service: the configured store ingests the batch
    (CSROI_EVENTS_RETENTION_DAYS applied)."""
    rows = [i if isinstance(i, usage_service.EventRow) else usage_service.to_row(i) for i in items]
    return get_store().ingest_events(session, rows, retention_days=retention_days)


def ingest_usage_daily(session: Session, items: Sequence[UsageDailyIn]) -> DailyBatchResult:
    """`POST /v1/usage/daily`' and `csroi import usage-daily`'s service: the rows with their defaults applied
    (`daily.to_daily_row`), upserted by the configured store."""
    return get_store().ingest_daily(session, [daily.to_daily_row(item) for item in items])
