"""Webhook benchmark (issue 12): ratios measured in one run, never pass/fail.

1. **The outbox's added cost** on a 10,000-event revenue batch: the same batch (5,000 churns and 5,000 upsells of
   10,000 paying customers, so every event makes an outbox row) ingested by the ledger's `ingest_revenue_events` and
   committed, into a book with subscriptions to revenue.churned and revenue.expanded, against the same book without
   any. Each variant on fresh databases, `--repeats` times, alternating; the medians and their ratio (target ≤ 1.2).
   The run checks the outbox holds 5,000 + 5,000 events with subscriptions and none without.
2. **Deliveries per second** to a local receiver (a threaded HTTP server answering 200): the worker's delivery pass
   (`app.worker.deliver_pass`: fan-out, claims, signed POSTs, attempt records, CSROI_WEBHOOK_CONCURRENCY at a time)
   for `--deliveries` events, against the same bodies POSTed by a bare httpx client with as many threads (no
   database, no signing). The run checks every event arrived exactly once.

    .venv/bin/python benchmarks/webhooks.py                          # SQLite
    .venv/bin/python benchmarks/webhooks.py --private-pg             # a private PostgreSQL 15 cluster (CSROI_PG_BIN)
    .venv/bin/python benchmarks/webhooks.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from app import migrate  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.ledger.ingest import ingest_revenue_events  # noqa: E402
from app.ledger.schemas import RevenueEventIn  # noqa: E402
from app.models import WebhookEvent  # noqa: E402
from app.webhooks import subscriptions  # noqa: E402
from app.webhooks.schemas import WebhookIn  # noqa: E402
from app.worker import build, deliver_pass  # noqa: E402
from tests.receiver import running_receiver  # noqa: E402

BATCH = 10_000
REVENUE_TYPES = ["revenue.churned", "revenue.expanded"]

Databases = Callable[[], Iterator[str]]


def sqlite_databases(root: Path) -> Databases:
    def fresh() -> Iterator[str]:
        yield f"sqlite:///{root / f'{uuid.uuid4().hex}.db'}"

    return fresh


def postgres_databases(server: str) -> Databases:
    def fresh() -> Iterator[str]:
        name = f"csroi_bench_webhooks_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return fresh


def event(n: int, day: date, arr: int) -> RevenueEventIn:
    return RevenueEventIn(id=f"ev-{day}-{n}", customer=f"c{n:05}", product="core", effective_date=day,
                          arr=Decimal(arr))  # fmt: skip


def ingest_once(url: str, *, subscribed: bool) -> tuple[float, int]:
    """Seconds to ingest and commit the measured batch; outbox rows written."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            if subscribed:
                body = WebhookIn.model_validate({"url": "http://127.0.0.1:9/hook", "events": REVENUE_TYPES})
                subscriptions.put_webhook(session, "bench", body, allow_private=True)
            ingest_revenue_events(session, [event(n, date(2026, 1, 1), 1000) for n in range(BATCH)])
            session.commit()
        measured = [event(n, date(2026, 6, 1), 0 if n < BATCH // 2 else 1500) for n in range(BATCH)]
        with make_sessionmaker(engine)() as session:
            started = time.perf_counter()
            ingest_revenue_events(session, measured)
            session.commit()
            seconds = time.perf_counter() - started
            written = session.scalar(select(func.count()).select_from(WebhookEvent)) or 0
        return seconds, written
    finally:
        engine.dispose()


def outbox_cost(databases: Databases, repeats: int) -> dict[str, float]:
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats):
        for subscribed in (False, True):
            for url in databases():
                seconds, written = ingest_once(url, subscribed=subscribed)
                expected = BATCH if subscribed else 0
                if written != expected:
                    raise SystemExit(f"outbox holds {written} events, expected {expected}")
                times[subscribed].append(seconds)
    without, with_ = statistics.median(times[False]), statistics.median(times[True])
    return {"without": without, "with": with_, "ratio": with_ / without}


def delivery_rate(databases: Databases, count: int, concurrency: int) -> dict[str, float]:
    for url in databases():
        migrate.upgrade(url)
        settings = Settings(database_url=url, webhook_allow_private=True, webhook_concurrency=concurrency)
        worker = build(settings)
        try:
            with running_receiver() as receiver, worker.maker() as session:
                body = WebhookIn.model_validate({"url": receiver.url, "events": ["revenue.churned"]})
                subscriptions.put_webhook(session, "bench", body, allow_private=True)
                ingest_revenue_events(session, [event(n, date(2026, 1, 1), 1000) for n in range(count)])
                ingest_revenue_events(session, [event(n, date(2026, 6, 1), 0) for n in range(count)])
                session.commit()
                started = time.perf_counter()
                done = deliver_pass(worker, max_seconds=3600)
                pipeline = time.perf_counter() - started
                ids = Counter(json.loads(r.body)["id"] for r in receiver.requests)
                if done["delivered"] != count or len(ids) != count or set(ids.values()) != {1}:
                    raise SystemExit(f"delivered {done['delivered']}, {len(ids)} distinct events received")
                bodies = [r.body for r in receiver.requests]
                bare = bare_posts(receiver.url, bodies, concurrency)
        finally:
            worker.close()
            worker.engine.dispose()
    return {"pipeline": count / pipeline, "bare": count / bare, "ratio": (count / pipeline) / (count / bare)}


def bare_posts(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Seconds for a plain httpx client to POST the bodies with `concurrency` threads."""
    with httpx.Client(limits=httpx.Limits(max_connections=concurrency), trust_env=False) as client:
        headers = {"Content-Type": "application/json"}
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda body: client.post(url, content=body, headers=headers), bodies))
        return time.perf_counter() - started


@contextmanager
def databases_for(args: argparse.Namespace) -> Iterator[tuple[str, Databases]]:
    if args.private_pg:
        from retention import private_cluster  # noqa: PLC0415 - needs the PostgreSQL binaries only when asked

        with private_cluster() as server:
            url = server.replace("postgresql://", "postgresql+psycopg://")
            yield "PostgreSQL 15 (private cluster)", postgres_databases(url)
    elif args.pg:
        yield f"PostgreSQL at {make_url(args.pg).host}", postgres_databases(args.pg)
    else:
        with tempfile.TemporaryDirectory(prefix="csroi-bench-webhooks-") as root:
            yield "SQLite", sqlite_databases(Path(root))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", help="a PostgreSQL server URL; fresh databases are created and dropped on it")
    parser.add_argument("--private-pg", action="store_true", help="start a private PostgreSQL 15 cluster")
    parser.add_argument("--repeats", type=int, default=3, help="batches per variant (median taken)")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with databases_for(args) as (name, databases):
        cost = outbox_cost(databases, args.repeats)
        rate = delivery_rate(databases, args.deliveries, args.concurrency)
    print(f"csroi webhook benchmark on {name}")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| 10,000-event revenue batch without subscriptions (median of {args.repeats}) | {cost['without']:.2f} s |")
    print(f"| the same batch, subscribed to revenue.churned and revenue.expanded (10,000 outbox rows) | "
          f"{cost['with']:.2f} s |")  # fmt: skip
    print(f"| outbox cost ratio (with / without; target ≤ 1.2) | {cost['ratio']:.2f} |")
    print(f"| deliveries per second, worker pass, {args.concurrency} at a time ({args.deliveries:,} events) | "
          f"{rate['pipeline']:,.0f} /s |")  # fmt: skip
    print(f"| bare httpx POSTs of the same bodies, {args.concurrency} threads | {rate['bare']:,.0f} /s |")
    print(f"| worker rate / bare rate | {rate['ratio']:.2f} |")


if __name__ == "__main__":
    main()
