"""Usage-event ingest benchmark (issue: usage signals): ratios measured in one run, never pass/fail.

The events are the live feed of benchmarks/eventgen.py (recent events of many customers per batch).

PostgreSQL: POST /v1/events through one uvicorn worker, the service's bulk function in-process, and a direct
psycopg binary COPY of the same rows into the same table; then the all-duplicate replay through the API.
SQLite: POST /v1/events against raw sqlite3.executemany of the same rows.

    .venv/bin/python benchmarks/events_ingest.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from eventgen import make_events  # benchmarks/eventgen.py, beside this script
from sqlalchemy import create_engine, make_url, text

from app import migrate
from app.db import make_engine, make_sessionmaker
from app.keys import service as keys_service
from app.keys.service import Scope
from app.usage import service as usage_service
from app.usage.schemas import UsageEventIn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(url: str) -> Iterator[tuple[str, str]]:
    """One uvicorn worker on a fresh port, with an ingest key; stopped by its pid afterwards."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        key = keys_service.create_key(session, name="bench", scopes=[Scope.admin]).secret
        session.commit()
    engine.dispose()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CSROI_LOG_LEVEL": "WARNING", "CSROI_MIGRATE_ON_START": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:serve_app", "--factory", "--port", str(port), "--workers", "1",
         "--no-access-log", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base, key
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def post_all(base: str, key: str, bodies: list[bytes], threads: int = 2) -> float:
    """Seconds to POST every pre-encoded batch (two client threads keep the one worker busy)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def send(chunk: list[bytes]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            for body in chunk:
                response = client.post("/v1/events", content=body)
                assert response.status_code == 200, response.text

    chunks = [bodies[i::threads] for i in range(threads)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, chunks))
    return time.perf_counter() - started


def timed(label: str, n: int, fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    print(f"  {label:<38} {seconds:7.2f} s  {n / seconds:>10,.0f} events/s")
    return seconds


@contextmanager
def pg_database(server_url: str) -> Iterator[str]:
    name = f"csroi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def reset(url: str) -> None:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute("TRUNCATE usage_event, usage_event_id")  # the partitions stay: the COPY below needs them
        conn.execute("DELETE FROM customer")


def bench_postgresql(server_url: str, events: list[dict], batch: int) -> None:
    n = len(events)
    bodies = [json.dumps({"events": events[i : i + batch]}).encode() for i in range(0, n, batch)]
    items = [UsageEventIn.model_validate(e) for e in events]
    rows = [usage_service.to_row(item) for item in items]
    with pg_database(server_url) as url:
        migrate.upgrade(url)
        print(f"PostgreSQL, {n:,} events in batches of {batch:,}:")
        with server(url) as (base, key):
            api = post_all(base, key, bodies)
            print(f"  {'POST /v1/events (1 uvicorn worker)':<38} {api:7.2f} s  {n / api:>10,.0f} events/s")
            replay = post_all(base, key, bodies)
            print(f"  {'replay, all duplicates':<38} {replay:7.2f} s  {n / replay:>10,.0f} events/s")
        reset(url)
        engine = make_engine(url)
        maker = make_sessionmaker(engine)

        def in_process() -> None:
            for i in range(0, n, batch):
                with maker() as session:
                    usage_service.ingest_usage_events(session, items[i : i + batch])
                    session.commit()

        service = timed("service bulk function, in-process", n, in_process)
        engine.dispose()
        reset(url)

        def copy() -> None:
            with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
                customers = sorted({r.customer_id for r in rows})
                now = datetime.now(UTC)
                with cur.copy("COPY customer (id, created_at, updated_at) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types(["text", "timestamptz", "timestamptz"])
                    for c in customers:
                        cp.write_row((c, now, now))
                with cur.copy(
                    "COPY usage_event (id, customer_id, kind, occurred_at, value, properties, content_hash,"
                    " received_at) FROM STDIN (FORMAT BINARY)"
                ) as cp:
                    cp.set_types(["text", "text", "text", "timestamptz", "int8", "jsonb", "text", "timestamptz"])
                    for r in rows:
                        cp.write_row((*r[:5], r.properties, r.content_hash, now))

        direct = timed("direct psycopg binary COPY", n, copy)
        print(f"  ratios: API / COPY = {direct / api:.2f}   in-process / COPY = {direct / service:.2f}"
              f"   replay / first ingest = {replay / api:.2f}")  # fmt: skip


def bench_sqlite(events: list[dict], batch: int) -> None:
    n = len(events)
    bodies = [json.dumps({"events": events[i : i + batch]}).encode() for i in range(0, n, batch)]
    rows = [usage_service.to_row(UsageEventIn.model_validate(e)) for e in events]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api.db'}"
        migrate.upgrade(url)
        print(f"SQLite, {n:,} events in batches of {batch:,}:")
        with server(url) as (base, key):
            api = post_all(base, key, bodies, threads=1)
        print(f"  {'POST /v1/events (1 uvicorn worker)':<38} {api:7.2f} s  {n / api:>10,.0f} events/s")
        raw_url = Path(tmp) / "raw.db"
        migrate.upgrade(f"sqlite:///{raw_url}")

        def executemany() -> None:
            conn = sqlite3.connect(raw_url, isolation_level=None)
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute("BEGIN")
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            conn.executemany(
                "INSERT INTO usage_event VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.id, r.customer_id, r.kind, r.occurred_at.strftime(fmt), r.value, r.properties, r.content_hash,
                  "2026-01-01 00:00:00.000000") for r in rows],
            )  # fmt: skip
            conn.execute("COMMIT")
            conn.close()

        raw = timed("raw sqlite3.executemany (one tx)", n, executemany)
        print(f"  ratio: API / executemany = {raw / api:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    args = parser.parse_args()
    # The live feed of benchmarks/eventgen.py, over as many days as this benchmark's events always spanned.
    events = make_events(args.events, args.customers, args.events * 7 / 86_400)
    if not args.skip_postgresql:
        bench_postgresql(args.pg, events, args.batch)
    if not args.skip_sqlite:
        bench_sqlite(events, args.batch)


if __name__ == "__main__":
    main()
