"""Benchmark (issue 14, SPEC §14): a whole-book health snapshot read from the daily rollup vs from raw events, at two
event volumes and on two shapes of book, on PostgreSQL.

    .venv/bin/python benchmarks/usage_snapshot.py --private          # 10,000 customers, 2M and 20M events, both books
    .venv/bin/python benchmarks/usage_snapshot.py --private --book sparse --events 200000 2000000 --runs 2
    .venv/bin/python benchmarks/usage_snapshot.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The books (the default model's kinds and values, `usage_book.py`, over the year before the snapshot day):
- `sparse`: each event's kind drawn from `health_snapshot.py`'s mix, its customer and instant uniformly over the
  book and the year. 2M events over 10,000 customers is 0.55 events per customer-day: nearly every event is its own
  (customer, kind, day) rollup row, and 10x the events is ~5x the rows.
- `dense`: the product-led shape issue 14 is about (10^7-10^8 events a day: many events per customer-day). Each
  customer is active on a fixed set of days (10-70 a year) and logs in, uses features and reports active users on
  each; the rarer kinds come a few times a year. The volume fills these fixed cells: the rollup's rows are the same
  at 2M and 20M events, only their counts and sums grow (and the feature values kept for `distinct`, up to 10 a
  day). It needs at least one event per cell (~1.39M for 10,000 customers).

For each book and volume, on a fresh database (dropped afterwards): customers and events are loaded by binary COPY
into `usage_event`, then `rollup.rebuild` fills the daily rollup from them (as the migration or `csroi usage
rebuild-rollup` would), and the table is vacuumed and analysed. Then `compute_health` of every customer on the day
(what `POST /v1/health/snapshots` computes before it upserts) runs `--runs` times on each path, alternating
raw / rollup so both see the same machine: `RawSqlReads` (the raw events, the reference) and `SqlStore` (the
rollup, the default). Every customer's health must be identical on both paths (checked). Reported: wall and CPU
seconds per call (CPU: this process's plus its PostgreSQL backend's, from /proc, when the server runs here: on a
shared machine it moves far less than wall time), the rollup / raw ratio at each volume, and each path's
largest / smallest volume ratio per book. Ratios measured in one run; a measurement, not a test.
"""

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import usage_book  # the module beside this one

from app import migrate
from app.db import make_engine
from app.health import service as health_service
from app.health.versions import DEFAULT_SPEC
from app.usage import partitions, rollup
from app.usage import service as usage_service
from app.usage.store import RawSqlReads, SqlStore, UsageStore

AS_OF = date(2026, 3, 31)
START = datetime(2025, 4, 1, tzinfo=UTC)  # a year of events before the snapshot day
DAYS = (AS_OF - START.date()).days + 1
SPAN = DAYS * 86_400
PATHS: dict[str, UsageStore] = {"raw": RawSqlReads(), "rollup": SqlStore()}
# The dense book's activity, fixed whatever the volume: each customer is active on 10-70 days of the year (40 on
# average) and logs in, uses features and reports its active users on each of them; the rarer kinds come a few
# times a year (per customer: seats 4, nps 2, csat 4, milestones 3 + 1, escalations 2, downtime 3).
ACTIVE_DAYS = (10, 70)
USAGE = {"login": 50, "feature_used": 20, "active_users": 10}
RARE = {"seats": 4, "nps": 2, "csat": 4, "milestone_completed": 3, "milestone_missed": 1, "ticket_escalated": 2,
        "downtime": 3}  # fmt: skip
BOOKS = ("sparse", "dense")
Row = tuple[object, ...]


def _row(n: int, customer: int, body: tuple[str, dict[str, str], int], at: datetime) -> Row:
    kind, props, micros = body
    return (f"e{n:09}", f"c{customer:05}", kind, at, micros, Jsonb(props), uuid.uuid4().hex, at)


def _sparse(customers: int, count: int, seed: int) -> Iterator[Row]:
    """`count` events of health_snapshot.py's mix, each on a customer and instant drawn uniformly over the year:
    0.55 events per customer-day at 2M events, so nearly every event makes its own rollup row."""
    rng = random.Random(seed)
    for n, drawn in enumerate(rng.choices(usage_book.NAMES, weights=usage_book.WEIGHTS, k=count)):
        body = usage_book.body(rng, drawn)
        at = START + timedelta(seconds=rng.randrange(SPAN))
        yield _row(n, rng.randrange(customers), body, at)


def _cells(customers: int, rng: random.Random) -> tuple[dict[str, list[tuple[int, int]]], list[tuple[int, str, int]]]:
    """The dense book's (customer, day) cells per usage kind, and its rare (customer, kind, day) events."""
    usage: dict[str, list[tuple[int, int]]] = {kind: [] for kind in USAGE}
    rare: list[tuple[int, str, int]] = []
    for customer in range(customers):
        for day in sorted(rng.sample(range(DAYS), rng.randint(*ACTIVE_DAYS))):
            for cells in usage.values():
                cells.append((customer, day))
        rare += [(customer, kind, rng.randrange(DAYS)) for kind, times in RARE.items() for _ in range(times)]
    return usage, rare


def _dense(customers: int, count: int, seed: int) -> Iterator[Row]:
    """`count` events on a fixed set of (customer, kind, day) cells, the same at every volume: one event for each
    rare event and usage cell, then the rest spread over the usage cells (login, feature_used, active_users in
    USAGE's proportions). More events add to each cell's count, not cells: the product-led shape of issue 14,
    where a customer-day holds many events (here 1.4 per cell at 2M events, 14 at 20M, on 10,000 customers)."""
    rng = random.Random(seed)
    usage, rare = _cells(customers, rng)
    fixed = [(c, kind, day) for kind, cells in usage.items() for c, day in cells] + rare
    if count < len(fixed):
        raise SystemExit(f"the dense book of {customers:,} customers needs at least {len(fixed):,} events")
    n = 0
    for customer, drawn, day in fixed:
        yield _row(n, customer, usage_book.body(rng, drawn), START + timedelta(days=day, seconds=rng.randrange(86_400)))
        n += 1
    kinds = rng.choices(list(USAGE), weights=list(USAGE.values()), k=count - len(fixed))
    for drawn in kinds:
        customer, day = rng.choice(usage[drawn])
        yield _row(n, customer, usage_book.body(rng, drawn), START + timedelta(days=day, seconds=rng.randrange(86_400)))
        n += 1


def load(url: str, book: str, customers: int, events: int) -> tuple[float, float]:
    """Binary COPY of customers and events, then the rollup rebuilt from them; (load seconds, rebuild seconds)."""
    began = time.perf_counter()
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        with conn.cursor().copy("COPY customer (id, attributes, created_at, updated_at) FROM STDIN") as copy:
            for i in range(customers):
                copy.write_row((f"c{i:05}", "{}", START, START))
        columns = "id, customer_id, kind, occurred_at, value, properties, content_hash, received_at"
        # usage_event is partitioned by month (app/usage/partitions.py): the months' partitions first, the id
        # directory filled from the events afterwards, as ingest would have.
        last = partitions.month_of(datetime.combine(AS_OF, datetime.min.time(), UTC))
        with conn.cursor() as cur:
            partitions.ensure_months(cur, partitions.months_between(partitions.month_of(START), last))
        with conn.cursor().copy(f"COPY usage_event ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "text", "text", "timestamptz", "int8", "jsonb", "text", "timestamptz"])
            for row in (_sparse if book == "sparse" else _dense)(customers, events, seed=42):
                copy.write_row(row)
        conn.execute(f"INSERT INTO {partitions.DIRECTORY} (id, content_hash) SELECT id, content_hash FROM usage_event")
    loaded = time.perf_counter() - began
    engine = make_engine(url)
    began = time.perf_counter()
    with Session(engine) as session:
        rollup.rebuild(session, components=DEFAULT_SPEC.model.components)
        session.commit()
    rebuilt = time.perf_counter() - began
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return loaded, rebuilt


def _backend_cpu(session: Session) -> float | None:
    """CPU seconds the session's PostgreSQL backend used so far (None when the server is not on this machine)."""
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, runs: int) -> tuple[dict[str, list[tuple[float, float | None]]], int, int]:
    """Alternate raw / rollup `compute_health` of the whole book; (wall, cpu) per call per path, rows, checked."""
    engine = make_engine(url)
    timings: dict[str, list[tuple[float, float | None]]] = {name: [] for name in PATHS}
    answers: dict[str, Any] = {}
    with Session(engine) as session:
        rows = int(session.scalar(text("SELECT count(*) FROM usage_daily")) or 0)
        for n in range(runs + 1):  # the first round warms the cache and is not timed
            order = list(PATHS) if n % 2 == 0 else list(reversed(PATHS))
            for name in order:
                store = PATHS[name]
                usage_service.usage_store = lambda store=store: store  # type: ignore[assignment]
                backend, client, began = _backend_cpu(session), time.process_time(), time.perf_counter()
                health = health_service.compute_health(session, as_of=AS_OF, customers=None, spec=DEFAULT_SPEC)
                wall, used = time.perf_counter() - began, time.process_time() - client
                after = _backend_cpu(session)
                cpu = None if backend is None or after is None else used + after - backend
                if n:
                    timings[name].append((wall, cpu))
                answers[name] = health
                session.rollback()
    engine.dispose()
    same = sum(1 for cid, h in answers["raw"].items() if answers["rollup"].get(cid) == h)
    if same != len(answers["raw"]):
        bad = [c for c, h in answers["raw"].items() if answers["rollup"].get(c) != h][:3]
        print("MISMATCH:", [(c, answers["raw"][c], answers["rollup"].get(c)) for c in bad])
    return timings, rows, same


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known and len(known) == len(values) else None


def run(server: str, books: list[str], customers: int, volumes: list[int], runs: int) -> None:
    """Each book and volume on its own fresh database; then the table of ratios."""
    results: dict[tuple[str, int], dict[str, tuple[float, float | None]]] = {}
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    for book in books:
        for events in volumes:
            name = f"csroi_bench_usage_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            try:
                migrate.upgrade(url)
                loaded, rebuilt = load(url, book, customers, events)
                timings, rows, same = measure(url, runs)
                print(f"{book:>6} {events:>11,} events: COPY {loaded:.0f} s, rollup rebuild {rebuilt:.0f} s,"
                      f" {rows:,} usage_daily rows; {same:,} of {customers:,} customers' health identical on both"
                      " paths", flush=True)  # fmt: skip
                results[(book, events)] = {
                    path: (statistics.median(w for w, _ in calls), _median([c for _, c in calls]))
                    for path, calls in timings.items()
                }
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    _report(results, customers, runs)


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def _report(results: dict[tuple[str, int], dict[str, tuple[float, float | None]]], customers: int, runs: int) -> None:
    print(f"\nhealth of {customers:,} customers on {AS_OF} (default model), median of {runs} alternating calls")
    print(f"{'book':>6} {'events':>12} {'raw s':>8} {'raw cpu':>8} {'rollup s':>9} {'rollup cpu':>11}"
          f" {'rollup/raw s':>13} {'rollup/raw cpu':>15}")  # fmt: skip
    for (book, events), paths in results.items():
        (rw, rc), (uw, uc) = paths["raw"], paths["rollup"]
        print(f"{book:>6} {events:>12,} {rw:>8.2f} {rc or 0:>8.2f} {uw:>9.2f} {uc or 0:>11.2f} {_ratio(uw, rw):>13}"
              f" {_ratio(uc, rc):>15}")  # fmt: skip
    for book in dict.fromkeys(b for b, _ in results):
        volumes = [events for b, events in results if b == book]
        if len(volumes) < 2:
            continue
        low, high = min(volumes), max(volumes)
        for path in PATHS:
            (lw, lc), (hw, hc) = results[(book, low)][path], results[(book, high)][path]
            print(f"{book:>6} {path:>6} path: {high:,} / {low:,} events ({high / low:.0f}x) took {_ratio(hw, lw)}x"
                  f" the wall time, {_ratio(hc, lc)}x the CPU")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pg", help="a PostgreSQL server URL (fresh databases are created on it)")
    where.add_argument("--private", action="store_true", help="a private PostgreSQL 15 cluster (retention.py's)")
    parser.add_argument("--book", nargs="+", choices=BOOKS, default=list(BOOKS), help="the book shapes (docstring)")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, nargs="+", default=[2_000_000, 20_000_000])
    parser.add_argument("--runs", type=int, default=3, help="timed calls per path and volume (after one warm-up)")
    args = parser.parse_args()
    if args.private:
        from retention import private_cluster  # noqa: PLC0415 - the script beside this one; needs the PG binaries

        with private_cluster() as server:
            url = make_url(server).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
            run(url, args.book, args.customers, args.events, args.runs)
    else:
        run(args.pg, args.book, args.customers, args.events, args.runs)


if __name__ == "__main__":
    main()
