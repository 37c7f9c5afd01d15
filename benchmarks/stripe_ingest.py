"""Stripe in benchmark: what the Stripe route costs beside posting the same revenue events. Ratios, never pass/fail.

In one process (FastAPI's TestClient) on a fresh database, the same book is posted twice, one request at a time,
alternating: `customer.subscription.created` events to POST /v1/integrations/stripe (signed, 3 items each), and the
revenue events they stand for to POST /v1/revenue-events (one 3-event batch per subscription, other customers). Then
Stripe's retry of every event (all duplicates), and the signature check and mapping alone. The two ledgers must
agree: the run exits 1 when a customer's ARR differs.

    .venv/bin/python benchmarks/stripe_ingest.py                      # SQLite in a temporary directory
    .venv/bin/python benchmarks/stripe_ingest.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import make_url
from stripe import WebhookSignature

from app import migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.keys import service as keys_service
from app.keys.service import Scope
from app.ledger import service as ledger
from app.ledger import stripe_ingest
from app.ledger.stripe_schemas import StripeEventIn
from app.logs import configure_logging
from app.main import create_app

SECRET = "whsec_bench"  # noqa: S105 - signs the benchmark's own events
START = 1767225600  # 2026-01-01T00:00:00Z
PRODUCTS = [("prod_core", 4900, "month", 1), ("prod_addon", 1500, "week", 1), ("prod_support", 90000, "year", 1)]


def subscription_event(n: int) -> dict[str, Any]:
    """A created event for customer s<n>: three items, quantities that vary with n."""
    items = [
        {
            "id": f"si_{n}_{p}",
            "quantity": 1 + (n + i) % 9,
            "price": {
                "product": p,
                "currency": "usd",
                "unit_amount": amount,
                "recurring": {"interval": interval, "interval_count": count},
            },
        }
        for i, (p, amount, interval, count) in enumerate(PRODUCTS)
    ]
    sub = {
        "id": f"sub_{n}",
        "object": "subscription",
        "customer": f"cus_{n}",
        "status": "active",
        "metadata": {"csroi_customer": f"s{n}"},
        "current_period_start": START + 86400 * (n % 300),
        "items": {"object": "list", "data": items, "has_more": False},
    }
    return {
        "id": f"evt_{n}",
        "object": "event",
        "type": "customer.subscription.created",
        "created": START,
        "data": {"object": sub},
    }


@contextmanager
def database(pg: str | None) -> Iterator[str]:
    """A fresh database: a SQLite file in a temporary directory, or a new PostgreSQL database dropped afterwards."""
    if pg is None:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    server = make_url(pg)
    name = f"csroi_bench_stripe_{uuid.uuid4().hex[:8]}"
    connect = {"host": server.host, "port": server.port, "user": server.username, "dbname": server.database}
    with psycopg.connect(**connect, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**connect, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(calls: list[Callable[[], Any]]) -> float:
    started = time.perf_counter()
    for call in calls:
        call()
    return time.perf_counter() - started


def run(url: str, n: int) -> int:
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        key = keys_service.create_key(session, name="bench", scopes=[Scope.admin]).secret
        session.commit()
    engine.dispose()
    app = create_app(Settings(database_url=url, stripe_webhook_secret=SECRET))
    payloads = [json.dumps(subscription_event(i), separators=(",", ":")) for i in range(n)]
    headers = [
        {"Content-Type": "application/json", "Stripe-Signature": WebhookSignature.generate_signature_header(p, SECRET)}
        for p in payloads
    ]
    mapped = [stripe_ingest.revenue_events(StripeEventIn.model_validate_json(p), currency="USD") for p in payloads]
    batches = [
        {
            "events": [
                {**e.model_dump(mode="json"), "id": f"api-{e.id}", "customer": f"api-{e.customer}"} for e in events
            ]
        }
        for events in mapped
    ]
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:

        def stripe_post(i: int) -> Callable[[], Any]:
            return lambda: check(client.post("/v1/integrations/stripe", content=payloads[i], headers=headers[i]))

        def api_post(i: int) -> Callable[[], Any]:
            return lambda: check(client.post("/v1/revenue-events", json=batches[i]))

        # Request by request, alternating: a busy shared machine slows both paths alike.
        stripe_s = api_s = 0.0
        for i in range(n):
            stripe_s += timed([stripe_post(i)])
            api_s += timed([api_post(i)])
        retry_s = timed([stripe_post(i) for i in range(n)])
        alone_s = timed(
            [
                lambda p=p, h=h: stripe_ingest.verify_event(p.encode(), h["Stripe-Signature"], secret=SECRET)
                for p, h in zip(payloads, headers, strict=True)
            ]
        )
        mapping_s = timed(
            [
                lambda p=p: stripe_ingest.revenue_events(StripeEventIn.model_validate_json(p), currency="USD")
                for p in payloads
            ]
        )
    differ = compare(url, n)
    per = 1000 / n
    rows = [
        ("POST /v1/revenue-events (the same 3 events)", api_s, "ms/request", ""),
        ("POST /v1/integrations/stripe", stripe_s, "ms/request", f"{stripe_s / api_s:.2f}x the line above"),
        ("Stripe's retries (all duplicates)", retry_s, "ms/request", f"{retry_s / stripe_s:.2f}x a first delivery"),
        ("the signature check and parse alone", alone_s, "ms/event", f"{alone_s / stripe_s:.3f} of a delivery"),
        ("the mapping to revenue events alone", mapping_s, "ms/event", f"{mapping_s / stripe_s:.3f} of a delivery"),
    ]
    print(f"{n} subscription events (3 items each) on {make_url(url).get_backend_name()}, one request each:")
    for label, seconds, unit, ratio in rows:
        print(f"  {label:<45} {seconds * per:7.3f} {unit:<10} {ratio}")
    print(f"  the two ledgers agree: {'yes' if not differ else f'NO, {differ} customers differ'}")
    return 1 if differ else 0


def check(response: Any) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text[:300]}")


def compare(url: str, n: int) -> int:
    """Customers whose ARR per product (on the last period start) differs between the two paths."""
    engine = make_engine(url)
    day = date(2026, 12, 31)
    with make_sessionmaker(engine)() as session:
        differ = sum(
            ledger.arr_by_product(session, f"s{i}", day) != ledger.arr_by_product(session, f"api-s{i}", day)
            for i in range(n)
        )
    engine.dispose()
    return differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400, help="subscription events (default 400)")
    parser.add_argument("--pg", help="a PostgreSQL server URL; a fresh database is created on it and dropped")
    args = parser.parse_args()
    configure_logging("WARNING", json=False)  # no access log line per request
    with database(args.pg) as url:
        sys.exit(run(url, args.events))


if __name__ == "__main__":
    main()
