"""Daily aggregates and retention on the ClickHouse store (chDB, both transports): the SQL store's answers.

Daily rows: created / updated / unchanged, the 409 on mixing raw and daily sources both ways (also for a pair
ClickHouse holds without its SQL feed row), the 422 for days ClickHouse cannot hold, a half-written batch whose retry
converges, erasure. Retention: `expired` at ingest, the `usage.retention` job dropping whole months (events and ids)
while the rollup stays. Health-read parity of daily rows is in test_clickhouse_parity.py.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import Conflict, Unprocessable
from app.health.schemas import ComponentIn
from app.models import UsageFeed
from app.usage import daily
from app.usage import service as usage_service
from app.usage import store as usage_store
from app.usage.clickhouse import ClickHouseStore
from app.usage.daily import DailyRow
from app.usage.schemas import UsageDailyIn
from app.usage.service import to_row
from tests.builders import usage_event
from tests.usage.conftest import RetentionRun

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)


def row(customer: str = "c1", kind: str = "login", day: str = "2026-03-02", **fields: Any) -> DailyRow:
    item = UsageDailyIn.model_validate({"customer": customer, "kind": kind, "day": day, **fields})
    return daily.to_daily_row(item)


def post(client: TestClient, *rows: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post("/v1/usage/daily", json={"rows": list(rows)})
    return response.status_code, response.json()


def imported(store: ClickHouseStore) -> list[tuple[Any, ...]]:
    """Every stored daily aggregate, latest version of each day, as (customer, kind, day, events, Σ, last, values)."""
    table = store.schema.table("usage_daily_import")
    return [
        tuple(r)
        for r in store.client.query(
            "SELECT customer_id, toString(kind), toString(day), events, toInt64(sum_micros), last_micros,"  # noqa: S608
            f" distinct_values FROM {table} FINAL ORDER BY customer_id, kind, day"
        )
    ]


def event_ids(store: ClickHouseStore, table: str = "usage_event") -> list[str]:
    return [i for (i,) in store.client.query(f"SELECT id FROM {store.schema.table(table)} ORDER BY id")]  # noqa: S608


@pytest.fixture
def on_clickhouse(ch_store: ClickHouseStore, monkeypatch: pytest.MonkeyPatch) -> ClickHouseStore:
    """The API and the CLI use `ch_store` (as CSROI_USAGE_STORE=chdb://… would)."""
    monkeypatch.setattr(usage_store, "get_store", lambda: ch_store)
    return ch_store


class TestDailyIngest:
    def test_creates_replaces_and_recognises_a_resent_day(
        self, client: TestClient, session: Session, on_clickhouse: ClickHouseStore
    ) -> None:
        day = {"customer": "c1", "day": "2026-03-02"}
        rows = [
            {**day, "kind": "login", "count": 3},
            {**day, "kind": "seats", "last": 10},
            {**day, "kind": "feature_used", "distinct_values": ["b", "a"]},
        ]
        assert post(client, *rows) == (200, {"created": 3, "updated": 0, "unchanged": 0})
        assert post(client, *rows) == (200, {"created": 0, "updated": 0, "unchanged": 3})
        changed = [{**rows[0], "count": 4}, rows[1], {**rows[2], "distinct_values": ["b", "a", "c"]}]
        assert post(client, *changed) == (200, {"created": 0, "updated": 2, "unchanged": 1})
        assert client.get("/v1/customers/c1").status_code == 200  # stub customer
        assert imported(on_clickhouse) == [
            ("c1", "feature_used", "2026-03-02", 1, 1_000_000, None, ["a", "b", "c"]),
            ("c1", "login", "2026-03-02", 4, 4_000_000, None, []),
            ("c1", "seats", "2026-03-02", 1, 1_000_000, 10_000_000, []),
        ]
        # Three versions of two days are stored until a merge: reads take the latest.
        raws, seats = on_clickhouse.model_raws(
            session,
            [ComponentIn(name="l", weight=1, kind="login", aggregate="count", window_days=7, bad=0, good=1)],
            as_of=date(2026, 3, 8),
            customers=None,
            seats=True,
        )
        assert (raws, seats) == ([{"c1": Decimal(4)}], {"c1": (Decimal(10), datetime(2026, 3, 2, tzinfo=UTC))})

    def test_the_sql_stores_answers(self, session: Session, ch_store: ClickHouseStore) -> None:
        """The same batches through the SQL store and the ClickHouse store: the same counts, batch after batch."""
        batches: list[Sequence[DailyRow]] = [
            [row(), row(kind="seats", last=5), row(day="2026-03-03", count=0), row(kind="f", distinct_values=["x"])],
            [row(count=2), row(kind="seats", last=5), row(day="2026-03-03", count=0), row(day="2026-03-04")],
            [row(count=2, sum=7), row(kind="seats"), row(kind="f", distinct_values=["x", "y"]), row("c2")],
            [row(count=2, sum=7), row(kind="seats"), row(kind="f", distinct_values=["y", "x"]), row("c2")],
            [row(kind="seats", last=5), row(kind="f"), row(day="2026-03-03", count=1)],
        ]
        for batch in batches:
            assert ch_store.ingest_daily(session, batch) == daily.ingest_daily(session, batch), batch
        assert ch_store.ingest_daily(session, []) == daily.ingest_daily(session, [])

    def test_mixing_sources_is_409_both_ways(
        self, client: TestClient, session: Session, on_clickhouse: ClickHouseStore
    ) -> None:
        event = {"id": "e1", "customer": "c1", "kind": "login", "occurred_at": "2026-03-01T09:00:00Z"}
        assert client.post("/v1/events", json={"events": [event]}).status_code == 200
        day = {"customer": "c1", "day": "2026-03-02"}
        status, body = post(client, {**day, "kind": "login", "count": 2}, {**day, "kind": "seats", "last": 3})
        assert status == 409
        assert body["pairs"] == [{"customer": "c1", "kind": "login"}]
        assert imported(on_clickhouse) == []  # nothing of the batch was written
        assert post(client, {**day, "kind": "seats", "last": 3})[0] == 200
        response = client.post("/v1/events", json={"events": [{**event, "id": "e2", "kind": "seats"}, event]})
        assert response.status_code == 409
        assert response.json()["pairs"] == [{"customer": "c1", "kind": "seats"}]
        assert event_ids(on_clickhouse) == ["e1"]

    def test_a_pair_clickhouse_holds_without_its_feed_row_is_409(
        self, session: Session, ch_store: ClickHouseStore
    ) -> None:
        """A store written before feeds were recorded, or a batch whose SQL commit was lost after its ClickHouse
        insert: ClickHouse's own rows still name the pair's source."""
        ch_store.ingest_events(session, [to_row(usage_event("c1", "login", "2026-03-01T09:00:00Z", id="e1"))])
        ch_store.ingest_daily(session, [row("c2", "seats", last=4)])
        session.execute(delete(UsageFeed))
        with pytest.raises(Conflict) as caught:
            ch_store.ingest_daily(session, [row("c1", "login"), row("c3", "login")])
        assert caught.value.extra == {"pairs": [{"customer": "c1", "kind": "login"}]}
        with pytest.raises(Conflict) as caught:
            ch_store.ingest_events(session, [to_row(usage_event("c2", "seats", "2026-03-01T09:00:00Z", id="e2"))])
        assert caught.value.extra == {"pairs": [{"customer": "c2", "kind": "seats"}]}
        assert session.scalars(select(UsageFeed.customer_id)).all() == []
        assert event_ids(ch_store) == ["e1"]
        assert [r[:2] for r in imported(ch_store)] == [("c2", "seats")]

    def test_days_clickhouse_cannot_hold_are_422(self, session: Session, ch_store: ClickHouseStore) -> None:
        with pytest.raises(Unprocessable) as caught:
            ch_store.ingest_daily(session, [row(), row("c2", day="2300-01-01"), row("c3", day="9998-12-31")])
        assert "c2 login 2300-01-01, c3 login 9998-12-31" in str(caught.value.extra)  # the API takes 1900-9998
        assert imported(ch_store) == []
        assert ch_store.ingest_daily(session, [row(day="1900-01-01"), row(day="2299-12-31")]).created == 2

    def test_a_retry_after_a_half_written_batch_converges(
        self, session: Session, ch_store: ClickHouseStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A batch whose insert stopped part way (a cluster's shards, a lost connection): the retry writes what is
        missing, and the store ends as if the first attempt had succeeded."""
        ch_store.ingest_daily(session, [row("c1", count=5), row("c2", count=5)])
        batch = [row("c1", count=6), row("c2", count=6), row("c3", count=6), row("c4", count=6)]
        client = ch_store.client
        insert = client.insert

        def half(table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
            insert(table, rows[: len(rows) // 2], column_names)
            raise ConnectionError("lost")

        monkeypatch.setattr(client, "insert", half)
        with pytest.raises(ConnectionError):
            ch_store.ingest_daily(session, batch)
        monkeypatch.setattr(client, "insert", insert)
        session.rollback()
        # c1 (updated) and c2 (updated) were written: now unchanged; c3 and c4 are created.
        result = ch_store.ingest_daily(session, batch)
        assert (result.created, result.updated, result.unchanged) == (2, 0, 2)
        assert [(r[0], r[3]) for r in imported(ch_store)] == [("c1", 6), ("c2", 6), ("c3", 6), ("c4", 6)]
        assert ch_store.ingest_daily(session, batch).unchanged == 4

    def test_erase_removes_the_customers_daily_rows(self, session: Session, ch_store: ClickHouseStore) -> None:
        ch_store.ingest_daily(session, [row("c1"), row("c1", "seats", last=2), row("c2")])
        assert ch_store.erase(session, "c1") == 0  # no raw events
        assert [r[0] for r in imported(ch_store)] == ["c2"]
        # Its pairs take either source again, as after an erasure on the SQL store.
        raw = to_row(usage_event("c1", "login", "2026-03-01T09:00:00Z", id="e1"))
        assert ch_store.ingest_events(session, [raw]).accepted == 1
        assert ch_store.erase(session, "c1") == 1
        assert ch_store.ingest_daily(session, [row("c1")]).created == 1

    def test_the_cli_import(self, session: Session, on_clickhouse: ClickHouseStore) -> None:
        rows = [UsageDailyIn(customer="c1", kind="login", day=date(2026, 3, 2), count=3)]
        assert usage_store.ingest_usage_daily(session, rows).created == 1
        assert usage_store.ingest_usage_daily(session, rows).unchanged == 1


def _book(store: ClickHouseStore, session: Session) -> None:
    """Events in December 2025 and January to April 2026 (test_partitions.py's book)."""
    days = ["2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z", "2026-02-28T23:59:59Z", "2026-03-01T00:00:00Z",
            "2026-03-20T00:00:00Z", "2026-04-10T00:00:00Z"]  # fmt: skip
    events = [to_row(usage_event("c1", "login", at, id=f"e{n}")) for n, at in enumerate(days)]
    store.ingest_events(session, events)
    usage_service.ingest_usage_events(session, events)
    session.commit()


class TestRetention:
    def test_events_older_than_the_retention_are_expired_as_on_sql(
        self, session: Session, ch_store: ClickHouseStore
    ) -> None:
        now = datetime.now(UTC)
        rows = [
            to_row(usage_event("c1", "login", now - timedelta(days=400), id="old")),
            to_row(usage_event("c1", "login", now - timedelta(days=31), id="older")),
            to_row(usage_event("c1", "login", now - timedelta(days=10), id="new")),
        ]
        result = ch_store.ingest_events(session, [*rows, rows[2]], retention_days=30)
        assert (result.accepted, result.duplicates, result.expired) == (1, 1, 2)
        assert result == usage_service.ingest_usage_events(session, [*rows, rows[2]], retention_days=30)
        assert event_ids(ch_store) == ["new"]

    def test_whole_months_before_the_horizon_are_dropped_the_rollup_stays(
        self, session: Session, ch_store: ClickHouseStore
    ) -> None:
        _book(ch_store, session)
        before = ch_store.window_totals(session, {("c1", "login", date(2026, 4, 10))}, window_days=200)
        # 2026-04-15T12:00Z - 40 days = 2026-03-06T12:00Z: December, January and February ended before it.
        done = ch_store.expire_events(session, now=NOW, retention_days=40)
        assert done == usage_service.expire_events(session, now=NOW, retention_days=40)
        assert (done.horizon, done.months, done.events) == (
            datetime(2026, 3, 6, 12, tzinfo=UTC), ["2025-12", "2026-01", "2026-02"], 3
        )  # fmt: skip
        assert event_ids(ch_store) == ["e3", "e4", "e5"]
        assert event_ids(ch_store, "usage_event_id") == ["e3", "e4", "e5"]  # the months' ids went with them
        parts = ch_store.client.query(
            "SELECT DISTINCT table, partition FROM system.parts WHERE database = {db:String} AND active"
            " AND table IN ('usage_event', 'usage_event_id') ORDER BY table, partition",
            {"db": ch_store.schema.database},
        )
        assert [tuple(p) for p in parts] == [
            ("usage_event", "202603"), ("usage_event", "202604"), ("usage_event_id", "202603"),
            ("usage_event_id", "202604"),
        ]  # fmt: skip
        # Health reads the rollup, which keeps every day.
        assert ch_store.window_totals(session, {("c1", "login", date(2026, 4, 10))}, window_days=200) == before
        assert before == {("c1", "login", date(2026, 4, 10)): (6, 6_000_000)}
        again = ch_store.expire_events(session, now=NOW, retention_days=40)
        assert (again.months, again.events) == ([], 0)
        assert ch_store.expire_events(session, now=NOW, retention_days=3650).months == []

    def test_the_worker_job_drops_clickhouse_months(
        self,
        *,
        settings: Settings,
        session: Session,
        ch_store: ClickHouseStore,
        monkeypatch: pytest.MonkeyPatch,
        retention_run: RetentionRun,
    ) -> None:
        _book(ch_store, session)
        dsns: list[str] = []

        def store_for(dsn: str) -> ClickHouseStore:
            dsns.append(dsn)
            return ch_store

        monkeypatch.setattr(usage_store, "store_for", store_for)
        configured = settings.model_copy(update={"events_retention_days": 40, "usage_store": "chdb:///var/lib/ch"})
        assert retention_run(configured, NOW) == {
            "retention_days": 40, "horizon": "2026-03-06T12:00:00+00:00", "months": ["2025-12", "2026-01", "2026-02"],
            "events": 3,
        }  # fmt: skip
        assert dsns == ["chdb:///var/lib/ch"]
        assert event_ids(ch_store) == ["e3", "e4", "e5"]

    def test_a_store_whose_ids_have_no_months_deletes_the_expired_ids(
        self, session: Session, ch_store: ClickHouseStore
    ) -> None:
        """A store created before `usage_event_id` was partitioned by month (CREATE … IF NOT EXISTS kept it): the
        job deletes the expired months' ids by a mutation instead of dropping partitions."""
        db = ch_store.schema.database
        ch_store.client.command(f"DROP VIEW {db}.usage_event_id_mv SYNC")
        ch_store.client.command(f"DROP TABLE {db}.usage_event_id SYNC")
        ch_store.client.command(
            f"CREATE TABLE {db}.usage_event_id (id String, content_hash String, customer_id String)"
            " ENGINE = ReplacingMergeTree ORDER BY id"
        )
        ch_store.client.command(
            f"CREATE MATERIALIZED VIEW {db}.usage_event_id_mv TO {db}.usage_event_id AS"  # noqa: S608 - the old DDL
            f" SELECT id, content_hash, customer_id FROM {db}.usage_event"
        )
        _book(ch_store, session)
        done = ch_store.expire_events(session, now=NOW, retention_days=40)
        assert (done.months, done.events) == (["2025-12", "2026-01", "2026-02"], 3)
        assert event_ids(ch_store) == ["e3", "e4", "e5"]
        assert event_ids(ch_store, "usage_event_id") == ["e3", "e4", "e5"]
