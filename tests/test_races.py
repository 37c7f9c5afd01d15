"""Concurrent writers against one app on PostgreSQL (SPEC §13 "Racing retries", issue 10).

Real threads, each with its own TestClient, post at the same moment (a barrier releases them) into a fresh
database of this module, with committed data: the isolation of the other tests (a rolled-back outer transaction
on one connection) cannot show what two connections do to each other. SQLite has one writer at a time, so there
is nothing to race there: the count semantics these tests rely on are tested on both databases in
tests/test_batch.py and tests/ledger/test_ingest.py.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.ledger import ingest
from app.main import create_app
from app.models import ArrChange, ArrMonth, Customer, RevenueEvent, UsageDaily, UsageEvent, UsageFeed
from tests.builders import make_api_key

ROUNDS = 40
SAME_BATCH_ROUNDS = 20
ITEMS = 200
CUSTOMERS_PER_BATCH = 20


@dataclass
class Racer:
    """The app under race, its engine, and one client per thread."""

    engine: Engine
    clients: tuple[TestClient, TestClient]

    def race(self, method: str, requests: tuple[tuple[str, Any], tuple[str, Any]]) -> list[httpx.Response]:
        """Send two requests `(path, json)` from two threads, released together by a barrier."""
        barrier = threading.Barrier(2)

        def send(client: TestClient, path: str, body: Any) -> httpx.Response:
            barrier.wait(timeout=10)
            return client.request(method, path, json=body)

        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(send, c, path, body) for c, (path, body) in zip(self.clients, requests, strict=True)]
            return [f.result() for f in futures]

    def race_post(self, path: str, first: Any, second: Any) -> list[httpx.Response]:
        """Post `first` and `second` to `path` at the same moment."""
        return self.race("POST", ((path, first), (path, second)))


@pytest.fixture(scope="module")
def racer(dialect: str, fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[Racer]:
    """An app with its own engine on a fresh, migrated PostgreSQL database; skipped on SQLite."""
    if dialect != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): concurrent writes cannot race there")
    databases = fresh_database_url()
    url = next(databases)
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=4)
    app: FastAPI = create_app(Settings(database_url=url))
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    with Session(engine) as session:
        secret = make_api_key(session)
        session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    clients = (
        TestClient(app, raise_server_exceptions=False, headers=headers),
        TestClient(app, raise_server_exceptions=False, headers=headers),
    )
    yield Racer(engine, clients)
    engine.dispose()
    databases.close()


def statuses(responses: list[list[httpx.Response]]) -> Counter[int]:
    """How many responses had each status, over every round."""
    return Counter(r.status_code for pair in responses for r in pair)


def totals(responses: list[list[httpx.Response]], *fields: str) -> list[tuple[int, ...]]:
    """Per round, each field summed over the pair of responses."""
    return [tuple(sum(r.json()[f] for r in pair) for f in fields) for pair in responses]


def _customer(prefix: str, n: int) -> str:
    return f"{prefix}-c{n % CUSTOMERS_PER_BATCH}"


def _count(engine: Engine, column: Any, prefix: str) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).where(column.like(f"{prefix}%"))) or 0


class TestRecordBatchesRacing:
    """Two batches creating the same 200 records in opposite orders: no 5xx, each item created exactly once."""

    def test_customers(self, racer: Racer) -> None:
        rounds = []
        for r in range(ROUNDS):
            items = [{"id": f"cust-{r}-{n:03d}", "name": f"Customer {n}", "tier": "low_touch"} for n in range(ITEMS)]
            rounds.append(racer.race_post("/v1/customers/batch", {"customers": items}, {"customers": items[::-1]}))
        assert statuses(rounds) == {200: 2 * ROUNDS}
        assert totals(rounds, "created", "updated") == [(ITEMS, ITEMS)] * ROUNDS
        assert _count(racer.engine, Customer.id, "cust-") == ROUNDS * ITEMS

    def test_renewals_and_their_stub_customers(self, racer: Racer) -> None:
        rounds = []
        for r in range(ROUNDS):
            items = [
                {
                    "id": f"ren-{r}-{n:03d}",
                    "customer": _customer(f"ren-{r}", n),
                    "due_date": "2026-06-30",
                    "arr_up_for_renewal": 1000 + n,
                    "status": "open",
                }
                for n in range(ITEMS)
            ]
            rounds.append(racer.race_post("/v1/renewals/batch", {"renewals": items}, {"renewals": items[::-1]}))
        assert statuses(rounds) == {200: 2 * ROUNDS}
        assert totals(rounds, "created", "updated") == [(ITEMS, ITEMS)] * ROUNDS
        assert _count(racer.engine, Customer.id, "ren-") == ROUNDS * CUSTOMERS_PER_BATCH

    def test_the_same_new_id_put_twice_is_created_once(self, racer: Racer) -> None:
        rounds = []
        for r in range(ROUNDS):
            path = f"/v1/customers/put-{r}"
            rounds.append(racer.race("PUT", ((path, {"name": "first"}), (path, {"name": "second"}))))
        assert [sorted(r.status_code for r in pair) for pair in rounds] == [[200, 201]] * ROUNDS


def _revenue_events(prefix: str) -> list[dict[str, Any]]:
    start = date(2024, 1, 1)
    return [
        {
            "id": f"{prefix}-e{n:03d}",
            "customer": _customer(prefix, n),
            "product": f"p{n % 3}",
            "effective_date": (start + timedelta(days=7 * (n // CUSTOMERS_PER_BATCH))).isoformat(),
            "arr": 1000 + 10 * n,
        }
        for n in range(ITEMS)
    ]


def _usage_events(prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-u{n:03d}",
            "customer": _customer(prefix, n),
            "kind": "login",
            "occurred_at": f"2025-03-{1 + n % 28:02d}T10:00:00Z",
        }
        for n in range(ITEMS)
    ]


def _ledger(session: Session, prefix: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every ARR change and monthly rollup row of the customers under `prefix`, in a stable order."""
    changes = session.execute(
        select(ArrChange.customer_id, ArrChange.product, ArrChange.effective_date, ArrChange.delta_cents)
        .where(ArrChange.customer_id.like(f"{prefix}%"))
        .order_by(ArrChange.customer_id, ArrChange.product, ArrChange.effective_date)
    )
    months = session.execute(
        select(ArrMonth.customer_id, ArrMonth.month, ArrMonth.opening_cents, ArrMonth.delta_cents)
        .where(ArrMonth.customer_id.like(f"{prefix}%"))
        .order_by(ArrMonth.customer_id, ArrMonth.month)
    )
    return [tuple(row) for row in changes], [tuple(row) for row in months]


def assert_ledger_is_rebuilt_from_every_event(engine: Engine, prefix: str) -> None:
    """The stored ledger equals a rebuild from the stored events: no concurrent batch's movements were lost."""
    with Session(engine) as session:
        stored = _ledger(session, prefix)
        customers = list(session.scalars(select(Customer.id).where(Customer.id.like(f"{prefix}%"))))
        ingest.rebuild_ledger(session, customers)
        rebuilt = _ledger(session, prefix)
        session.rollback()
    assert stored[0], "the races wrote no ledger"
    assert stored == rebuilt


class TestEventBatchesRacing:
    """Event batches naming the same new ids at once: no 5xx, never 409, each event accepted exactly once."""

    def test_revenue_events_in_opposite_orders(self, racer: Racer) -> None:
        rounds = []
        for r in range(ROUNDS):
            events = _revenue_events(f"rev-{r}")
            rounds.append(racer.race_post("/v1/revenue-events", {"events": events}, {"events": events[::-1]}))
        assert statuses(rounds) == {200: 2 * ROUNDS}
        assert totals(rounds, "accepted", "duplicates") == [(ITEMS, ITEMS)] * ROUNDS
        assert _count(racer.engine, RevenueEvent.id, "rev-") == ROUNDS * ITEMS
        assert_ledger_is_rebuilt_from_every_event(racer.engine, "rev-")

    def test_the_same_revenue_batch_twice_is_accepted_once(self, racer: Racer) -> None:
        rounds = []
        for r in range(SAME_BATCH_ROUNDS):
            body = {"events": _revenue_events(f"twice-{r}")}
            rounds.append(racer.race_post("/v1/revenue-events", body, body))
        assert statuses(rounds) == {200: 2 * SAME_BATCH_ROUNDS}
        outcomes = [sorted((r.json()["accepted"], r.json()["duplicates"]) for r in pair) for pair in rounds]
        assert outcomes == [[(0, ITEMS), (ITEMS, 0)]] * SAME_BATCH_ROUNDS

    def test_one_customers_ledger_keeps_both_of_two_concurrent_batches(self, racer: Racer) -> None:
        rounds = []
        for r in range(SAME_BATCH_ROUNDS):
            event = {"customer": f"both-{r}", "product": "a", "effective_date": "2025-01-01", "arr": 1200}
            first = event | {"id": f"both-{r}-a"}
            second = event | {"id": f"both-{r}-b", "product": "b", "effective_date": "2025-02-01", "arr": 600}
            rounds.append(racer.race_post("/v1/revenue-events", {"events": [first]}, {"events": [second]}))
        assert statuses(rounds) == {200: 2 * SAME_BATCH_ROUNDS}
        assert_ledger_is_rebuilt_from_every_event(racer.engine, "both-")

    def test_the_same_id_with_different_content_is_still_409(self, racer: Racer) -> None:
        rounds = []
        for r in range(SAME_BATCH_ROUNDS):
            event = {"id": f"clash-{r}", "customer": f"clash-{r}", "product": "a", "effective_date": "2025-01-01"}
            first, second = {"events": [event | {"arr": 100}]}, {"events": [event | {"arr": 200}]}
            rounds.append(racer.race_post("/v1/revenue-events", first, second))
        assert [sorted(r.status_code for r in pair) for pair in rounds] == [[200, 409]] * SAME_BATCH_ROUNDS

    def test_usage_events_in_opposite_orders(self, racer: Racer) -> None:
        rounds = []
        for r in range(ROUNDS):
            events = _usage_events(f"use-{r}")
            rounds.append(racer.race_post("/v1/events", {"events": events}, {"events": events[::-1]}))
        assert statuses(rounds) == {200: 2 * ROUNDS}
        assert totals(rounds, "accepted", "duplicates") == [(ITEMS, ITEMS)] * ROUNDS
        assert _count(racer.engine, UsageEvent.id, "use-") == ROUNDS * ITEMS
        with Session(racer.engine) as session:  # the daily rollup counts every event once (SPEC §14)
            rolled = select(func.sum(UsageDaily.events)).where(
                UsageDaily.customer_id.like("use-%"), UsageDaily.facet == ""
            )
            assert session.scalar(rolled) == ROUNDS * ITEMS

    def test_raw_events_and_daily_rows_for_one_pair(self, racer: Racer) -> None:
        """Raw events and daily aggregates of the same (customer, kind) at once: one wins, the other is a 409."""
        rounds = []
        for r in range(SAME_BATCH_ROUNDS):
            raw = {"events": [{"id": f"feed-{r}", "customer": f"feed-{r}", "kind": "login",
                               "occurred_at": "2025-03-01T10:00:00Z"}]}  # fmt: skip
            daily = {"rows": [{"customer": f"feed-{r}", "kind": "login", "day": "2025-03-02", "count": 3}]}
            rounds.append(racer.race("POST", (("/v1/events", raw), ("/v1/usage/daily", daily))))
        assert [sorted(r.status_code for r in pair) for pair in rounds] == [[200, 409]] * SAME_BATCH_ROUNDS
        with Session(racer.engine) as session:  # never both sources for one pair
            sources = select(UsageDaily.customer_id, func.count(func.distinct(UsageDaily.source))).where(
                UsageDaily.customer_id.like("feed-%")
            )
            assert {n for _, n in session.execute(sources.group_by(UsageDaily.customer_id))} == {1}


class TestUsageMonthsRacing:
    """usage_event partitions made on demand (SPEC §14): two batches needing the same new month at once."""

    def test_two_batches_needing_the_same_new_month_both_land(self, racer: Racer) -> None:
        rounds = []
        for r in range(SAME_BATCH_ROUNDS):
            at = f"{2040 + r // 12}-{1 + r % 12:02d}-15T10:00:00Z"  # a month no batch used before

            def batch(side: str, at: str = at, r: int = r) -> dict[str, Any]:
                own = [{"id": f"mon-{r}-{side}{n}", "customer": f"mon-{r}", "kind": "login", "occurred_at": at}
                       for n in range(50)]  # fmt: skip
                shared = [{"id": f"mon-{r}-s{n}", "customer": f"mon-{r}", "kind": "login", "occurred_at": at}
                          for n in range(20)]  # fmt: skip
                return {"events": own + shared}

            rounds.append(racer.race_post("/v1/events", batch("a"), batch("b")))
        assert statuses(rounds) == {200: 2 * SAME_BATCH_ROUNDS}
        # 50 + 50 own events and the 20 shared ones once: 120 accepted, 20 duplicates, per round.
        assert totals(rounds, "accepted", "duplicates") == [(120, 20)] * SAME_BATCH_ROUNDS
        assert _count(racer.engine, UsageEvent.id, "mon-") == SAME_BATCH_ROUNDS * 120

    def test_one_id_in_two_new_months_at_once_is_stored_once_and_the_other_is_409(self, racer: Racer) -> None:
        rounds = []
        for r in range(SAME_BATCH_ROUNDS):
            event = {"id": f"two-{r}", "customer": f"two-{r}", "kind": "login"}
            first = {"events": [event | {"occurred_at": f"{2050 + r}-01-10T00:00:00Z"}]}
            second = {"events": [event | {"occurred_at": f"{2050 + r}-02-10T00:00:00Z"}]}
            rounds.append(racer.race_post("/v1/events", first, second))
        assert [sorted(r.status_code for r in pair) for pair in rounds] == [[200, 409]] * SAME_BATCH_ROUNDS
        assert _count(racer.engine, UsageEvent.id, "two-") == SAME_BATCH_ROUNDS


class TestFeedsRacing:
    """A (customer, kind) is fed by raw events or by daily aggregates, never both (SPEC §14): a raw batch and a
    daily batch claiming the same new pair at once. Raw ingest claims from its stage, inserting only pairs without a
    feed; the loser must wait for the winner's claim and then see it."""

    def test_raw_and_daily_for_one_new_pair_at_once_one_wins_and_the_other_is_409(self, racer: Racer) -> None:
        rounds = []
        for r in range(SAME_BATCH_ROUNDS):
            customer = f"claim-{r}"
            raw = {"events": [{"id": f"{customer}-e{n}", "customer": customer, "kind": "login",
                               "occurred_at": "2026-03-02T10:00:00Z"} for n in range(50)]}  # fmt: skip
            daily = {"rows": [{"customer": customer, "kind": "login", "day": "2026-03-01", "count": 7}]}
            rounds.append(racer.race(
                "POST", (("/v1/events", raw), ("/v1/usage/daily", daily))
            ))  # fmt: skip
        assert [sorted(r.status_code for r in pair) for pair in rounds] == [[200, 409]] * SAME_BATCH_ROUNDS
        with Session(racer.engine) as session:
            for r, (raw_response, _) in enumerate(rounds):
                customer = f"claim-{r}"
                winner = "raw" if raw_response.status_code == 200 else "daily"
                feeds = session.execute(
                    select(UsageFeed.kind, UsageFeed.source).where(UsageFeed.customer_id == customer)
                )
                assert list(feeds) == [("login", winner)]
                days = session.execute(
                    select(UsageDaily.day, UsageDaily.events, UsageDaily.source).where(
                        UsageDaily.customer_id == customer, UsageDaily.facet == ""
                    )
                )
                # Raw: 50 events on 2026-03-02; daily: the one row of 7 on 2026-03-01; never a mix.
                expected = [(date(2026, 3, 2), 50, "raw")] if winner == "raw" else [(date(2026, 3, 1), 7, "daily")]
                assert list(days) == expected
                stored = session.scalar(select(func.count()).where(UsageEvent.customer_id == customer))
                assert stored == (50 if winner == "raw" else 0)


class TestErasureRacingIngest:
    """No foreign key usage_event -> customer (docs/operations.md): an erasure and a batch for the same customer
    at once must still leave no event without its customer."""

    def test_no_event_outlives_its_customer(self, racer: Racer) -> None:
        for r in range(SAME_BATCH_ROUNDS):
            customer = f"gdpr-{r}"
            first = [{"id": f"{customer}-old", "customer": customer, "kind": "login",
                      "occurred_at": "2026-01-05T00:00:00Z"}]  # fmt: skip
            assert racer.clients[0].post("/v1/events", json={"events": first}).status_code == 200
            batch = {"events": [{"id": f"{customer}-{n}", "customer": customer, "kind": "login",
                                 "occurred_at": f"2026-02-{1 + n:02d}T00:00:00Z"} for n in range(20)]}  # fmt: skip
            posted, erased = self._race(racer, batch, customer)
            assert posted.status_code == 200, posted.text
            assert erased.status_code == 200, erased.text
            with Session(racer.engine) as session:
                events = session.scalar(select(func.count()).where(UsageEvent.customer_id == customer)) or 0
                exists = session.get(Customer, customer) is not None
            # Erased first: the batch made a new stub for its 20 events. Batch first: all 21 events were erased.
            assert (exists, events) in {(True, 20), (False, 0)}, (exists, events)

    @staticmethod
    def _race(racer: Racer, batch: dict[str, Any], customer: str) -> tuple[httpx.Response, httpx.Response]:
        barrier = threading.Barrier(2)

        def post() -> httpx.Response:
            barrier.wait(timeout=10)
            return racer.clients[0].post("/v1/events", json=batch)

        def erase() -> httpx.Response:
            barrier.wait(timeout=10)
            return racer.clients[1].delete(f"/v1/customers/{customer}")

        with ThreadPoolExecutor(2) as pool:
            posted, erased = pool.submit(post), pool.submit(erase)
            return posted.result(), erased.result()


class TestMixedWritersRacing:
    """Different write paths naming the same new customers at once: whatever locks they share, no 5xx."""

    def test_revenue_events_and_a_customer_batch(self, racer: Racer) -> None:
        rounds = []
        for r in range(ROUNDS):
            ids = [_customer(f"mix-{r}", n) for n in reversed(range(CUSTOMERS_PER_BATCH))]
            customers = {"customers": [{"id": i, "tier": "high_touch"} for i in ids]}
            events = {"events": _revenue_events(f"mix-{r}")}
            rounds.append(racer.race("POST", (("/v1/revenue-events", events), ("/v1/customers/batch", customers))))
        assert statuses(rounds) == {200: 2 * ROUNDS}
        upserted = [pair[1].json()["created"] + pair[1].json()["updated"] for pair in rounds]
        assert upserted == [CUSTOMERS_PER_BATCH] * ROUNDS
        assert_ledger_is_rebuilt_from_every_event(racer.engine, "mix-")


class TestHealthModelPuts:
    def test_two_puts_at_once_store_two_versions(self, racer: Racer) -> None:
        """Each PUT reads the highest version and stores the next: without a lock both would take the same number
        and one would fail on the primary key (a 500)."""
        model = {"components": [{"name": "logins", "weight": 100, "kind": "login", "aggregate": "count",
                                 "window_days": 30, "bad": 0, "good": 20}]}  # fmt: skip
        rounds = [racer.race("PUT", (("/v1/health-model", model), ("/v1/health-model", model))) for _ in range(10)]
        assert statuses(rounds) == {200: 20} or statuses(rounds) == {201: 20}
        versions = sorted(r.json()["version"] for pair in rounds for r in pair)
        assert versions == list(range(versions[0], versions[0] + 20))
