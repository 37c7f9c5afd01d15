"""ROI benchmark (issue 15, SPEC §9 speed): the ROI, scorecard, intervention list and recommendation routes on a
book of the issue's shape, against one hand-written SQL query of the naive 12-month figures, at two sizes.

Run (see benchmarks/README.md):

    .venv/bin/python benchmarks/roi.py --customers 10000 --also 2500 --keep
    # then, after changing code, the reads only (the books are reused, seconds to start):
    .venv/bin/python benchmarks/roi.py --customers 10000 --also 2500 --keep
    # on slow code: one cold call per route, each given at most 120 s
    .venv/bin/python benchmarks/roi.py --customers 10000 --also 2500 --keep --runs 1 --no-warm-up --timeout 120

For each size it uses the database `<--database>_<customers>` on the `--pg` server: a database holding a
complete book of that size, seed and book version (its `COMMENT` says so) is reused; a missing one is created
and the book (`benchmarks/book.py`: 10,000 customers, 5,000 interventions, a quarter at risk, 2,000,000 usage
events, weekly snapshots; proportional at other sizes) is loaded through the service functions with a progress
bar per stage (about 6 minutes at 10,000 customers on 2 cores), then vacuumed and analysed as autovacuum would
leave it (without it the snapshot reads cannot use index-only scans). Any other existing database of that name is
left alone unless `--reload`, which replaces it. A failed load drops its database; databases this run created
are dropped at the end unless `--keep`.

Then, in a child process per size (FastAPI's TestClient in process, one admin key, statements counted with
SQLAlchemy's `before_cursor_execute` event), it times the median of `--runs` calls after one warm-up:

- `GET /v1/metrics/roi` over the 12 complete months before the book's day, ungrouped and `group_by=framework`;
- `GET /v1/scorecards/{month}` for the last of those months;
- `GET /v1/interventions?limit=1000`;
- `GET /v1/customers/{id}/recommendation` for the customer with the most interventions;
- `NAIVE_SQL` below: the naive 12-month figures by framework per month, one statement.

A call still running after `--timeout` seconds is reported as "> N s": the child is killed, its PostgreSQL
sessions are terminated, and a new child carries on with the next route. It prints one table (seconds, × SQL,
CPU seconds and statements per call, for each size, and the growth from the smallest to the largest size) and
checks the route's by-framework rows against the SQL (counts and cost must agree; retained and expanded ARR
differ by the episode, cap and split rules the naive SQL leaves out). Ratios measured in one run; never a
pass/fail on timing. CPU seconds are the call's CPU time in the timing child plus its PostgreSQL backends' (read
from /proc when the server runs on this machine): on a machine shared with other work they move far less than
wall-clock seconds, which count the time spent waiting for a core.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book as bench_book

from app import migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.keys import service as keys_service
from app.keys.service import Scope
from app.metrics.periods import add_months, month_end
from app.schemas import ratio_json

RUNS = 3
SEED = 42
MARK = "csroi_bench_roi"  # the key of the database COMMENT that records a complete book

# The naive 12-month ROI figures by framework per month (SPEC §5), in one statement. Naive on purpose: every
# at-risk intervention is credited its customer's whole retained ARR, min(ARR the day before the start, ARR on
# the window's last day or today while it is open) when the customer still pays then, and every intervention
# every upsell and cross-sell inside its own window [start, window_end), up to today. There is NO episode
# grouping (§5), NO rescue-year cap (§9) and NO even split of a movement among overlapping windows, so
# retained and expanded ARR may exceed the route's. Counts, measured and met (stored outcomes, a manual
# override's `met` first) and cost (hours × the owner's hourly cost, else the default, to the cent half to even
# + direct cost + linked cost records) are the route's own rules. Cancelled interventions count and cost, and
# earn nothing. Money is integer cents; hours are hundredths of an hour.
NAIVE_SQL = """
WITH iv AS (
    SELECT i.id, i.customer_id, i.framework, i.status, i.at_risk, i.started_on, i.window_end,
           CAST(date_trunc('month', i.started_on) AS date) AS month,
           coalesce(i.outcome_override->>'met', i.outcome->>'met') AS met,
           i.hours * coalesce(m.hourly_cost, :default_hourly_cents) AS hour_cost,
           i.direct_cost + coalesce((SELECT sum(c.amount) FROM cost c WHERE c.intervention_id = i.id), 0) AS other_cost
    FROM intervention i LEFT JOIN team_member m ON m.id = i.owner
    WHERE i.started_on BETWEEN :start AND :end
), figures AS (
    SELECT iv.month, iv.framework, iv.met,
           hour_cost / 100 + CASE WHEN hour_cost % 100 > 50 OR (hour_cost % 100 = 50 AND hour_cost / 100 % 2 = 1)
                                  THEN 1 ELSE 0 END + other_cost AS cost,
           CASE WHEN iv.at_risk AND iv.status <> 'cancelled' THEN (
               SELECT CASE WHEN coalesce(sum(a.delta_cents) FILTER (WHERE a.effective_date <= last_day.d), 0) > 0
                           THEN least(coalesce(sum(a.delta_cents) FILTER (WHERE a.effective_date < iv.started_on), 0),
                                      sum(a.delta_cents) FILTER (WHERE a.effective_date <= last_day.d))
                           ELSE 0 END
               FROM arr_change a CROSS JOIN (SELECT least(iv.window_end - 1, CAST(:today AS date)) AS d) last_day
               WHERE a.customer_id = iv.customer_id
           ) ELSE 0 END AS retained,
           CASE WHEN iv.status <> 'cancelled' THEN (
               SELECT coalesce(sum(a.delta_cents), 0) FROM arr_change a
               WHERE a.customer_id = iv.customer_id AND a.movement_type IN ('upsell', 'cross_sell')
                 AND a.effective_date >= iv.started_on AND a.effective_date < iv.window_end
                 AND a.effective_date <= :today
           ) ELSE 0 END AS expanded
    FROM iv
)
SELECT month, framework, count(*) AS interventions, count(met) AS measured,
       count(*) FILTER (WHERE met = 'true') AS met,
       CAST(count(*) FILTER (WHERE met = 'true') AS numeric) / nullif(count(met), 0) AS outcome_rate,
       sum(retained) AS retained_cents, sum(expanded) AS expanded_cents, sum(cost) AS cost_cents,
       CAST(sum(retained) + sum(expanded) - sum(cost) AS numeric) / nullif(sum(cost), 0) AS roi
FROM figures GROUP BY month, framework ORDER BY month, framework
"""


# The fair reference (`--fair-reference`): one hand-written statement computing the route's incremental counts for
# the same 12 months, the work SPEC §9's matched control needs and the naive figures skip. Per matched pool
# (at-risk flag × band at start × tier × window length × calendar month of the treated units started in the
# period): every control window (each start day of the pool × every other customer in the stratum that day, from
# its latest snapshot of the 7 days up to it, at risk by SPEC §5's rule, paying the day before, with no
# intervention window overlapping), its ARR at start, whether it churned by its last day (or today) and the
# expansion inside; the pool's windows, customers and sums; then a × (p − c) and a × e of each treated unit of a
# pool of at least `min_controls` customers (rounded half away from zero here; the route rounds half to even).
# Left out (cheap in any implementation): the holdout and model methods, the rescue-year cap, the split among an
# episode's interventions, the bootstrap, the point-in-time score of a day without a snapshot.
FAIR_SQL = """
WITH RECURSIVE
-- The ledger per customer and day: ARR and cumulative expansion after the day's changes, until the next change.
led AS (
    SELECT customer_id, d,
           sum(delta) OVER (PARTITION BY customer_id ORDER BY d) AS arr,
           sum(grown) OVER (PARTITION BY customer_id ORDER BY d) AS grown,
           coalesce(lead(d) OVER (PARTITION BY customer_id ORDER BY d), CAST('infinity' AS date)) AS next_d
    FROM (SELECT customer_id, effective_date AS d, sum(delta_cents) AS delta,
                 coalesce(sum(delta_cents) FILTER (WHERE movement_type IN ('upsell', 'cross_sell')), 0) AS grown
          FROM arr_change GROUP BY customer_id, effective_date) changes
),
-- Started, not cancelled intervention windows.
w AS (
    SELECT i.id, i.customer_id, i.started_on AS s, i.window_end AS e, i.at_risk, i.context->>'band' AS band, c.tier
    FROM intervention i JOIN customer c ON c.id = i.customer_id
    WHERE i.started_on IS NOT NULL AND i.window_end IS NOT NULL AND i.status <> 'cancelled'
),
-- At-risk episodes (SPEC §5): a customer's at-risk windows starting inside the first one's window share it.
risky AS (SELECT w.*, row_number() OVER (PARTITION BY customer_id ORDER BY s, id) AS n FROM w WHERE at_risk),
episode (customer_id, n, first_id, first_e) AS (
    SELECT customer_id, n, id, e FROM risky WHERE n = 1
    UNION ALL
    SELECT r.customer_id, r.n, CASE WHEN r.s < p.first_e THEN p.first_id ELSE r.id END,
           CASE WHEN r.s < p.first_e THEN p.first_e ELSE r.e END
    FROM episode p JOIN risky r ON r.customer_id = p.customer_id AND r.n = p.n + 1
),
-- Treated units started in the period: an episode's first window, or a non-at-risk window; with a band at start.
unit AS (
    SELECT w.*, w.e - w.s AS len, CAST(date_trunc('month', w.s) AS date) AS month
    FROM w
    WHERE w.s BETWEEN :start AND :end AND w.band IS NOT NULL
      AND (NOT w.at_risk OR w.id IN (SELECT first_id FROM episode))
),
key_day AS (SELECT DISTINCT at_risk, band, tier, len, month, s FROM unit),
-- Each customer's band on each start day: its latest snapshot taken that day or in the 6 days before.
snap AS (
    SELECT customer_id, snapshot_date, band,
           least(snapshot_date + 6,
                 coalesce(lead(snapshot_date) OVER (PARTITION BY customer_id ORDER BY snapshot_date) - 1,
                          snapshot_date + 6)) AS until
    FROM health_snapshot WHERE snapshot_date BETWEEN CAST(:start AS date) - 6 AND :end
),
day_band AS (
    SELECT g.s, snap.customer_id, snap.band
    FROM snap CROSS JOIN LATERAL generate_series(snap.snapshot_date, snap.until, interval '1 day') AS covered(day)
    JOIN (SELECT DISTINCT s FROM unit) g ON g.s = CAST(covered.day AS date)
),
-- Control windows: on s, in the key's band and tier, at risk (or not) by SPEC §5's rule, no intervention window
-- overlapping [s, s + len), paying the day before; their ARR at start, churn at the last day, expansion inside.
cell AS (
    SELECT k.at_risk, k.band, k.tier, k.len, k.month, k.s, b.customer_id,
           least(k.s + k.len - 1, CAST(:today AS date)) AS last
    FROM key_day k
    JOIN day_band b ON b.s = k.s AND b.band = k.band
    JOIN customer c ON c.id = b.customer_id AND c.tier IS NOT DISTINCT FROM k.tier
    WHERE k.at_risk = (b.band = 'red' OR (b.band = 'yellow' AND EXISTS (
              SELECT 1 FROM renewal r WHERE r.customer_id = b.customer_id AND k.s >= r.due_date - 90
                AND k.s <= least(r.due_date, CASE WHEN r.status = 'open' THEN CAST('infinity' AS date)
                                                 ELSE coalesce(r.closed_on, CAST('infinity' AS date)) END))))
      AND NOT EXISTS (SELECT 1 FROM intervention i WHERE i.customer_id = b.customer_id AND i.status <> 'cancelled'
                        AND i.started_on < k.s + k.len AND i.window_end > k.s)
),
control AS (
    SELECT cell.at_risk, cell.band, cell.tier, cell.len, cell.month, cell.customer_id, a.arr AS a,
           coalesce(z.arr, 0) <= 0 AS churned,
           CASE WHEN cell.last >= cell.s THEN coalesce(z.grown, 0) - coalesce(a.grown, 0) ELSE 0 END AS grown
    FROM cell
    JOIN led a ON a.customer_id = cell.customer_id AND a.d <= cell.s - 1 AND cell.s - 1 < a.next_d
    LEFT JOIN led z ON z.customer_id = cell.customer_id AND z.d <= cell.last AND cell.last < z.next_d
    WHERE a.arr > 0
),
pool AS (
    SELECT at_risk, band, tier, len, month, count(*) AS windows, count(DISTINCT customer_id) AS customers,
           sum(a) AS start_cents, sum(a) FILTER (WHERE churned) AS churned_cents, sum(grown) AS grown_cents
    FROM control GROUP BY at_risk, band, tier, len, month
),
-- Each treated unit's a (ARR the day before its start) and c (ARR 0 on its window's last day, or today).
treated AS (
    SELECT u.at_risk, u.band, u.tier, u.len, u.month, coalesce(a.arr, 0) AS a, coalesce(z.arr, 0) <= 0 AS churned
    FROM unit u
    LEFT JOIN led a ON a.customer_id = u.customer_id AND a.d <= u.s - 1 AND u.s - 1 < a.next_d
    LEFT JOIN led z ON z.customer_id = u.customer_id AND z.d <= least(u.s + u.len - 1, CAST(:today AS date))
                   AND least(u.s + u.len - 1, CAST(:today AS date)) < z.next_d
)
SELECT p.at_risk, p.band, p.tier, p.len, p.month, p.windows, p.customers, p.start_cents,
       coalesce(p.churned_cents, 0) AS churned_cents, p.grown_cents, count(t.*) AS units,
       sum(round(t.a * (CAST(coalesce(p.churned_cents, 0) AS numeric) / p.start_cents
                        - CASE WHEN t.churned THEN 1 ELSE 0 END)))
           FILTER (WHERE t.at_risk) AS incremental_retained_cents,
       sum(round(t.a * CAST(p.grown_cents AS numeric) / p.start_cents)) AS expected_expansion_cents
FROM pool p JOIN treated t USING (at_risk, band, tier, len, month)
WHERE p.customers >= :min_controls
GROUP BY p.at_risk, p.band, p.tier, p.len, p.month, p.windows, p.customers, p.start_cents, p.churned_cents,
         p.grown_cents
ORDER BY p.month, p.at_risk, p.band, p.tier, p.len
"""


# --- Databases and books ----------------------------------------------------------------------------------------


@dataclass
class BookDb:
    """One size's database and what its book is."""

    customers: int
    name: str
    url: str
    today: date
    created: bool
    load_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    reused: bool = False


def _server_conn(server: Engine) -> Any:
    return server.connect().execution_options(isolation_level="AUTOCOMMIT")


def _mark(server: Engine, name: str) -> dict[str, Any] | None:
    """The book recorded in the database's COMMENT, or None."""
    with _server_conn(server) as conn:
        comment = conn.scalar(
            text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"), {"n": name}
        )
    try:
        mark = json.loads(comment or "")
    except ValueError:
        return None
    return mark.get(MARK) if isinstance(mark, dict) else None


def ensure_book(server: Engine, pg: str, name: str, customers: int, *, seed: int, reload: bool, today: date) -> BookDb:
    """The database `name` holding the book of `customers` (reused, or created and loaded)."""
    url = make_url(pg).set(database=name).render_as_string(hide_password=False)
    with _server_conn(server) as conn:
        exists = bool(conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}))
    mark = _mark(server, name) if exists else None
    wanted = {"customers": customers, "seed": seed, "version": bench_book.VERSION}
    if exists and not reload and mark and all(mark.get(k) == v for k, v in wanted.items()):
        migrate.upgrade(url)  # the code may have new migrations since the book was loaded
        return BookDb(customers, name, url, date.fromisoformat(mark["today"]), created=False,
                      load_seconds=mark.get("seconds", {}), counts=mark.get("counts", {}), reused=True)  # fmt: skip
    if exists and not reload:
        raise SystemExit(f"database {name} exists but holds no complete book of {customers:,} customers (seed "
                         f"{seed}, book version {bench_book.VERSION}); pass --reload to replace it, or another "
                         "--database prefix")  # fmt: skip
    with _server_conn(server) as conn:
        if exists:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = BookDb(customers, name, url, today, created=True)
    console = Console(stderr=True)
    console.print(f"[bold]loading a book of {customers:,} customers into {name}[/bold] (seed {seed}, day {today})")
    engine = make_engine(url)
    try:
        migrate.upgrade(url)
        started = time.perf_counter()
        plan = bench_book.plan_book(customers, seed=seed, today=today)
        planned = time.perf_counter() - started
        report = bench_book.load_book(make_sessionmaker(engine), plan, console=console)
        # As autovacuum leaves a database at rest: statistics, and a visibility map for index-only scans (a fresh
        # book read without it takes a bitmap heap scan of every snapshot row: 3× slower, measured).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    except BaseException:
        engine.dispose()
        with _server_conn(server) as conn:  # half a book is no book: never leave one behind
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        raise
    engine.dispose()
    db.load_seconds = {"plan": planned, **report.seconds}
    db.counts = report.counts
    comment = json.dumps(
        {MARK: {**wanted, "today": today.isoformat(), "seconds": db.load_seconds, "counts": db.counts}}
    )
    with _server_conn(server) as conn:
        conn.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'"))
    return db


def row_counts(url: str) -> dict[str, int]:
    """Rows per table of the book, and the distinct snapshot days."""
    engine = make_engine(url)
    tables = ("customer", "team_member", "revenue_event", "arr_change", "renewal", "cost", "usage_event",
              "intervention", "health_snapshot")  # fmt: skip
    try:
        with engine.connect() as conn:
            counts = {t: int(conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}
            counts["intervention at risk"] = int(
                conn.scalar(text("SELECT count(*) FROM intervention WHERE at_risk")) or 0
            )
            counts["intervention with outcome"] = int(
                conn.scalar(text("SELECT count(*) FROM intervention WHERE outcome IS NOT NULL")) or 0
            )
            counts["snapshot days"] = int(
                conn.scalar(text("SELECT count(DISTINCT snapshot_date) FROM health_snapshot")) or 0
            )
    finally:
        engine.dispose()
    return counts


# --- Timing in a child process ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """One timed route: its label, path and query parameters."""

    label: str
    path: str
    params: dict[str, str]
    keep_body: bool = False


@dataclass
class Timing:
    """What one read measured: call seconds, statements of the last call, or how it failed."""

    seconds: list[float] = field(default_factory=list)
    cpu: list[float | None] = field(default_factory=list)  # CPU seconds of the call: this process + its backends
    statements: int | None = None
    timed_out: float | None = None  # the timeout, when a call did not finish within it
    error: str | None = None
    body: Any = None

    @property
    def median(self) -> float | None:
        """Median seconds of the timed calls."""
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def median_cpu(self) -> float | None:
        """Median CPU seconds of the timed calls (None when the server's processes could not be read)."""
        known = [c for c in self.cpu if c is not None]
        return statistics.median(known) if known and len(known) == len(self.cpu) else None


def _server_cpu(monitor: Engine, application_name: str) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends of `application_name`, from /proc (None when the server
    is not on this machine): with the client's own CPU time it measures a call's work, which other processes on a
    shared machine slow down far less than they slow its wall-clock time."""
    with monitor.connect() as conn:
        pids = list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                                 {"a": application_name}))  # fmt: skip
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def _child(  # noqa: PLR0917 - a multiprocessing target: positional arguments
    url: str, secret: str, reads: list[Read], calls: int, out: Connection, freeze: bool
) -> None:
    """Serve `reads` in process, `calls` times each, sending ("call", label, seconds, cpu, statements, body) per
    call (cpu: this process's and its PostgreSQL backends' CPU seconds, None when they cannot be read)."""
    from fastapi.testclient import TestClient  # noqa: PLC0415 - only the child needs the app

    from app.main import create_app, freeze_heap  # noqa: PLC0415

    engine = make_engine(url)
    from app.logs import configure_logging  # noqa: PLC0415

    # Warnings only, as `csroi serve` would log them: a line per request would interleave with the table.
    configure_logging("WARNING", json=False)
    app = create_app(Settings(database_url=url, migrate_on_start=False))
    app.state.engine, app.state.sessionmaker = engine, make_sessionmaker(engine)
    if freeze:  # as `csroi serve` does once its app is built (`app.main.serve_app`)
        freeze_heap()
    count = [0]

    def seen(*_: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", seen)
    application_name = make_url(url).query.get("application_name")
    monitor = make_engine(make_url(url).difference_update_query(["application_name"]).render_as_string(False))

    def cpu() -> float | None:
        server = _server_cpu(monitor, str(application_name))
        return None if server is None else time.process_time() + server

    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        out.send(("ready",))
        for read in reads:
            for n in range(calls):
                cpu_before = cpu()
                before, started = count[0], time.perf_counter()
                response = client.get(read.path, params=read.params)
                seconds = time.perf_counter() - started
                cpu_after = cpu()
                used = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
                if response.status_code != 200:
                    out.send(("error", read.label, f"{response.status_code} {response.text[:300]}"))
                    break
                body = response.json() if read.keep_body and n == calls - 1 else None
                out.send(("call", read.label, seconds, used, count[0] - before, body))
    out.send(("done",))
    engine.dispose()
    monitor.dispose()


def _terminate_sessions(server: Engine, application_name: str) -> None:
    """End the PostgreSQL sessions of a killed child (they may still be running its statement)."""
    with _server_conn(server) as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :a"),
            {"a": application_name},
        )


def time_reads(server: Engine, url: str, secret: str, reads: list[Read], *, runs: int, warm_up: bool,
               timeout: float, freeze: bool = True) -> dict[str, Timing]:  # fmt: skip
    """Time every read in child processes; a call over `timeout` seconds kills the child and is reported."""
    context = multiprocessing.get_context("spawn")
    calls = runs + int(warm_up)
    results: dict[str, Timing] = {}
    pending = list(reads)
    while pending:
        application_name = f"csroi-bench-{uuid.uuid4().hex[:10]}"
        child_url = make_url(url).update_query_dict({"application_name": application_name})
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child,
            args=(child_url.render_as_string(hide_password=False), secret, pending, calls, send, freeze),
        )
        process.start()
        send.close()
        try:
            if not receive.poll(300) or receive.recv() != ("ready",):
                raise RuntimeError("the timing child did not start")
            while pending:
                read = pending[0]
                timing = results.setdefault(read.label, Timing())
                for n in range(calls):
                    if not receive.poll(timeout):
                        timing.timed_out = timeout
                        break
                    message = receive.recv()
                    if message[0] == "error":
                        timing.error = message[2]
                        break
                    _, _, seconds, used, statements, body = message
                    if n >= calls - runs:
                        timing.seconds.append(seconds)
                        timing.cpu.append(used)
                    timing.statements, timing.body = statements, body
                pending.pop(0)
                if timing.timed_out is not None:
                    break  # the child is stuck in this call: a new one takes the rest
        finally:
            if process.is_alive():
                process.kill()
            process.join()
            receive.close()
            _terminate_sessions(server, application_name)
    return results


def time_sql(url: str, params: dict[str, Any], *, runs: int, warm_up: bool) -> tuple[float, list[Any]]:
    """Median seconds of NAIVE_SQL (after one warm-up call), and its rows."""
    engine = make_engine(url)
    rows: list[Any] = []
    times = []
    try:
        for n in range(runs + int(warm_up)):
            with engine.connect() as conn:
                started = time.perf_counter()
                rows = list(conn.execute(text(NAIVE_SQL), params).all())
                if n >= int(warm_up):
                    times.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return statistics.median(times), rows


def time_fair(url: str, params: dict[str, Any], *, timeout: float) -> tuple[float | None, float | None, list[Any]]:
    """Seconds and CPU seconds (its backend's, from /proc) of one call of FAIR_SQL, and its rows; None, None when it
    ran past `timeout` seconds (PostgreSQL's statement_timeout ends it)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT set_config('statement_timeout', :t, true)"), {"t": f"{int(timeout * 1000)}"})
            # Planner row estimates of the CTEs are off by two orders of magnitude (18 treated units estimated for
            # 4,000): left on, nested loops over the ledger ranges and the control cells never finish.
            conn.execute(text("SET LOCAL enable_nestloop = off"))
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
            stat = Path(f"/proc/{pid}/stat")

            def cpu() -> float | None:
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    return None
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

            before, started = cpu(), time.perf_counter()
            try:
                rows = list(conn.execute(text(FAIR_SQL), params).all())
            except OperationalError:
                return None, None, []
            seconds, after = time.perf_counter() - started, cpu()
    finally:
        engine.dispose()
    return seconds, None if before is None or after is None else after - before, rows


# --- One size, and the report -------------------------------------------------------------------------------


@dataclass
class SizeResult:
    """Everything measured on one book."""

    db: BookDb
    period: tuple[date, date]
    counts: dict[str, int]
    timings: dict[str, Timing]
    sql_seconds: float
    sql_rows: list[Any]
    fair: tuple[float | None, float | None, list[Any]] | None = None  # FAIR_SQL's seconds, CPU seconds, rows


def measure(server: Engine, db: BookDb, *, runs: int, warm_up: bool, timeout: float,
            fair_timeout: float | None = None, freeze: bool = True) -> SizeResult:  # fmt: skip
    """Time the reads and the naive SQL on one book."""
    # The 12 complete months before the book's day.
    end = month_end(add_months(db.today.replace(day=1), -1))
    start = add_months(end.replace(day=1), -11)
    engine = make_engine(db.url)
    try:
        with make_sessionmaker(engine)() as session:
            secret = keys_service.create_key(session, name="bench-roi", scopes=[Scope.admin]).secret
            session.commit()
            top = session.scalar(
                text("SELECT customer_id FROM intervention GROUP BY customer_id ORDER BY count(*) DESC, customer_id "
                     "LIMIT 1")
            )  # fmt: skip
    finally:
        engine.dispose()
    roi = {"start": start.isoformat(), "end": end.isoformat(), "interval": "month"}
    reads = [
        Read("/v1/metrics/roi 12 months", "/v1/metrics/roi", roi),
        Read("/v1/metrics/roi 12 months by framework", "/v1/metrics/roi", {**roi, "group_by": "framework"}, True),
        Read("GET /v1/scorecards/{month}", f"/v1/scorecards/{end:%Y-%m}", {}),
        Read("GET /v1/interventions?limit=1000", "/v1/interventions", {"limit": "1000"}),
        Read("GET /v1/customers/{id}/recommendation", f"/v1/customers/{top}/recommendation", {}),
    ]
    timings = time_reads(server, db.url, secret, reads, runs=runs, warm_up=warm_up, timeout=timeout, freeze=freeze)
    default_hourly = Settings(database_url=db.url).default_hourly_cost
    params = {"start": start, "end": end, "today": utcnow().date(), "default_hourly_cents": int(default_hourly * 100)}
    # The reference always gets a warm-up and at least 3 calls: it is cheap, and a cold first call is noise.
    sql_seconds, sql_rows = time_sql(db.url, params, runs=max(runs, RUNS), warm_up=True)
    fair = None
    if fair_timeout is not None:
        fair = time_fair(db.url, {**params, "min_controls": Settings(database_url=db.url).min_controls},
                         timeout=fair_timeout)  # fmt: skip
    return SizeResult(db, (start, end), row_counts(db.url), timings, sql_seconds, sql_rows, fair)


SQL_LABEL = "naive 12-month figures by framework, one SQL query"
TARGETS = {
    "/v1/metrics/roi 12 months": "< 1 s",
    "/v1/metrics/roi 12 months by framework": "< 1 s, ≤ 1.5× SQL",
    "GET /v1/scorecards/{month}": "< 2 s",
    "GET /v1/interventions?limit=1000": "< 0.5 s",
    "GET /v1/customers/{id}/recommendation": "< 0.5 s",
}


def _cell(timing: Timing | None, sql: float) -> tuple[str, str, str, str]:
    if timing is None:
        return "", "", "", ""
    if timing.error is not None:
        return "error", "", "", ""
    median = timing.median
    if median is None:  # the first call already timed out
        return f"> {timing.timed_out:.0f}", f"> {(timing.timed_out or 0) / sql:,.0f}", "—", "—"
    suffix = f" (> {timing.timed_out:.0f} later)" if timing.timed_out else ""
    cpu = timing.median_cpu
    return (
        f"{median:.3f}{suffix}",
        f"{median / sql:,.1f}",
        "—" if cpu is None else f"{cpu:.3f}",
        f"{timing.statements:,}",
    )


def _growth(large: Timing | float | None, small: Timing | float | None) -> str:
    def value(t: Timing | float | None) -> tuple[float | None, bool]:
        if isinstance(t, float):
            return t, False
        if t is None or t.error:
            return None, False
        return (t.median, False) if t.median is not None else (t.timed_out, True)

    (big, big_open), (little, little_open) = value(large), value(small)
    if big is None or little is None or little_open:
        return "—"
    return f"{'> ' if big_open else ''}{big / little:.2f}"


def report(results: list[SizeResult], *, runs: int, warm_up: bool) -> None:  # noqa: PLR0912 - one table, checks
    """Print the load, the row counts, the timing table and the agreement check."""
    for r in results:
        db = r.db
        how = "reused (loaded earlier)" if db.reused else "loaded now"
        print(f"\n== {db.customers:,} customers: database {db.name}, book of {db.today}, {how}")
        if db.load_seconds:
            stages = ", ".join(f"{k} {v:.0f} s" for k, v in db.load_seconds.items())
            print(f"   load {sum(db.load_seconds.values()):.0f} s: {stages}")
        print("   rows: " + ", ".join(f"{v:,} {k}" for k, v in r.counts.items()))
        print(f"   12 months: {r.period[0]} to {r.period[1]}")
    sizes = sorted(results, key=lambda r: -r.db.customers)
    heads = [f"{r.db.customers:,}" for r in sizes]
    print(f"\nroutes: medians of {runs} call(s){' after one warm-up' if warm_up else ', no warm-up'}; the SQL: median "
          f"of {max(runs, RUNS)} after one warm-up; PostgreSQL; in process; CPU s: the call's CPU seconds in the "
          "client process and its PostgreSQL backends (from /proc; — when the server is elsewhere)")  # fmt: skip
    columns = ["read", *[f"{h} {c}" for h in heads for c in ("s", "× SQL", "CPU s", "statements")]]
    if len(sizes) > 1:
        columns.append(f"growth {heads[0]} / {heads[-1]}")
    columns.append("target (SPEC §9)")
    lines = []
    labels = list(sizes[0].timings)
    for label in labels:
        cells = [label]
        for r in sizes:
            cells += list(_cell(r.timings.get(label), r.sql_seconds))
        if len(sizes) > 1:
            cells.append(_growth(sizes[0].timings.get(label), sizes[-1].timings.get(label)))
        cells.append(TARGETS.get(label, ""))
        lines.append(cells)
    sql_cells = [SQL_LABEL]
    for r in sizes:
        sql_cells += [f"{r.sql_seconds:.4f}", "1.0", "—", "1"]
    if len(sizes) > 1:
        sql_cells.append(_growth(sizes[0].sql_seconds, sizes[-1].sql_seconds))
    lines.append([*sql_cells, ""])
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *lines, strict=True)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w if i == 0 else "-" * (w - 1) + ":" for i, w in enumerate(widths)) + " |")
    for cells in lines:
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(
            zip(cells, widths, strict=True))) + " |")  # fmt: skip
    for r in sizes:
        for label, timing in r.timings.items():
            if timing.error:
                print(f"   {r.db.customers:,}: {label}: {timing.error}")
        _agreement(r)
    for r in sizes:  # the fair reference, when asked for
        _fair(r)
    print("\nGrowth is the larger book's time over the smaller's (4× the customers; SPEC §9 target ≤ 4).")


def _agreement(r: SizeResult) -> None:
    """Compare the route's by-framework rows with the naive SQL: counts and cost equal, revenue side by side."""
    timing = r.timings.get("/v1/metrics/roi 12 months by framework")
    if timing is None or timing.body is None:
        print(f"   {r.db.customers:,}: no by-framework answer to compare with the SQL (timed out or failed)")
        return
    route = {(row["period_start"][:7], row["group"]): row for row in timing.body["rows"]}
    sql = {(f"{row.month:%Y-%m}", row.framework): row for row in r.sql_rows}
    cents = Decimal("0.01")
    same = 0
    differ: list[str] = []
    for key in sorted(set(route) | set(sql)):
        a, b = route.get(key), sql.get(key)
        if a is None or b is None:
            differ.append(f"{key}: only in {'SQL' if a is None else 'route'}")
            continue
        # The route sends ratios rounded to six decimals, half to even (app.schemas.ratio_json).
        rate = None if b.outcome_rate is None else ratio_json(b.outcome_rate)
        checks = {
            "interventions": a["interventions"] == b.interventions,
            "measured": a["measured"] == b.measured,
            "outcome_rate": a["outcome_rate"] == rate,
            "cost": Decimal(str(a["cost"])).quantize(cents) == Decimal(b.cost_cents) / 100,
        }
        if all(checks.values()):
            same += 1
        else:
            fields = {"interventions": b.interventions, "measured": b.measured, "outcome_rate": rate,
                      "cost": Decimal(b.cost_cents) / 100}  # fmt: skip
            differ.append(", ".join(f"{key} {f}: route {a[f]}, SQL {fields[f]}" for f, ok in checks.items() if not ok))
    retained = (sum(Decimal(str(x["retained_arr"])) for x in route.values()),
                sum(Decimal(x.retained_cents) for x in sql.values()) / 100)  # fmt: skip
    expanded = (sum(Decimal(str(x["expanded_arr"])) for x in route.values()),
                sum(Decimal(x.expanded_cents) for x in sql.values()) / 100)  # fmt: skip
    print(f"   {r.db.customers:,}: route vs naive SQL, {len(set(route) | set(sql))} (month, framework) rows: "
          f"interventions, measured, outcome rate and cost agree on {same}")  # fmt: skip
    for line in differ[:5]:
        print(f"      differs: {line}")
    print(f"      retained ARR route {retained[0]:,.2f} vs naive {retained[1]:,.2f}; expanded ARR route "
          f"{expanded[0]:,.2f} vs naive {expanded[1]:,.2f} (episodes, cap and splits only in the route)")  # fmt: skip


def _fair(r: SizeResult) -> None:
    """The fair reference's time and the ROI routes' ratios to it, beside their ratios to the naive SQL."""
    if r.fair is None:
        return
    seconds, cpu, rows = r.fair
    if seconds is None:
        print(f"   {r.db.customers:,}: fair reference (FAIR_SQL): did not finish within its timeout")
        return
    print(f"   {r.db.customers:,}: fair reference (FAIR_SQL, the incremental counts): {seconds:.2f} s, "
          f"{'—' if cpu is None else f'{cpu:.2f}'} CPU s; {len(rows)} matched pools, "
          f"{sum(row.windows for row in rows):,} control windows, "
          f"{sum(row.units for row in rows):,} treated units")  # fmt: skip
    for label in ("/v1/metrics/roi 12 months", "/v1/metrics/roi 12 months by framework"):
        timing = r.timings.get(label)
        if timing is None or timing.median is None:
            continue
        cpu_ratio = "" if cpu is None or timing.median_cpu is None else f", CPU {timing.median_cpu / cpu:.3f}"
        print(f"      {label}: route / fair reference {timing.median / seconds:.3f}{cpu_ratio} (route / naive SQL "
              f"{timing.median / r.sql_seconds:.1f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--customers", type=int, default=10_000, help="the main book's size (default 10,000)")
    parser.add_argument("--also", type=int, nargs="*", default=[2_500], help="other sizes (default 2,500)")
    parser.add_argument("--database", default="csroi_bench_roi", help="database name prefix (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the databases this run created")
    parser.add_argument("--reload", action="store_true", help="replace existing books")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--today", type=date.fromisoformat, help="the day of a new book (default: today, UTC)")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed calls per read (default {RUNS})")
    parser.add_argument("--no-warm-up", action="store_true", help="time the first call (for very slow routes)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one call may take (default 600)")
    parser.add_argument("--no-freeze", action="store_true",
                        help="do not freeze the heap once the app is built (`csroi serve` does)")  # fmt: skip
    parser.add_argument("--load-only", action="store_true", help="load (or find) the books, time nothing")
    parser.add_argument("--fair-reference", type=float, metavar="TIMEOUT", default=None,
                        help="also run FAIR_SQL once per size, given at most TIMEOUT seconds")  # fmt: skip
    args = parser.parse_args()

    server = make_engine(args.pg)
    today = args.today or utcnow().date()
    books: list[BookDb] = []
    try:
        for customers in dict.fromkeys([args.customers, *args.also]):
            name = f"{args.database}_{customers}"
            books.append(ensure_book(server, args.pg, name, customers, seed=args.seed, reload=args.reload, today=today))
        if args.load_only:
            for db in books:
                print(f"{db.name}: {'reused' if db.reused else 'loaded'}; {row_counts(db.url)}")
            return
        warm_up = not args.no_warm_up
        results = [
            measure(
                server,
                db,
                runs=args.runs,
                warm_up=warm_up,
                timeout=args.timeout,
                fair_timeout=args.fair_reference,
                freeze=not args.no_freeze,
            )
            for db in books
        ]
        report(results, runs=args.runs, warm_up=warm_up)
    finally:
        if not args.keep:
            with _server_conn(server) as conn:
                for db in books:
                    if db.created:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'))
        server.dispose()


if __name__ == "__main__":
    main()
