"""usage_event at volume (SPEC §14): monthly partitions on PostgreSQL, the id kept unique across months, retention.

Partition assertions run on PostgreSQL; everything a client sees (counts, 409s, what is stored, what retention
deletes) is asserted on both databases.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.config import Settings
from app.customers.erasure import erase_customer
from app.keys.service import Scope
from app.main import create_app
from app.models import Customer, UsageEvent
from app.usage import partitions, service
from tests.builders import usage_event
from tests.usage.conftest import RetentionRun

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)


def event(eid: str, at: str, **extra: object) -> dict:
    return {"id": eid, "customer": "c1", "kind": "login", "occurred_at": at, **extra}


def post(client: TestClient, *events: dict) -> tuple[int, dict]:
    response = client.post("/v1/events", json={"events": list(events)})
    return response.status_code, response.json()


def stored(session: Session) -> list[tuple[str, str]]:
    """(id, UTC month) of every stored event."""
    session.expire_all()
    rows = session.execute(select(UsageEvent.id, UsageEvent.occurred_at).order_by(UsageEvent.id))
    return [(r.id, f"{r.occurred_at:%Y-%m}") for r in rows]


def partitions_of(session: Session) -> dict[str, list[str]]:
    """PostgreSQL: each partition's name and the ids it holds."""
    rows = session.execute(
        text("SELECT tableoid::regclass::text, id FROM usage_event ORDER BY 1, 2")
    ).all()  # fmt: skip
    found: dict[str, list[str]] = {}
    for name, eid in rows:
        found.setdefault(name, []).append(eid)
    return found


def partition_names(session: Session) -> list[str]:
    rows = session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'usage_event'::regclass ORDER BY 1"
        )
    )
    return [r[0] for r in rows]


class TestMonthsBetween:
    def test_both_ends_are_included_across_a_new_year(self) -> None:
        assert partitions.months_between((2025, 11), (2026, 2)) == [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]

    def test_one_month(self) -> None:
        assert partitions.months_between((2026, 3), (2026, 3)) == [(2026, 3)]

    def test_none_when_the_last_is_before_the_first(self) -> None:
        assert partitions.months_between((2026, 3), (2026, 2)) == []


class TestPartitionsOnDemand:
    def test_each_month_gets_its_partition_a_back_dated_one_too(
        self, client: TestClient, session: Session, dialect: str
    ) -> None:
        assert post(
            client,
            event("m1", "2026-03-31T23:59:59.999999Z"),  # the last instant of March
            event("m2", "2026-04-01T00:30:00+02:00"),  # 2026-03-31T22:30Z: March in UTC
            event("m3", "2026-04-01T00:00:00Z"),  # the first instant of April
        ) == (200, {"accepted": 3, "duplicates": 0, "expired": 0})
        # A back-dated batch: 2019 and January 2026, months before every stored one.
        assert post(client, event("b1", "2019-07-04T12:00:00Z"), event("b2", "2026-01-15T08:00:00Z"))[0] == 200
        assert stored(session) == [
            ("b1", "2019-07"), ("b2", "2026-01"), ("m1", "2026-03"), ("m2", "2026-03"), ("m3", "2026-04"),
        ]  # fmt: skip
        if dialect == "postgresql":
            assert partitions_of(session) == {
                "usage_event_p201907": ["b1"],
                "usage_event_p202601": ["b2"],
                "usage_event_p202603": ["m1", "m2"],
                "usage_event_p202604": ["m3"],
            }
            # The parent's index is every partition's: health's (customer, kind, occurred_at) lookups use it.
            indexes = session.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'usage_event_p201907' ORDER BY 1")
            ).scalars()
            # No primary key (id, occurred_at): the id directory keeps ids unique (migration 8e4f0c2d6a17).
            assert list(indexes) == ["usage_event_p201907_customer_id_kind_occurred_at_idx"]

    def test_a_month_already_there_is_not_made_again(self, client: TestClient, session: Session, dialect: str) -> None:
        assert post(client, event("a", "2026-05-01T00:00:00Z"))[0] == 200
        assert post(client, event("b", "2026-05-31T00:00:00Z"), event("c", "2026-06-01T00:00:00Z"))[0] == 200
        if dialect == "postgresql":
            assert [n for n in partition_names(session) if n >= "usage_event_p202605"] == [
                "usage_event_p202605", "usage_event_p202606",
            ]  # fmt: skip


class TestIdsAcrossMonths:
    def test_a_repost_in_another_batch_is_a_duplicate(self, client: TestClient, session: Session) -> None:
        post(client, event("e1", "2026-01-10T00:00:00Z"), event("e2", "2026-02-10T00:00:00Z"))
        again = post(client, event("e2", "2026-02-10T01:00:00+01:00"), event("e1", "2026-01-10T00:00:00Z"))
        assert again == (200, {"accepted": 0, "duplicates": 2, "expired": 0})
        assert stored(session) == [("e1", "2026-01"), ("e2", "2026-02")]

    def test_the_same_id_in_another_month_is_409_and_nothing_is_written(
        self, client: TestClient, session: Session, dialect: str
    ) -> None:
        post(client, event("e1", "2026-01-10T00:00:00Z"))
        before = partition_names(session) if dialect == "postgresql" else []
        status, body = post(
            client,
            event("new", "2026-09-01T00:00:00Z"),  # fine alone, and in a month with no partition yet
            event("e1", "2026-02-10T00:00:00Z"),  # e1 was January: another occurred_at, another month
        )
        assert (status, body["ids"]) == (409, ["e1"])
        assert stored(session) == [("e1", "2026-01")]
        if dialect == "postgresql":
            assert partition_names(session) == before  # the September partition went with the rollback

    def test_the_same_id_at_another_instant_of_the_same_month_is_409(self, client: TestClient) -> None:
        post(client, event("e1", "2026-01-10T00:00:00Z"))
        status, body = post(client, event("e1", "2026-01-10T00:00:01Z"))
        assert (status, body["ids"]) == (409, ["e1"])

    def test_the_same_id_and_instant_with_other_content_is_409(self, client: TestClient) -> None:
        post(client, event("e1", "2026-01-10T00:00:00Z"))
        status, body = post(client, event("e1", "2026-01-10T00:00:00Z", value=2))
        assert (status, body["ids"]) == (409, ["e1"])

    def test_an_erased_customers_ids_are_free_again(self, session: Session) -> None:
        service.ingest_usage_events(session, [usage_event("gone", "login", "2026-02-10T09:00:00Z", id="x1")])
        erased = erase_customer(session, "gone", actor=audit.COMMAND_LINE)
        assert erased.usage_events == 1
        # Erased as if never posted: the id may be used again, for another content and month.
        result = service.ingest_usage_events(session, [usage_event("gone", "login", "2026-03-10T09:00:00Z", id="x1")])
        assert (result.accepted, stored(session)) == (1, [("x1", "2026-03")])
        assert session.get(Customer, "gone") is not None  # the ingest made its stub again


@pytest.fixture
def retention_client(
    settings: Settings, engine: object, session_factory: object, make_key: Callable[..., str]
) -> TestClient:
    """The app with CSROI_EVENTS_RETENTION_DAYS=30."""
    app: FastAPI = create_app(settings.model_copy(update={"events_retention_days": 30}))
    app.state.engine = engine
    app.state.sessionmaker = session_factory
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {make_key(Scope.admin)}"
    return client


class TestExpiredAtIngest:
    def test_events_older_than_the_horizon_are_counted_not_stored(
        self, retention_client: TestClient, session: Session
    ) -> None:
        now = datetime.now(UTC)
        recent, old = now - timedelta(days=29), now - timedelta(days=31)
        status, body = post(
            retention_client,
            event("recent", recent.isoformat()),
            event("old", old.isoformat()),
            event("older", "2019-01-01T00:00:00Z"),
        )
        assert (status, body) == (200, {"accepted": 1, "duplicates": 0, "expired": 2})
        assert [eid for eid, _ in stored(session)] == ["recent"]

    def test_an_expired_event_is_not_compared_with_stored_ones(self, session: Session) -> None:
        # Stored without retention, then re-posted changed under a 30-day retention: expired, not a 409 (its month
        # may be dropped already; the answer must not depend on when the worker ran).
        service.ingest_usage_events(session, [usage_event("c1", "login", "2026-02-10T09:00:00Z", id="x1")])
        changed = usage_event("c1", "login", "2026-02-11T09:00:00Z", id="x1")
        result = service.ingest_usage_events(session, [changed], retention_days=30, now=NOW)
        assert (result.accepted, result.duplicates, result.expired) == (0, 0, 1)

    def test_the_horizon_is_the_instant_retention_days_before_now(self, session: Session) -> None:
        # NOW - 30 days = 2026-03-16T12:00Z: an event at that instant is kept, one a microsecond earlier is not.
        rows = [
            usage_event("c1", "login", "2026-03-16T12:00:00Z", id="kept"),
            usage_event("c1", "login", "2026-03-16T11:59:59.999999Z", id="expired"),
        ]
        result = service.ingest_usage_events(session, rows, retention_days=30, now=NOW)
        assert (result.accepted, result.expired) == (1, 1)
        assert stored(session) == [("kept", "2026-03")]


def _book(session: Session) -> None:
    """Events in December 2025 and January to April 2026."""
    days = ["2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z", "2026-02-28T23:59:59Z", "2026-03-01T00:00:00Z",
            "2026-03-20T00:00:00Z", "2026-04-10T00:00:00Z"]  # fmt: skip
    service.ingest_usage_events(session, [usage_event("c1", "login", at, id=f"e{n}") for n, at in enumerate(days)])
    session.commit()


class TestRetention:
    def test_whole_months_before_the_horizon_go_the_horizons_month_stays(self, session: Session, dialect: str) -> None:
        _book(session)
        # 2026-04-15T12:00Z - 40 days = 2026-03-06T12:00Z: December, January and February ended before it; March has
        # events before it (the 1st) and after it (the 20th), and stays whole until it ends before the horizon.
        done = service.expire_events(session, now=NOW, retention_days=40)
        assert done.horizon == datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
        assert (done.months, done.events) == (["2025-12", "2026-01", "2026-02"], 3)
        assert stored(session) == [("e3", "2026-03"), ("e4", "2026-03"), ("e5", "2026-04")]
        if dialect == "postgresql":
            assert partition_names(session) == ["usage_event_p202603", "usage_event_p202604"]
            directory = session.execute(text("SELECT id FROM usage_event_id ORDER BY id")).scalars()
            assert list(directory) == ["e3", "e4", "e5"]

    def test_a_horizon_on_a_month_start_expires_the_month_before(self, session: Session) -> None:
        _book(session)
        # 2026-04-01T00:00Z is 31 days after 2026-03-01T00:00Z: February ended exactly at the horizon.
        done = service.expire_events(session, now=datetime(2026, 4, 1, tzinfo=UTC), retention_days=31)
        assert done.months == ["2025-12", "2026-01", "2026-02"]
        assert [eid for eid, _ in stored(session)] == ["e3", "e4", "e5"]

    def test_nothing_expired_drops_nothing(self, session: Session) -> None:
        _book(session)
        done = service.expire_events(session, now=NOW, retention_days=3650)
        assert (done.months, done.events) == ([], 0)
        assert len(stored(session)) == 6

    def test_the_worker_job_records_what_it_dropped(
        self, settings: Settings, session: Session, client: TestClient, retention_run: RetentionRun
    ) -> None:
        _book(session)
        assert retention_run(settings.model_copy(update={"events_retention_days": 40}), NOW) == {
            "retention_days": 40, "horizon": "2026-03-06T12:00:00+00:00", "months": ["2025-12", "2026-01", "2026-02"],
            "events": 3,
        }  # fmt: skip
        listed = {j["name"]: j for j in client.get("/v1/jobs").json()["items"]}
        assert listed["usage.retention"]["last_result"]["events"] == 3
        assert session.scalar(select(func.count()).select_from(UsageEvent)) == 3

    def test_the_job_does_nothing_without_a_retention(
        self, settings: Settings, session: Session, retention_run: RetentionRun
    ) -> None:
        _book(session)
        assert retention_run(settings, NOW) == {"retention_days": None, "months": [], "events": 0}
        assert len(stored(session)) == 6
