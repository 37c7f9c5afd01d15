"""Usage-event ingest at volume on PostgreSQL (issue 14): the API path against COPY, ratios measured in one run.

The events are a live feed (benchmarks/eventgen.py, shared with events_ingest.py): posted in the order they
happened, so each batch holds the most recent events (about 18 hours of them at the defaults: 200,000 events over
30 days, batches of 5,000) of many customers at once (about 3,000 of the 10,000 per batch, the busiest tenth making
half of the events), mixed kinds, `feature_used` events naming their feature. Until this commit the batches were
an even spread (each event a different customer, 150 days): one rollup row per event either way, since a batch of
a live feed rarely holds two events of one customer, kind and day (about 4,500 daily rows per 5,000 events here).

Alternating rounds on one database, each starting from empty tables (the daily rollup, the feeds and the customers
included: the API path keeps them in the same transaction):
(a) every batch POSTed to /v1/events on ONE uvicorn worker, two client threads keeping it busy;
(b) the same on TWO uvicorn workers with two concurrent clients: the machine has 2 cores and a deployed service
    runs a worker per core, while COPY is one backend on one core;
(c) a CSV COPY of the same rows into a plain table with the same indexes as usage_event: the (customer_id, kind,
    occurred_at) index and a primary key on id (what `usage_event_id`, the id directory, keeps unique);
(d) optionally (--fk) the service function in process with rows already built, with and without the foreign key
    usage_event -> customer.
Bodies are encoded before the clock starts; each server has answered four batches before the first round. The ratio
is COPY's time over the other's (0.5 means half COPY's speed); medians of the rounds. A second ratio compares CPU
seconds, which a shared machine disturbs far less than wall time: the API's are those of the uvicorn processes (the
workers and their supervisor) and their PostgreSQL backends (parsing, hashing and the database's work), COPY's those
of this process and its backend (the CSV is built before the clock starts).

After the rounds the API's rows are compared with the COPY table's (same ids, customers, kinds, times, values and
properties), and the daily rollup with the COPY table's days (count, sum, min, max per customer, kind and UTC day):
the benchmark is also a correctness check, exiting 1 when they differ. CPU seconds per 100,000 events are printed
split into the uvicorn processes and their backends.

    .venv/bin/python benchmarks/usage_ingest.py                 # a private PostgreSQL 15 cluster (CSROI_PG_BIN)
    .venv/bin/python benchmarks/usage_ingest.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from eventgen import make_events  # noqa: E402
from events_ingest import free_port, pg_database, post_all  # noqa: E402
from retention import private_cluster  # noqa: E402

from app import migrate  # noqa: E402
from app.db import make_engine, make_sessionmaker  # noqa: E402
from app.keys import service as keys_service  # noqa: E402
from app.keys.service import Scope  # noqa: E402
from app.usage import service as usage_service  # noqa: E402

COPY_TABLE = "usage_copy"
TICKS = os.sysconf("SC_CLK_TCK")
FK = "usage_event_customer_id_fkey"


def plain(url: str) -> str:
    return url.replace("+psycopg", "")


def reset(url: str) -> None:
    with psycopg.connect(plain(url)) as conn:
        directory = conn.execute("SELECT to_regclass('usage_event_id')").fetchone()
        extra = ", usage_event_id" if directory and directory[0] else ""
        # The rollup and the feeds too: each round ingests into an empty book, its upkeep included.
        conn.execute(f"TRUNCATE usage_event, {COPY_TABLE}, usage_daily, usage_daily_value, usage_feed{extra}")
        conn.execute("DELETE FROM customer")


def csv_text(events: list[dict[str, Any]]) -> bytes:
    """The rows as COPY's CSV input, in the stored form (built before the clock starts)."""
    buffer = io.StringIO()
    for e in events:
        props = json.dumps(e.get("properties", {}), sort_keys=True, separators=(",", ":")).replace('"', '""')
        buffer.write(f'{e["id"]},{e["customer"]},{e["kind"]},{e["occurred_at"]},{e["value"] * 1_000_000},"{props}"\n')
    return buffer.getvalue().encode()


def copy_csv(url: str, data: bytes) -> float:
    """COPY the rows; the CPU seconds it took (this process and its backend, read before the backend exits)."""
    with psycopg.connect(plain(url)) as conn, conn.cursor() as cur:
        backend = conn.info.backend_pid
        before = time.process_time() + cpu_seconds(backend)
        with cur.copy(
            f"COPY {COPY_TABLE} (id, customer_id, kind, occurred_at, value, properties) FROM STDIN (FORMAT CSV)"
        ) as copy:
            copy.write(data)
        conn.commit()
        return time.process_time() + cpu_seconds(backend) - before


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a local process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu(pid: int) -> float:
    """CPU seconds so far of a process and its live children (uvicorn's supervisor and its workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        kids = [int(k) for k in children.read_text().split()]
    except OSError:
        kids = []
    return cpu_seconds(pid) + sum(tree_cpu(k) for k in kids)


def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of every other client backend of the benchmark database, by pid."""
    with psycopg.connect(plain(url)) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        ).fetchall()
    return {pid: cpu_seconds(pid) for (pid,) in pids}


@contextmanager
def server(url: str, workers: int = 1) -> Iterator[tuple[str, str, int]]:
    """uvicorn with `workers` workers on a fresh port, with an admin key: (base URL, key, pid); stopped by its pid."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        key = keys_service.create_key(session, name="bench", scopes=[Scope.admin]).secret
        session.commit()
    engine.dispose()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CSROI_LOG_LEVEL": "WARNING", "CSROI_MIGRATE_ON_START": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:serve_app", "--factory", "--port", str(port),
         "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        for _ in range(100):  # with 2+ workers, uvicorn's process supervises them: wait for every one
            if workers == 1 or len(children.read_text().split()) >= workers:
                break
            time.sleep(0.1)
        yield base, key, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def create_copy_table(url: str) -> None:
    with psycopg.connect(plain(url)) as conn:
        conn.execute(
            f"CREATE TABLE {COPY_TABLE} (id varchar(255) PRIMARY KEY, customer_id varchar(255) NOT NULL,"
            " kind varchar(100) NOT NULL, occurred_at timestamptz NOT NULL, value bigint NOT NULL,"
            " properties jsonb NOT NULL)"
        )
        conn.execute(f"CREATE INDEX ON {COPY_TABLE} (customer_id, kind, occurred_at)")


def has_fk(url: str) -> bool:
    with psycopg.connect(plain(url)) as conn:
        return conn.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", (FK,)).fetchone() is not None


@contextmanager
def foreign_key(url: str, present: bool) -> Iterator[None]:
    """The FK usage_event -> customer present or absent for the round, restored afterwards."""
    had = has_fk(url)
    with psycopg.connect(plain(url), autocommit=True) as conn:
        if present and not had:
            conn.execute(
                f"ALTER TABLE usage_event ADD CONSTRAINT {FK} FOREIGN KEY (customer_id) REFERENCES customer (id)"
            )
        if had and not present:
            conn.execute(f"ALTER TABLE usage_event DROP CONSTRAINT {FK}")
    try:
        yield
    finally:
        with psycopg.connect(plain(url), autocommit=True) as conn:
            if had and not present:
                conn.execute(
                    f"ALTER TABLE usage_event ADD CONSTRAINT {FK} FOREIGN KEY (customer_id) REFERENCES customer (id)"
                )
            if present and not had:
                conn.execute(f"ALTER TABLE usage_event DROP CONSTRAINT {FK}")


def stub_customers(url: str, customers: list[str]) -> None:
    with psycopg.connect(plain(url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY customer (id, created_at, updated_at) FROM STDIN") as copy:
            for customer in customers:
                copy.write_row((customer, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def check_same(url: str) -> None:
    """The API's rows equal the COPY table's (a benchmark that stores something else is measuring nothing)."""
    query = (
        "SELECT count(*) FROM ((SELECT id, customer_id, kind, occurred_at, value, properties FROM {a} EXCEPT"
        " SELECT id, customer_id, kind, occurred_at, value, properties FROM {b})) d"
    )
    with psycopg.connect(plain(url)) as conn:
        counts = [conn.execute(query.format(a=a, b=b)).fetchone()[0] for a, b in  # type: ignore[index]
                  (("usage_event", COPY_TABLE), (COPY_TABLE, "usage_event"))]  # fmt: skip
    if counts != [0, 0]:
        print(f"MISMATCH: rows only in usage_event {counts[0]}, only in {COPY_TABLE} {counts[1]}")
        raise SystemExit(1)
    rollup = (
        "SELECT count(*) FROM ((SELECT customer_id, kind, CAST((occurred_at AT TIME ZONE 'UTC') AS DATE), count(*),"
        " sum(value), min(value), max(value) FROM {COPY_TABLE} GROUP BY 1, 2, 3) EXCEPT ALL (SELECT customer_id, kind,"
        " day, events, sum_micros, min_micros, max_micros FROM usage_daily WHERE facet = '')) d"
    ).replace("{COPY_TABLE}", COPY_TABLE)
    with psycopg.connect(plain(url)) as conn:
        missing = conn.execute(rollup).fetchone()[0]  # type: ignore[index]
        days = conn.execute("SELECT count(*) FROM usage_daily WHERE facet = ''").fetchone()[0]  # type: ignore[index]
        grouped = conn.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT customer_id, kind, CAST((occurred_at AT TIME ZONE 'UTC') AS DATE)"
            f" FROM {COPY_TABLE}) g"
        ).fetchone()[0]  # type: ignore[index]
    if missing or days != grouped:
        print(f"MISMATCH: the daily rollup differs from the COPY table's days ({missing} differ, {days} vs {grouped})")
        raise SystemExit(1)
    print("  check: the API stored exactly the COPY table's rows, and their daily rollup")


def run(server_url: str, args: argparse.Namespace) -> None:  # noqa: PLR0915 - one measured run
    events = make_events(args.events, args.customers, args.days)
    n = len(events)
    bodies = [json.dumps({"events": events[i : i + args.batch]}).encode() for i in range(0, n, args.batch)]
    data = csv_text(events)
    rows = usage_service.parse_events({"events": events}, max_items=n)
    apis = {"api1": 1, "api2": 2}  # label: uvicorn workers (two concurrent clients either way)
    with pg_database(server_url) as url:
        migrate.upgrade(url)
        create_copy_table(url)
        engine = make_engine(url)
        maker = make_sessionmaker(engine)

        def service() -> None:
            for i in range(0, n, args.batch):
                with maker() as session:
                    usage_service.ingest_usage_events(session, rows[i : i + args.batch])
                    session.commit()

        times: dict[str, list[float]] = {"api1": [], "api2": [], "copy": [], "fk": [], "nofk": []}
        cpu: dict[str, list[float]] = {"copy": []}
        for label in apis:
            cpu |= {label: [], f"{label}:server": [], f"{label}:database": []}
        chunks = [events[i : i + args.batch] for i in range(0, n, args.batch)]
        cells = sum(len({(e["customer"], e["kind"], e["occurred_at"][:10]) for e in c}) for c in chunks) / len(chunks)
        customers = sum(len({e["customer"] for e in c}) for c in chunks) / len(chunks)
        print(f"PostgreSQL, {n:,} events over {args.customers:,} customers and {args.days} days, batches of "
              f"{args.batch:,} ({cells:,.0f} (customer, kind, day) cells, {customers:,.0f} customers per batch),"
              f" {args.rounds} alternating rounds (FK in the schema: {has_fk(url)})")  # fmt: skip
        with server(url, 1) as one, server(url, 2) as two:
            for base, key, _pid in (one, two):  # warm: a first request builds validators and connections
                post_all(base, key, bodies[:4])
            for _ in range(args.rounds):
                for label, (base, key, pid) in (("api1", one), ("api2", two)):
                    reset(url)
                    before, backends = tree_cpu(pid), backend_cpu(url)
                    times[label].append(timed(lambda b=base, k=key: post_all(b, k, bodies)))  # type: ignore[misc]
                    after = backend_cpu(url)
                    server_cpu = tree_cpu(pid) - before
                    database_cpu = sum(v - backends.get(p, 0.0) for p, v in after.items())
                    cpu[label].append(server_cpu + database_cpu)
                    cpu[f"{label}:server"].append(server_cpu)
                    cpu[f"{label}:database"].append(database_cpu)
                    if args.check:
                        copy_csv(url, data)
                        check_same(url)
                reset(url)
                started = time.perf_counter()
                cpu["copy"].append(copy_csv(url, data))
                times["copy"].append(time.perf_counter() - started)
                if args.fk:
                    for present, label in ((True, "fk"), (False, "nofk")):
                        reset(url)
                        # The customers exist (as the batch's stub insert makes them), so the FK has what it
                        # checks whatever order the service's statements run in; both variants alike.
                        stub_customers(url, sorted({r.customer_id for r in rows}))
                        with foreign_key(url, present):
                            times[label].append(timed(service))
        engine.dispose()
    med = {k: statistics.median(v) for k, v in times.items() if v}
    cmed = {k: statistics.median(v) for k, v in cpu.items()}
    labels = {"api1": "POST /v1/events, 1 uvicorn worker", "api2": "POST /v1/events, 2 uvicorn workers",
              "copy": "CSV COPY, same indexes", "fk": "service in process, with the FK",
              "nofk": "service in process, without FK"}  # fmt: skip
    for label, name in labels.items():
        if label in med:
            print(f"  {name:<36} median {n / med[label]:>9,.0f} events/s")
    per = 100_000 / n
    for label, workers in apis.items():
        print(f"  {workers} worker(s): ratio API / COPY (time) = {med['copy'] / med[label]:.2f}x   rounds: "
              + ", ".join(f"{c / a:.2f}" for a, c in zip(times[label], times["copy"], strict=True)))  # fmt: skip
        print(f"  {workers} worker(s): ratio API / COPY (CPU seconds) = {cmed['copy'] / cmed[label]:.2f}x"
              "   (API: the uvicorn processes and their backends; COPY: this process and its backend)")  # fmt: skip
        print(f"  {workers} worker(s): CPU seconds per 100,000 events: COPY {cmed['copy'] * per:.2f}; API"
              f" {cmed[label] * per:.2f} = uvicorn {cmed[f'{label}:server'] * per:.2f}"
              f" + PostgreSQL backends {cmed[f'{label}:database'] * per:.2f}")  # fmt: skip
    if args.fk:
        print(f"  ratio without FK / with FK (time) = {med['fk'] / med['nofk']:.2f}x   rounds: "
              + ", ".join(f"{f / w:.2f}" for f, w in zip(times["fk"], times["nofk"], strict=True)))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", help="a PostgreSQL server URL (default: start a private cluster)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-fk", dest="fk", action="store_false", help="skip the FK with/without rounds")
    parser.add_argument("--no-check", dest="check", action="store_false", help="skip the row comparison")
    args = parser.parse_args()
    with nullcontext(args.pg) if args.pg else private_cluster() as server_url:
        run(server_url if "+psycopg" in server_url else server_url.replace("postgresql://", "postgresql+psycopg://"),
            args)  # fmt: skip


if __name__ == "__main__":
    main()
