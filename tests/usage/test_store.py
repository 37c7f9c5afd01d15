"""The usage store (SPEC §14): health read from the daily rollup equals health read from raw events."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.health import service as health_service
from app.health.schemas import ComponentIn
from app.models import UsageDaily
from app.usage import rollup
from app.usage import service as usage_service
from app.usage.store import RawSqlReads, SqlStore
from tests.builders import post_usage, usage_event
from tests.health.usage_books import AS_OF, MODEL

RAW, ROLLUP = RawSqlReads(), SqlStore()
SPEC = health_service.ModelSpec(version=2, model=MODEL, default=False)
START = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)
DAYS = (AS_OF, AS_OF - timedelta(days=3), AS_OF + timedelta(days=2), AS_OF - timedelta(days=29))
_books = count()

# One event: customer, kind, day offset from AS_OF, second of the day (few: ties), value, via, survey, feature.
EVENT = st.tuples(
    st.integers(0, 3),
    st.sampled_from(["login", "survey_response", "downtime", "feature_used", "active_users", "seats", "other"]),
    st.integers(-3, 40),
    st.sampled_from([0, 1, 43_200, 86_399]),
    st.integers(0, 12),
    st.sampled_from([None, "web", "app"]),
    st.sampled_from([None, "nps", "csat"]),
    st.sampled_from([None, "a", "b", "c"]),
)
BOOK = st.lists(st.tuples(EVENT, st.booleans(), st.integers(0, 2)), min_size=1, max_size=40)


@pytest.fixture
def kept(session: Session) -> Session:
    """The session with the test model's facets kept by the rollup (as storing it as a version would)."""
    rollup.keep(session, MODEL.components)
    assert rollup.covers(session, MODEL.components)
    return session


def _post(session: Session, book: list[tuple[tuple, bool, int]]) -> list[str]:
    """The book's events in three batches (later batches back-dated too); a repeat flag re-posts an earlier event."""
    n = next(_books)
    customers = [f"b{n}-{i}" for i in range(4)]
    batches: list[list] = [[], [], []]
    posted = []
    for index, ((who, kind, back, second, value, via, survey, feature), repeat, batch) in enumerate(book):
        if repeat and posted:
            batches[batch].append(posted[index % len(posted)])  # a duplicate: must not count twice
            continue
        props = {k: v for k, v in (("via", via), ("survey", survey), ("feature", feature)) if v is not None}
        amount = Decimal(value) / 4
        if kind == "survey_response" and survey is not None:  # answers stay on their scale (SPEC §10)
            amount = Decimal({"nps": value % 11, "csat": 1 + value % 5}[survey])
        at = START - timedelta(days=back) + timedelta(seconds=second)
        event = usage_event(customers[who], kind, at, value=amount, id=f"e{n}-{index:03}", **props)
        posted.append(event)
        batches[batch].append(event)
    for batch in batches:
        if batch:
            post_usage(session, *batch)
    return customers


def _assert_same(session: Session, customers: list[str]) -> None:
    for as_of in DAYS:
        for subset in (None, customers[::2]):
            assert ROLLUP.model_raws(session, MODEL.components, as_of=as_of, customers=subset, seats=True) == (
                RAW.model_raws(session, MODEL.components, as_of=as_of, customers=subset, seats=True)
            )
        first = RAW.first_seen(session, MODEL.components, customers=None)
        assert ROLLUP.first_seen(session, MODEL.components, customers=None) == first
        assert ROLLUP.model_raws(session, MODEL.components, as_of=as_of, customers=None, seats=True, first=first) == (
            RAW.model_raws(session, MODEL.components, as_of=as_of, customers=None, seats=True, first=first)
        )
    points = [(c, d) for c in customers for d in DAYS]
    assert ROLLUP.point_raws(session, MODEL.components, points, seats=True) == RAW.point_raws(
        session, MODEL.components, points, seats=True
    )
    windows = {(c, k, d) for c in customers for k in ("login", "downtime", "seats", "other") for d in DAYS}
    assert ROLLUP.window_totals(session, windows, window_days=7) == RAW.window_totals(session, windows, window_days=7)
    assert ROLLUP.latest_upto(session, windows) == RAW.latest_upto(session, windows)


class TestRollupEqualsRaw:
    """Random small books: every component raw, the seats and the health score agree between the two paths."""

    @settings(
        max_examples=30,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(book=BOOK)
    def test_every_read_is_the_same(self, kept: Session, book: list[tuple[tuple, bool, int]]) -> None:
        customers = _post(kept, book)
        _assert_same(kept, customers)

    @pytest.mark.parametrize("seed", range(2))
    def test_health_scores_are_the_same(self, kept: Session, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
        from tests.health.usage_books import random_usage_book  # noqa: PLC0415

        random_usage_book(kept, seed)
        scores = {}
        for name, store in (("raw", RAW), ("rollup", ROLLUP)):
            monkeypatch.setattr(usage_service, "usage_store", lambda store=store: store)
            scores[name] = {d: health_service.compute_health(kept, as_of=d, customers=None, spec=SPEC) for d in DAYS}
        assert scores["rollup"] == scores["raw"]
        assert any(h.score is not None for by_day in scores["raw"].values() for h in by_day.values())


class TestHandComputed:
    """A worked example: the rollup's rows and the raw values they give."""

    def test_a_day_merges_batches_back_dated_and_duplicates(self, kept: Session) -> None:
        day = datetime(2026, 3, 5, tzinfo=UTC)
        first = [
            usage_event("hc", "downtime", day + timedelta(hours=9), value=30, id="d1"),
            usage_event("hc", "downtime", day + timedelta(hours=15), value=12, id="d2"),
        ]
        post_usage(kept, *first)
        # A back-dated event into the same day (earlier, so not the last), a tie at 15:00 with a higher id (the
        # new last), and a re-post of d1 (a duplicate: counted once).
        post_usage(
            kept,
            usage_event("hc", "downtime", day + timedelta(hours=1), value=8, id="d0"),
            usage_event("hc", "downtime", day + timedelta(hours=15), value=5, id="d3"),
            first[0],
        )
        row = kept.scalars(select(UsageDaily).where(UsageDaily.customer_id == "hc")).one()
        assert (row.day, row.facet, row.source) == (date(2026, 3, 5), "", "raw")
        assert row.events == 4  # d0, d1, d2, d3: the re-posted d1 once
        assert row.sum_micros == (8 + 30 + 12 + 5) * 1_000_000  # 55
        assert (row.min_micros, row.max_micros) == (5 * 1_000_000, 30 * 1_000_000)  # min(30, 12, 8, 5), max
        assert row.first_at == day + timedelta(hours=1)
        assert (row.last_at, row.last_id, row.last_micros) == (day + timedelta(hours=15), "d3", 5 * 1_000_000)
        totals = ROLLUP.window_totals(kept, {("hc", "downtime", date(2026, 3, 10))}, window_days=7)
        assert totals == {("hc", "downtime", date(2026, 3, 10)): (4, 55 * 1_000_000)}  # 3-4 .. 3-10 holds 3-5
        latest = ROLLUP.latest_upto(kept, {("hc", "downtime", date(2026, 3, 10))})
        assert latest == {("hc", "downtime", date(2026, 3, 10)): Decimal(5)}  # d3 wins the 15:00 tie on id

    def test_rebuild_gives_the_incremental_rows(self, kept: Session) -> None:
        from tests.health.usage_books import random_usage_book  # noqa: PLC0415

        random_usage_book(kept, 7)
        columns = (UsageDaily.customer_id, UsageDaily.kind, UsageDaily.facet, UsageDaily.day, UsageDaily.events,
                   UsageDaily.sum_micros, UsageDaily.first_at, UsageDaily.last_at, UsageDaily.last_id,
                   UsageDaily.last_micros)  # fmt: skip
        before = sorted(kept.execute(select(*columns)).all())
        written = rollup.rebuild(kept)
        after = sorted(kept.execute(select(*columns)).all())
        assert after == before
        assert written == len(before)


class TestModelVersionBackfill:
    """Storing a model version that reads a new facet or property backfills it from raw events, same transaction."""

    def test_a_new_where_and_property_are_kept_and_read_from_the_rollup(self, session: Session) -> None:
        from app.health.schemas import HealthModelIn  # noqa: PLC0415
        from app.health.versions import put_health_model  # noqa: PLC0415

        day = datetime(2026, 3, 5, tzinfo=UTC)
        post_usage(
            session,
            usage_event("m1", "report_run", day, id="r1", team="ops", report="a"),
            usage_event("m1", "report_run", day, id="r2", team="ops", report="b"),
            usage_event("m1", "report_run", day, id="r3", team="sales", report="c"),
        )
        component = ComponentIn(
            name="ops_reports", weight=1, kind="report_run", where={"team": "ops"}, aggregate="distinct",
            property="report", window_days=7, bad=0, good=2,
        )  # fmt: skip
        assert not rollup.covers(session, [component])
        put_health_model(session, HealthModelIn(components=[component]), today=date(2026, 3, 5))
        assert rollup.covers(session, [component])
        raws = ROLLUP.model_raws(session, [component], as_of=date(2026, 3, 6), customers=None, seats=False)
        assert raws == ([{"m1": Decimal(2)}], {})  # reports a and b of team ops; c is sales'
        assert raws == RAW.model_raws(session, [component], as_of=date(2026, 3, 6), customers=None, seats=False)


class TestMissingExtra:
    """A ClickHouse DSN without the `clickhouse` extra stops the service at start-up, saying what to install."""

    def test_start_up_names_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from app.usage import store as usage_store_module  # noqa: PLC0415 - the module under test

        monkeypatch.setattr(usage_store_module.importlib.util, "find_spec", lambda name: None)
        with pytest.raises(RuntimeError, match=r"pip install 'csroi\[clickhouse\]'"):
            usage_store_module.check_store("chdb:///tmp/usage")
        with pytest.raises(RuntimeError, match="clickhouse_connect"):
            usage_store_module.check_store("clickhouse://default@localhost:8123/csroi")
        usage_store_module.check_store("sql")  # the SQL stores need nothing more
        usage_store_module.check_store("raw")

    def test_installed_extra_passes(self) -> None:
        from app.usage import store as usage_store_module  # noqa: PLC0415 - the module under test

        usage_store_module.check_store("chdb:///tmp/usage")  # chdb is in the dev extra
