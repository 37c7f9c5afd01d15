"""Migrations are code under test: one head, up and down again, and they match the models exactly.

(pytest-alembic would do this, but its collector breaks on pytest 9; these are its four checks, by hand.)
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect

from app import migrate
from app.db import make_engine
from app.models import Base, Customer, UsageEvent
from app.usage import partitions


@pytest.fixture
def empty_url(fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[str]:
    yield from fresh_database_url()


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        # usage_event's monthly partitions and id directory (PostgreSQL) are storage of one model, not models.
        names = set(inspect(engine).get_table_names()) - {"alembic_version"}
        return {name for name in names if not partitions.STORAGE_TABLES.match(name)}
    finally:
        engine.dispose()


def test_single_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_every_revision_upgrades_and_downgrades_step_by_step(empty_url: str) -> None:
    revisions = _revisions()
    for revision in revisions:
        migrate.upgrade(empty_url, revision)
    assert _tables(empty_url) == set(Base.metadata.tables)
    for revision in reversed(revisions[:-1]):
        migrate.downgrade(empty_url, revision)
    migrate.downgrade(empty_url, "base")
    assert _tables(empty_url) == set()
    migrate.upgrade(empty_url)
    assert _tables(empty_url) == set(Base.metadata.tables)


def test_models_match_migrations(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "compare_server_default": True, "include_object": partitions.include_object}
            context = MigrationContext.configure(conn, opts=opts)
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


# --- Downgrades never drop data silently; the arr_month rollup is rebuilt on the way back up --------------------


def _book(url: str) -> None:
    """Two customers with a ledger (through the service functions, as the API writes it)."""
    from app.db import make_sessionmaker  # noqa: PLC0415 - only these tests write through the services
    from tests.builders import post_revenue, revenue  # noqa: PLC0415

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            post_revenue(
                session,
                revenue("a", "2026-01-10", 1200),
                revenue("a", "2026-03-05", 1800),
                revenue("b", "2026-02-01", 600),
                revenue("b", "2026-04-01", 0),
            )
            session.commit()
    finally:
        engine.dispose()


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def test_downgrade_refuses_to_drop_stored_data(empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(migrate.ALLOW_DATA_LOSS, raising=False)
    migrate.upgrade(empty_url)
    _book(empty_url)
    with pytest.raises(migrate.DataLossRefused) as refused:
        migrate.downgrade(empty_url, "base")
    # The first step that drops data stops it (later steps run first when going down: revenue_event before
    # customer), naming what would be lost and how to go ahead; the data is all there.
    assert "4 rows of revenue_event" in str(refused.value)
    assert migrate.ALLOW_DATA_LOSS in str(refused.value)
    assert _rows(empty_url, "SELECT count(*) FROM revenue_event") == [(4,)]
    assert _rows(empty_url, "SELECT count(*) FROM customer") == [(2,)]
    # An explicit permission goes ahead.
    migrate.downgrade(empty_url, "base", allow_data_loss=True)
    assert _tables(empty_url) == set()


def test_downgrade_of_empty_tables_needs_no_permission(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    migrate.downgrade(empty_url, "base")
    assert _tables(empty_url) == set()


def test_the_environment_variable_allows_it(empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate.upgrade(empty_url)
    _book(empty_url)
    monkeypatch.setenv(migrate.ALLOW_DATA_LOSS, "true")
    migrate.downgrade(empty_url, "base")
    assert _tables(empty_url) == set()


def test_arr_month_is_rebuilt_after_a_downgrade_and_upgrade(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    _book(empty_url)
    query = "SELECT customer_id, month, opening_cents, delta_cents, new, upsell, churn FROM arr_month ORDER BY 1, 2"
    before = _rows(empty_url, query)
    # a: new 1,200 in January, upsell 600 in March; b: new 600 in February, churn 600 in April.
    assert len(before) == 4
    arr_month = next(r for r in _revisions() if "arr_month" in _migration_file(r))
    down_to = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision(arr_month).down_revision
    assert isinstance(down_to, str)
    migrate.downgrade(empty_url, down_to)  # arr_month is derived: no permission needed
    assert "arr_month" not in _tables(empty_url)
    migrate.upgrade(empty_url)
    assert _rows(empty_url, query) == before


def _usage_book(url: str) -> None:
    """Usage events of the default model's facets and of a stored version's own facet, through the services."""
    from datetime import date  # noqa: PLC0415

    from app.db import make_sessionmaker  # noqa: PLC0415 - only these tests write through the services
    from app.health.schemas import HealthModelIn  # noqa: PLC0415
    from app.health.versions import put_health_model  # noqa: PLC0415
    from tests.builders import post_usage, usage_event  # noqa: PLC0415

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            component = {"name": "ops", "weight": 1, "kind": "report_run", "where": {"team": "ops"},
                         "aggregate": "distinct", "property": "report", "window_days": 7, "bad": 0,
                         "good": 2}  # fmt: skip
            model = HealthModelIn.model_validate({"components": [component]})
            put_health_model(session, model, today=date(2026, 3, 1))
            post_usage(
                session,
                usage_event("a", "login", "2026-03-01T09:00:00Z", id="u1"),
                usage_event("a", "login", "2026-03-01T09:00:00Z", id="u2", value=3),  # a tie: u2 is the last
                usage_event("a", "survey_response", "2026-03-02T10:00:00Z", id="u3", value=9, survey="nps"),
                usage_event("b", "feature_used", "2026-03-02T11:00:00Z", id="u4", feature="export"),
                usage_event("b", "feature_used", "2026-03-03T11:00:00Z", id="u5", feature="reports"),
                usage_event("b", "report_run", "2026-03-03T12:00:00Z", id="u6", team="ops", report="r1"),
                usage_event("b", "report_run", "2026-03-03T12:30:00Z", id="u7", team="sales", report="r2"),
            )
            session.commit()
    finally:
        engine.dispose()


def _down_to(slug: str) -> str:
    revision = next(r for r in _revisions() if slug in _migration_file(r))
    down_to = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision(revision).down_revision
    assert isinstance(down_to, str)
    return down_to


def test_usage_daily_upgrade_fills_what_ingest_keeps(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    _usage_book(empty_url)
    queries = [
        "SELECT customer_id, kind, facet, day, events, sum_micros, min_micros, max_micros, first_at, last_at, last_id,"
        " last_micros, source FROM usage_daily ORDER BY 1, 2, 3, 4",
        "SELECT * FROM usage_daily_value ORDER BY 1, 2, 3, 4, 5, 6",
        "SELECT * FROM usage_rollup_facet ORDER BY 1, 2, 3",
        "SELECT * FROM usage_feed ORDER BY 1, 2",
    ]
    before = [_rows(empty_url, q) for q in queries]
    # a: login 1 day + survey_response 1 day in facets '' and nps; b: feature_used 2 days + report_run in '' and ops
    assert len(before[0]) == 1 + 2 + 2 + 2
    assert len(before[1]) == 3  # export, reports; r1 (ops only)
    migrate.downgrade(empty_url, _down_to("usage_daily_rollup"))  # raw-fed rows are derived: no permission needed
    assert "usage_daily" not in _tables(empty_url)
    migrate.upgrade(empty_url)
    assert [_rows(empty_url, q) for q in queries] == before


def test_usage_daily_downgrade_refuses_to_drop_daily_aggregates(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.db import make_sessionmaker  # noqa: PLC0415
    from app.usage import store  # noqa: PLC0415
    from app.usage.schemas import UsageDailyIn  # noqa: PLC0415

    monkeypatch.delenv(migrate.ALLOW_DATA_LOSS, raising=False)
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with make_sessionmaker(engine)() as session:
            row = UsageDailyIn.model_validate({"customer": "w", "kind": "login", "day": "2026-03-01", "count": 5})
            store.ingest_usage_daily(session, [row])
            session.commit()
    finally:
        engine.dispose()
    with pytest.raises(migrate.DataLossRefused) as refused:
        migrate.downgrade(empty_url, _down_to("usage_daily_rollup"))
    assert "1 rows of usage_daily (daily aggregates)" in str(refused.value)


def _migration_file(revision: str) -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    return str(script.get_revision(revision).path)


# --- usage_event partitioned by month (PostgreSQL) and without its foreign key (both) ---------------------------

PARTITIONED = "5c1d3e7a9b20"


def _events(url: str) -> list[tuple[object, ...]]:
    return _rows(url, "SELECT id, customer_id, kind, value, content_hash FROM usage_event ORDER BY id")


def test_usage_event_moves_into_monthly_partitions_and_back(empty_url: str, dialect: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    before = script.get_revision(PARTITIONED).down_revision
    assert isinstance(before, str)
    migrate.upgrade(empty_url, before)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(Customer.__table__), [{"id": c, "created_at": now, "updated_at": now} for c in "ab"])
            conn.execute(
                insert(UsageEvent.__table__),
                [
                    {"id": eid, "customer_id": c, "kind": "login", "occurred_at": at, "value": 1, "properties": {},
                     "content_hash": f"h-{eid}", "received_at": now}
                    for eid, c, at in (
                        ("e1", "a", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
                        ("e2", "a", datetime(2026, 1, 1, tzinfo=UTC)),
                        ("e3", "b", datetime(2026, 1, 31, tzinfo=UTC)),
                    )
                ],
            )  # fmt: skip
    finally:
        engine.dispose()
    stored = _events(empty_url)
    assert len(stored) == 3

    migrate.upgrade(empty_url)
    assert _events(empty_url) == stored
    if dialect == "postgresql":
        placed = _rows(empty_url, "SELECT tableoid::regclass::text, id FROM usage_event ORDER BY 2")
        assert placed == [("usage_event_p202512", "e1"), ("usage_event_p202601", "e2"), ("usage_event_p202601", "e3")]
        assert _rows(empty_url, "SELECT id, content_hash FROM usage_event_id ORDER BY 1") == [
            ("e1", "h-e1"), ("e2", "h-e2"), ("e3", "h-e3"),
        ]  # fmt: skip
    assert _foreign_keys(empty_url) == []

    migrate.downgrade(empty_url, before)
    assert _events(empty_url) == stored
    assert _foreign_keys(empty_url) == ["customer"]
    if dialect == "postgresql":
        assert _rows(empty_url, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'usage_event'::regclass") == [(0,)]
    migrate.upgrade(empty_url)
    assert _events(empty_url) == stored


def _foreign_keys(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return [fk["referred_table"] for fk in inspect(engine).get_foreign_keys("usage_event")]
    finally:
        engine.dispose()
