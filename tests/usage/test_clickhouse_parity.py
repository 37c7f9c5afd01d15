"""The same random books through the SQL store and the ClickHouse store (chDB) give the same health reads.

The SQL side is `app/usage/raw_reads.py` (raw events) on the database under test (SQLite or PostgreSQL); every
event batch is ingested into both, with re-posted rows and a second, back-dated batch. Every read function is
compared on several days, with and without a customer subset and `first`, and so is the health each side's raws score.
With daily aggregates (`POST /v1/usage/daily`) for more customers, the SQL side is the SQL store's rollup reads
(`app/usage/daily_reads.py`, which answer daily rows), and the batches' created/updated/unchanged counts are compared.
"""

import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.health import service as health_service
from app.health.schemas import HealthModelIn
from app.types import UsageComponent
from app.usage import daily, rollup
from app.usage import raw_reads as queries
from app.usage import service as usage_service
from app.usage.clickhouse import ClickHouseStore
from app.usage.daily import DailyRow
from app.usage.schemas import EventBatchResult, UsageDailyIn, UsageEventIn
from app.usage.service import EventRow, to_row
from app.usage.store import SqlStore
from tests.builders import usage_event
from tests.health import usage_books
from tests.health.usage_books import AS_OF, MODEL, random_usage_book

# MODEL's components and more: `where` on an empty string and on a numeric-looking property, distinct with
# `where`, sum with `where`, last without `where`, a window longer than the book.
EXTRA = [
    {"name": "blank_tier", "weight": 1, "kind": "other", "where": {"tier": ""}, "aggregate": "sum",
     "window_days": 40, "bad": 0, "good": 10},
    {"name": "app_devices", "weight": 1, "kind": "login", "where": {"via": "app"}, "aggregate": "distinct",
     "property": "device", "window_days": 90, "bad": 0, "good": 3},
    {"name": "active_last", "weight": 1, "kind": "active_users", "aggregate": "last", "window_days": 4,
     "bad": 0, "good": 10},
    {"name": "devices", "weight": 1, "kind": "login", "aggregate": "distinct", "property": "device",
     "window_days": 3660, "bad": 0, "good": 3},
    {"name": "seat_sum", "weight": 1, "kind": "seats", "aggregate": "avg", "window_days": 30, "per_seat": True,
     "bad": 0, "good": 1},
]  # fmt: skip
WIDE = HealthModelIn.model_validate(
    {"components": [*(c.model_dump() for c in MODEL.components), *EXTRA], "bands": MODEL.bands.model_dump()}
)
DAYS = (AS_OF, AS_OF - timedelta(days=4), AS_OF + timedelta(days=3), AS_OF - timedelta(days=120), date(2020, 1, 1))


def _extra_events(seed: int, customers: list[str]) -> list[UsageEventIn]:
    """Events for EXTRA: blank and numeric properties, devices (numbers among them), ties on one instant."""
    rng = random.Random(seed + 1000)
    end = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC) + timedelta(days=1)
    events = []
    for n in range(80):
        at = end - timedelta(seconds=rng.randrange(-2 * 86_400, 100 * 86_400), microseconds=rng.randrange(10**6))
        customer = rng.choice(customers[:10])
        props: dict[str, Any] = {"tier": rng.choice(("", "gold", 7))} if rng.random() < 0.8 else {}
        events.append(usage_event(customer, "other", at, value=Decimal(rng.randrange(-9_000_000, 9_000_000)) / 10**6,
                                  id=f"x{seed}-{n:03d}", **props))  # fmt: skip
        device = rng.choice(("ios", "android", 3, 4, True, None, "web"))
        events.append(usage_event(customer, "login", at, id=f"y{seed}-{n:03d}", via=rng.choice(("app", "web")),
                                  **({} if device is None else {"device": device})))  # fmt: skip
    for n in range(4):  # four active_users values at one instant: the highest id wins
        at = end - timedelta(days=2)
        events.append(usage_event(customers[4], "active_users", at, value=n + 1, id=f"z{seed}-{n}"))
    return events


def _daily_batches(seed: int) -> tuple[list[str], list[list[DailyRow]]]:
    """Daily aggregates for customers raw events do not feed: days around AS_OF (one past it), counts of 0, sums,
    levels on some days only, distinct values of numbers and strings; then a second batch re-sending half of them
    (some changed) with new days, and a third re-sending the second."""
    rng = random.Random(seed + 2000)
    customers = [f"d{seed}-{i}" for i in range(6)]
    kinds = usage_books.KINDS

    def make(customer: str, kind: str, day: date) -> DailyRow:
        fields: dict[str, Any] = {"customer": customer, "kind": kind, "day": day}
        if rng.random() < 0.15:
            fields["count"] = 0
        else:
            if rng.random() < 0.7:
                fields["count"] = rng.randrange(1, 30)
            if rng.random() < 0.5:
                fields["sum"] = Decimal(rng.randrange(-5_000_000, 90_000_000)) / 10**6
            if rng.random() < 0.6:
                fields["last"] = Decimal(rng.randrange(0, 40_000_000)) / 10**6
            if rng.random() < 0.6:
                fields["distinct_values"] = rng.sample(["ios", "web", "3", "4", "true", "export"], rng.randrange(1, 4))
        return daily.to_daily_row(UsageDailyIn.model_validate(fields))

    keys = {(c, k, AS_OF - timedelta(days=rng.randrange(-3, 130))) for c in customers for k in kinds for _ in range(6)}
    first = [make(*key) for key in sorted(keys)]
    resent = rng.sample(first, len(first) // 2)
    second = [r if rng.random() < 0.5 else make(*r[:3]) for r in resent]
    new = {(c, k, AS_OF - timedelta(days=rng.randrange(0, 60))) for c in customers for k in kinds} - keys
    second += [make(*key) for key in sorted(new)]
    return customers, [first, second, list(second)]


class Both:
    """Ingest every batch into the SQL database and into ClickHouse, with re-posted rows on the ClickHouse side too."""

    def __init__(self, session: Session, store: ClickHouseStore) -> None:
        self.session, self.store = session, store
        self.results: list[tuple[EventBatchResult, EventBatchResult]] = []

    def post(self, session: Session, *events: UsageEventIn) -> EventBatchResult:
        rows: list[EventRow] = [to_row(e) for e in events]
        sql = usage_service.ingest_usage_events(session, rows)
        ch = self.store.ingest_events(session, rows)
        self.results.append((sql, ch))
        return sql


@pytest.fixture
def book(session: Session, ch_store: ClickHouseStore, monkeypatch: pytest.MonkeyPatch) -> Callable[[int], list[str]]:
    both = Both(session, ch_store)
    monkeypatch.setattr(usage_books, "post_usage", both.post)

    def make(seed: int) -> list[str]:
        customers = random_usage_book(session, seed)
        extra = _extra_events(seed, customers)
        both.post(session, *extra[::2])
        # A second batch: the rest (back-dated among them) and a third of the first batch again (duplicates).
        rng = random.Random(seed)
        both.post(session, *extra[1::2], *rng.sample(extra[::2], len(extra) // 6))
        for sql, ch in both.results:
            assert sql == ch
        assert any(sql.duplicates for sql, _ in both.results)
        return customers

    return make


def _assert_model_raws_agree(
    session: Session,
    ch_store: ClickHouseStore,
    reference: Any,
    components: Sequence[UsageComponent],
    *,
    customer_lists: Sequence[list[str] | None],
    first: Any,
) -> None:
    """`model_raws` of the ClickHouse store equals the reference's (`queries` or a `SqlStore`) on every day of DAYS,
    for each list of customers, with and without the components' first-seen times given."""
    for as_of in DAYS:
        for who in customer_lists:
            for seen in (None, first):
                options: dict[str, Any] = {"as_of": as_of, "customers": who, "seats": True, "first": seen}
                expected = reference.model_raws(session, components, **options)
                got = ch_store.model_raws(session, components, **options)
                for component, want, have in zip(components, expected[0], got[0], strict=True):
                    assert have == want, (component.name, as_of, who, seen is None)
                assert got[1] == expected[1]


class TestParity:
    """Every read of the usage-store interface: ClickHouse answers what the SQL reads answer."""

    @pytest.mark.parametrize("seed", range(3))
    def test_model_raws_and_first_seen(
        self, session: Session, ch_store: ClickHouseStore, book: Callable[[int], list[str]], seed: int
    ) -> None:
        customers = book(seed)
        components = WIDE.components
        first = queries.first_seen(session, components, customers=None)
        assert ch_store.first_seen(session, components, customers=None) == first
        subset = [*customers[1::3], "nobody"]
        assert ch_store.first_seen(session, components, customers=subset) == queries.first_seen(
            session, components, customers=subset
        )
        assert ch_store.first_seen(session, components, customers=[]) == [{} for _ in components]
        _assert_model_raws_agree(session, ch_store, queries, components, customer_lists=(None, subset, []), first=first)
        # Something to compare: every component has data for someone on AS_OF.
        raws, _ = ch_store.model_raws(session, components, as_of=AS_OF, customers=None, seats=True)
        assert all(any(v is not None for v in raw.values()) for raw in raws)

    @pytest.mark.parametrize("seed", range(2))
    def test_point_raws(
        self, session: Session, ch_store: ClickHouseStore, book: Callable[[int], list[str]], seed: int
    ) -> None:
        customers = book(seed)
        points = [(c, day) for day in DAYS for c in customers] + [(customers[0], AS_OF), ("nobody", AS_OF)]
        for components in (WIDE.components, WIDE.components[:1]):
            assert ch_store.point_raws(session, components, points, seats=True) == queries.point_raws(
                session, components, points, seats=True
            )
        assert ch_store.point_raws(session, WIDE.components, [], seats=True) == ([{} for _ in WIDE.components], {})

    @pytest.mark.parametrize("seed", range(2))
    def test_window_totals_and_latest_upto(
        self, session: Session, ch_store: ClickHouseStore, book: Callable[[int], list[str]], seed: int
    ) -> None:
        customers = book(seed)
        points = {(c, k, d) for c in [*customers, "nobody"] for k in usage_books.KINDS for d in DAYS}
        for width in (1, 7, 30, 400):
            assert ch_store.window_totals(session, points, window_days=width) == queries.window_totals(
                session, points, window_days=width
            )
        latest = queries.latest_upto(session, points)
        assert ch_store.latest_upto(session, points) == latest
        assert latest  # not vacuous
        assert ch_store.window_totals(session, set(), window_days=7) == {}
        assert ch_store.latest_upto(session, set()) == {}

    @pytest.mark.parametrize("seed", range(3))
    def test_same_health(
        self,
        session: Session,
        ch_store: ClickHouseStore,
        book: Callable[[int], list[str]],
        monkeypatch: pytest.MonkeyPatch,
        seed: int,
    ) -> None:
        book(seed)
        spec = health_service.ModelSpec(version=2, model=WIDE, default=False)
        first = health_service.first_seen(session, spec)
        expected = {
            as_of: health_service.compute_health(session, as_of=as_of, customers=None, spec=spec, first=first)
            for as_of in DAYS
        }
        monkeypatch.setattr(usage_service, "usage_store", lambda: ch_store)
        for as_of in DAYS:
            got = health_service.compute_health(session, as_of=as_of, customers=None, spec=spec, first=first)
            assert got == expected[as_of]
        assert {h.band for h in expected[AS_OF].values()} >= {"red"}  # scores to compare, not only "no data"


class TestDailyParity:
    """Raw events (the book) and daily aggregates (more customers) in both stores: the ClickHouse store answers
    what the SQL store's rollup reads answer, every read and the health."""

    @pytest.mark.parametrize("seed", range(2))
    def test_every_read(
        self,
        session: Session,
        ch_store: ClickHouseStore,
        book: Callable[[int], list[str]],
        monkeypatch: pytest.MonkeyPatch,
        seed: int,
    ) -> None:
        customers = book(seed)
        rollup.keep(session, WIDE.components)  # the SQL store reads its rollup for every component
        daily_customers, batches = _daily_batches(seed)
        for batch in batches:
            assert ch_store.ingest_daily(session, batch) == daily.ingest_daily(session, batch)
        assert ch_store.ingest_daily(session, batches[2]).unchanged == len(batches[2]) > 0
        sql = SqlStore()
        components = WIDE.components
        everyone = [*customers, *daily_customers]
        subset = [*everyone[1::3], "nobody"]
        first = sql.first_seen(session, components, customers=None)
        assert ch_store.first_seen(session, components, customers=None) == first
        assert ch_store.first_seen(session, components, customers=subset) == sql.first_seen(
            session, components, customers=subset
        )
        _assert_model_raws_agree(session, ch_store, sql, components, customer_lists=(None, subset), first=first)
        raws, _ = ch_store.model_raws(session, components, as_of=AS_OF, customers=daily_customers, seats=True)
        empty = [
            c.name for c, raw in zip(components, raws, strict=True) if not any(v is not None for v in raw.values())
        ]
        assert empty == [c.name for c in components if c.where]  # daily rows have no properties to filter on
        points = [(c, day) for day in DAYS for c in everyone] + [("nobody", AS_OF)]
        assert ch_store.point_raws(session, components, points, seats=True) == sql.point_raws(
            session, components, points, seats=True
        )
        windows = {(c, k, d) for c in everyone for k in usage_books.KINDS for d in DAYS}
        for width in (1, 7, 400):
            assert ch_store.window_totals(session, windows, window_days=width) == sql.window_totals(
                session, windows, window_days=width
            )
        assert ch_store.latest_upto(session, windows) == sql.latest_upto(session, windows)
        spec = health_service.ModelSpec(version=2, model=WIDE, default=False)
        monkeypatch.setattr(usage_service, "usage_store", lambda: sql)
        expected_health = health_service.compute_health(session, as_of=AS_OF, customers=None, spec=spec)
        monkeypatch.setattr(usage_service, "usage_store", lambda: ch_store)
        assert health_service.compute_health(session, as_of=AS_OF, customers=None, spec=spec) == expected_health
        assert {h.band for cid, h in expected_health.items() if cid in daily_customers} - {"no_data"}
