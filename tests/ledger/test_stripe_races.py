"""Two Stripe deliveries for one customer at the same moment, on PostgreSQL (two connections, committed data).

The rolled-back-transaction isolation of the other tests keeps one connection, so it cannot show what a second
one sees; this module migrates a fresh database of its own. SQLite has one writer at a time: nothing races there.
"""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import migrate
from app.db import make_engine
from app.ledger import service, stripe_ingest
from app.ledger.stripe_schemas import StripeEventIn, StripeEventResult
from tests.ledger.stripe_payloads import event, item, price, subscription, ts

WAIT_LIMIT_SECONDS = 20


@pytest.fixture(scope="module")
def pg_engine(dialect: str, fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[Engine]:
    if dialect != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): concurrent deliveries cannot race there")
    databases = fresh_database_url()
    url = next(databases)
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=3)
    yield engine
    engine.dispose()
    databases.close()


def seats(n: int, *, event_id: str, created: int, period: str = "2026-01-01") -> StripeEventIn:
    sub = subscription(item("si_1", price(unit_amount=4900), n), period_start=period)
    return StripeEventIn.model_validate(event("updated", sub, event_id=event_id, created=created))


def ingest_and_commit(engine: Engine, stripe_event: StripeEventIn) -> StripeEventResult:
    with Session(engine) as session:
        result = stripe_ingest.ingest_stripe_event(session, stripe_event, currency="USD")
        session.commit()
        return result


def wait_until_a_transaction_waits_for_a_lock(engine: Engine) -> None:
    """Poll until another connection of this database waits on a lock (or fail after WAIT_LIMIT_SECONDS)."""
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.scalar(query):
                return
        time.sleep(0.05)
    pytest.fail("the second delivery never waited for the first one's lock")


def test_an_older_event_racing_a_newer_one_waits_and_is_superseded(pg_engine: Engine) -> None:
    """Stripe delivers 8 seats (11:00) and, at the same moment, a retry of 5 seats (10:00) of the same period."""
    # The customer exists (a December period), so the race is on its row lock.
    ingest_and_commit(pg_engine, seats(3, event_id="evt_before", created=ts("2025-12-01"), period="2025-12-01"))
    newer = seats(8, event_id="evt_new", created=ts("2026-01-10") + 3600)
    older = seats(5, event_id="evt_old", created=ts("2026-01-10"))
    with Session(pg_engine) as first, ThreadPoolExecutor(1) as pool:
        assert stripe_ingest.ingest_stripe_event(first, newer, currency="USD").accepted == 1  # holds the customer
        second = pool.submit(ingest_and_commit, pg_engine, older)
        wait_until_a_transaction_waits_for_a_lock(pg_engine)
        first.commit()
        late = second.result(timeout=WAIT_LIMIT_SECONDS)
    assert (late.accepted, late.superseded) == (0, 1)
    with Session(pg_engine) as session:
        # 8 seats at $49 a month: 8 × 49 × 12 = $4,704 = 470,400 cents.
        assert service.arr_by_product(session, "cus_1", date(2026, 1, 1)) == {"prod_core": 8 * 4900 * 12}
