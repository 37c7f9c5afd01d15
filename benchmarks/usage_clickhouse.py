"""Benchmark: a 10,000-customer health snapshot read on the ClickHouse store (chDB, in process) vs the SQL raw path
(`app/usage/raw_reads.py` on PostgreSQL), in one run.

    .venv/bin/python benchmarks/usage_clickhouse.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --customers 10000 --events 2000000

Creates a fresh PostgreSQL database (dropped afterwards) and a chDB directory (deleted afterwards). PostgreSQL gets
customers and the events by COPY (health_snapshot.py's generator: the default model's kinds over 15 months); the
ClickHouse store gets the same events through `ClickHouseStore.ingest_events` in API-sized batches (id lookup,
stub customers in PostgreSQL, insert; the rollup is kept by materialized views), timed. Then `model_raws` of the
default model for every customer at one as_of, on each side alternately (`--rounds` each), wall-clock and CPU
seconds (this process, which runs chDB's threads, plus its PostgreSQL backend from /proc), and checks that both
return the same raws. A measurement, not a test: it prints ratios measured in this run.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).parent))
from health_snapshot import load  # the scripts beside this one
from usage_book import event

from app import migrate
from app.db import make_engine
from app.health.defaults import DEFAULT_MODEL
from app.usage import raw_reads as queries
from app.usage.clickhouse import ClickHouseSettings, ClickHouseStore
from app.usage.service import make_row

AS_OF = date(2026, 3, 31)
BATCH = 10_000


def _backend_cpu(session: Session) -> float:
    """CPU seconds of this session's PostgreSQL backend so far (utime + stime from /proc)."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rows(customers: int, events: int) -> Any:
    """The events `load` COPYed, as EventRows (same generator, same seed, same order)."""
    rng = random.Random(42)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = int((datetime(2026, 4, 1, tzinfo=UTC) - start).total_seconds())
    for n in range(events):
        event_id, customer, kind, at, micros, props, _, _ = event(rng, n, customers, start, span)
        yield make_row(str(event_id), str(customer), str(kind), at, int(str(micros)), str(props))  # type: ignore[arg-type]


def ingest(store: ClickHouseStore, session: Session, customers: int, events: int) -> tuple[float, float]:
    """Every event through the store's ingest, in batches; wall and CPU seconds (this process + PG backend)."""
    wall, cpu = time.perf_counter(), time.process_time() + _backend_cpu(session)
    batch = []
    for row in _rows(customers, events):
        batch.append(row)
        if len(batch) == BATCH:
            store.ingest_events(session, batch)
            session.commit()
            batch = []
    if batch:
        store.ingest_events(session, batch)
        session.commit()
    return time.perf_counter() - wall, time.process_time() + _backend_cpu(session) - cpu


def timed(session: Session, read: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time() + _backend_cpu(session)
    result = read()
    return time.perf_counter() - wall, time.process_time() + _backend_cpu(session) - cpu, result


def run(url: str, customers: int, events: int, rounds: int) -> None:
    migrate.upgrade(url)
    print(f"PostgreSQL: COPY of {customers:,} customers and {events:,} events in {load(url, customers, events):.1f} s")
    engine = make_engine(url)
    components = DEFAULT_MODEL.components
    with tempfile.TemporaryDirectory() as directory, Session(engine) as session:
        store = ClickHouseStore(f"chdb://{directory}?database=bench", settings=ClickHouseSettings(cluster=None))
        store.create_schema()
        wall, cpu = ingest(store, session, customers, events)
        print(f"ClickHouse: ingest_events of {events:,} events in {BATCH:,}-event batches: {wall:.1f} s wall, "
              f"{cpu:.1f} CPU s ({events / wall:,.0f} events/s)")  # fmt: skip
        sides = {
            "SQL raw (PostgreSQL)": lambda: queries.model_raws(
                session, components, as_of=AS_OF, customers=None, seats=True
            ),
            "ClickHouse (chDB)": lambda: store.model_raws(session, components, as_of=AS_OF, customers=None, seats=True),
        }
        answers = {name: read() for name, read in sides.items()}  # warm-up, and the agreement check
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        for _ in range(rounds):
            for name, read in sides.items():
                wall, cpu, _ = timed(session, read)
                times[name].append((wall, cpu))
        session.rollback()
    engine.dispose()
    medians = {
        name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for name, t in times.items()
    }
    for name, (wall, cpu) in medians.items():
        print(f"{name:24} model_raws, {customers:,} customers: median {wall:6.2f} s wall, {cpu:6.2f} CPU s")
    (sql_wall, sql_cpu), (ch_wall, ch_cpu) = medians.values()
    print(f"ratios ClickHouse / SQL raw: wall {ch_wall / sql_wall:.3f}, CPU {ch_cpu / sql_cpu:.3f}")
    sql, ch = answers.values()
    equal = sql == ch
    scored = sum(1 for raw in sql[0] for v in raw.values() if v is not None)
    print(f"agreement: {'identical' if equal else 'DIFFERENT'} raws ({scored:,} component values) and seats")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", required=True, help="a PostgreSQL server URL (a fresh database is created on it)")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed reads of each side, alternately")
    args = parser.parse_args()
    name = f"csroi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run(make_url(args.pg).set(database=name).render_as_string(hide_password=False), args.customers, args.events,
            args.rounds)  # fmt: skip
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
