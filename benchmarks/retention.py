"""Retention benchmark: the route against one hand-written SQL query and pandas, on a private PostgreSQL.

Run: `.venv/bin/python benchmarks/retention.py [--scale 1] [--also-10x]` (see benchmarks/README.md).

It starts its own PostgreSQL 15 cluster (temporary data directory, free port, run as the `postgres` OS user
when started as root) and stops it by its pid at the end. For each scale it builds a seeded synthetic book of
10,000 customers in 4 segments and 200,000 × scale revenue events over 2023–2025, loads the events through the
service's own ingest (`ingest_revenue_events`, batches of 10,000, one commit per batch) so `arr_change` is
derived exactly as in production, then times over the last 12 calendar months of the data, median of 5 runs
after one warm-up:

- the route `GET /v1/metrics/retention?interval=month&group_by=segment` through HTTP (`csroi serve`, one worker);
- RETENTION_SQL below, from `arr_change` (the derived table the route reads: the fair comparison), and the
  same query from raw `revenue_event` (deriving the movements on the fly), for information;
- pandas: loading `arr_change` and `customer` from PostgreSQL (COPY to CSV, read_csv) plus the computation.

It prints the ratios next to the issue's targets (never a pass/fail on timing) and checks that every
(month, segment) row agrees exactly across all of them; a disagreement exits with status 1.
"""

import argparse
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psycopg
from psycopg import sql

from app import migrate
from app.config import Settings, parse_work_mem
from app.customers import service as customers_service
from app.customers.schemas import CustomerBatchItem
from app.db import make_engine, make_sessionmaker
from app.ledger.ingest import ingest_revenue_events
from app.ledger.schemas import RevenueEventIn
from app.metrics.periods import add_months, month_end

PG_BIN = Path(os.environ.get("CSROI_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Server settings: defaults (fsync, synchronous_commit, work_mem…) except parallel query, which was slower on
# these 2-core machines (ENGINEERING.md), and a shared_buffers that holds the 10× tables.
PG_SETTINGS = {"max_parallel_workers_per_gather": "0", "shared_buffers": "1GB"}

CUSTOMERS = 10_000
EVENTS_PER_SCALE = 200_000
BATCH = 10_000
RUNS = 5
SEED = 20251231
BOOK_START, BOOK_END = date(2023, 1, 1), date(2025, 12, 31)
# (segment, share of customers, typical landing ARR of the core product in cents)
SEGMENTS = (
    ("enterprise", 0.10, 9_000_000),
    ("mid_market", 0.25, 2_400_000),
    ("smb", 0.40, 600_000),
    ("self_serve", 0.25, 120_000),
)
MONEY_FIELDS = (
    "starting_arr",
    "ending_arr",
    "upsell",
    "cross_sell",
    "downsell",
    "churn",
    "reactivation",
    "total_starting_arr",
    "total_ending_arr",
    "new",
)
COUNT_FIELDS = ("customers_start", "churned_customers", "new_customers")
RATIO_FIELDS = ("nrr", "grr", "logo_churn_rate", "arr_growth")
RATIO_PLACES = Decimal("0.000001")  # the route's documented JSON precision for ratios (app.metrics.schemas)


# ---------------------------------------------------------------------------------------------------------------
# The hand-written reference query. {source} is `arr_change` (the derived ledger the route reads) or, for
# information, the `ledger` CTE of RAW_LEDGER_CTE computed from `revenue_event`.
#
# Definitions (SPEC §4): ARR at start of a month = the customer's changes dated before its first day; ARR at end
# = changes dated on or before its last day; the cohort = customers with ARR > 0 at start. Instead of summing
# every change once per month, it reads the ledger once: each customer's ARR before the range, plus its changes
# inside the range summed per month, turned into month-end balances by a running sum.
# ---------------------------------------------------------------------------------------------------------------
RETENTION_SQL = """
    -- months: the calendar months of the range (pid 0, 1, ...), with first and last day
    months AS (
        SELECT n AS pid,
               (%(start)s::date + n * interval '1 month')::date AS ps,
               (%(start)s::date + (n + 1) * interval '1 month' - interval '1 day')::date AS pe
        FROM generate_series(0, %(months)s - 1) AS n
    ),
    -- every customer with a change up to the end: its first change, and its ARR before the range
    customers AS (
        SELECT customer_id,
               MIN(effective_date) AS first_change,
               COALESCE(SUM(delta_cents) FILTER (WHERE effective_date < %(start)s), 0) AS opening
        FROM {source}
        WHERE effective_date <= %(end)s
        GROUP BY customer_id
    ),
    -- each customer's changes inside the range, per month: net change, and each movement as a positive amount
    moves AS (
        SELECT customer_id,
               date_trunc('month', effective_date)::date AS ps,
               SUM(delta_cents) AS delta,
               SUM(ABS(delta_cents)) FILTER (WHERE movement_type = 'new') AS new,
               SUM(ABS(delta_cents)) FILTER (WHERE movement_type = 'reactivation') AS reactivation,
               SUM(ABS(delta_cents)) FILTER (WHERE movement_type = 'upsell') AS upsell,
               SUM(ABS(delta_cents)) FILTER (WHERE movement_type = 'cross_sell') AS cross_sell,
               SUM(ABS(delta_cents)) FILTER (WHERE movement_type = 'downsell') AS downsell,
               SUM(ABS(delta_cents)) FILTER (WHERE movement_type = 'churn') AS churn
        FROM {source}
        WHERE effective_date BETWEEN %(start)s AND %(end)s
        GROUP BY customer_id, date_trunc('month', effective_date)
    ),
    -- per customer and month (from the month of its first change on): ARR at end = opening + running sum of
    -- the monthly net changes; ARR at start = ARR at end minus that month's net change
    balances AS (
        SELECT m.pid, c.customer_id,
               c.opening + COALESCE(SUM(mv.delta) OVER w, 0) - COALESCE(mv.delta, 0) AS arr_start,
               c.opening + COALESCE(SUM(mv.delta) OVER w, 0) AS arr_end,
               COALESCE(mv.new, 0) AS new, COALESCE(mv.reactivation, 0) AS reactivation,
               COALESCE(mv.upsell, 0) AS upsell, COALESCE(mv.cross_sell, 0) AS cross_sell,
               COALESCE(mv.downsell, 0) AS downsell, COALESCE(mv.churn, 0) AS churn
        FROM customers c
        JOIN months m ON c.first_change <= m.pe
        LEFT JOIN moves mv ON mv.customer_id = c.customer_id AND mv.ps = m.ps
        WINDOW w AS (PARTITION BY c.customer_id ORDER BY m.pid)
    ),
    -- per month and segment: cohort sums (cohort = ARR > 0 at start), whole-book sums, new business
    sums AS (
        SELECT b.pid, cu.segment AS grp,
               COUNT(*) FILTER (WHERE b.arr_start > 0) AS customers_start,
               COALESCE(SUM(b.arr_start) FILTER (WHERE b.arr_start > 0), 0) AS starting_arr,
               COALESCE(SUM(b.arr_end) FILTER (WHERE b.arr_start > 0), 0) AS ending_arr,
               COALESCE(SUM(b.upsell) FILTER (WHERE b.arr_start > 0), 0) AS upsell,
               COALESCE(SUM(b.cross_sell) FILTER (WHERE b.arr_start > 0), 0) AS cross_sell,
               COALESCE(SUM(b.downsell) FILTER (WHERE b.arr_start > 0), 0) AS downsell,
               COALESCE(SUM(b.churn) FILTER (WHERE b.arr_start > 0), 0) AS churn,
               COALESCE(SUM(b.reactivation) FILTER (WHERE b.arr_start > 0), 0) AS reactivation,
               COUNT(*) FILTER (WHERE b.arr_start > 0 AND b.arr_end = 0) AS churned_customers,
               COALESCE(SUM(LEAST(b.arr_start, b.arr_end)) FILTER (WHERE b.arr_start > 0), 0) AS retained_arr,
               SUM(b.arr_start) AS total_starting_arr,
               SUM(b.arr_end) AS total_ending_arr,
               SUM(b.new) AS new,
               COUNT(*) FILTER (WHERE b.new > 0) AS new_customers
        FROM balances b
        JOIN customer cu ON cu.id = b.customer_id
        GROUP BY b.pid, cu.segment
    )
SELECT m.ps AS period_start, m.pe AS period_end, s.grp,
       s.customers_start, s.starting_arr, s.ending_arr, s.upsell, s.cross_sell, s.downsell, s.churn,
       s.reactivation, s.churned_customers, s.total_starting_arr, s.total_ending_arr, s.new, s.new_customers,
       s.retained_arr,
       s.ending_arr::numeric / NULLIF(s.starting_arr, 0) AS nrr,
       s.retained_arr::numeric / NULLIF(s.starting_arr, 0) AS grr,
       s.churned_customers::numeric / NULLIF(s.customers_start, 0) AS logo_churn_rate,
       s.total_ending_arr::numeric / NULLIF(s.total_starting_arr, 0) AS arr_growth
FROM sums s JOIN months m USING (pid)
ORDER BY m.pid, s.grp
"""

# For information: the same ledger derived on the fly from raw revenue events (SPEC §3), i.e. what the route
# would cost without the `arr_change` table maintained on ingest. Per customer, product and date the event
# received last (highest seq) wins; a product's change is its ARR against its previous dated ARR.
RAW_LEDGER_CTE = """
    winners AS (
        SELECT DISTINCT ON (customer_id, product, effective_date) customer_id, product, effective_date, arr
        FROM revenue_event
        WHERE effective_date <= %(end)s
        ORDER BY customer_id, product, effective_date, seq DESC
    ),
    changes AS (
        SELECT * FROM (
            SELECT customer_id, product, effective_date, arr AS arr_after,
                   LAG(arr, 1, 0::bigint) OVER (PARTITION BY customer_id, product ORDER BY effective_date) AS arr_before
            FROM winners
        ) series
        WHERE arr_after <> arr_before
    ),
    days AS (  -- per customer and date: total ARR before and after, and its peak before (new vs reactivation)
        SELECT customer_id, effective_date, total_after, total_after - day_delta AS total_before,
               COALESCE(MAX(total_after) OVER (PARTITION BY customer_id ORDER BY effective_date
                                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS peak_before
        FROM (
            SELECT customer_id, effective_date, day_delta,
                   SUM(day_delta) OVER (PARTITION BY customer_id ORDER BY effective_date) AS total_after
            FROM (SELECT customer_id, effective_date, SUM(arr_after - arr_before) AS day_delta
                  FROM changes GROUP BY customer_id, effective_date) deltas
        ) running
    ),
    ledger AS (
        SELECT c.customer_id, c.effective_date, c.arr_after - c.arr_before AS delta_cents,
               CASE
                   WHEN d.total_before = 0 AND d.total_after > 0 THEN
                       CASE WHEN d.peak_before > 0 THEN 'reactivation' ELSE 'new' END
                   WHEN d.total_before > 0 AND d.total_after = 0 THEN 'churn'
                   WHEN c.arr_before = 0 THEN 'cross_sell'
                   WHEN c.arr_after > c.arr_before THEN 'upsell'
                   ELSE 'downsell'
               END AS movement_type
        FROM changes c JOIN days d USING (customer_id, effective_date)
    ),
"""

SQL_ON_ARR_CHANGE = "WITH" + RETENTION_SQL.replace("{source}", "arr_change")
SQL_ON_REVENUE_EVENT = "WITH" + RAW_LEDGER_CTE + RETENTION_SQL.replace("{source}", "ledger")


# ---------------------------------------------------------------------------------------------------------------
# Synthetic book
# ---------------------------------------------------------------------------------------------------------------
def _segment(rng: random.Random) -> tuple[str, int]:
    draw, cumulative = rng.random(), 0.0
    for name, share, typical in SEGMENTS:
        cumulative += share
        if draw < cumulative:
            return name, typical
    return SEGMENTS[-1][0], SEGMENTS[-1][2]


def _amount(rng: random.Random, typical: int) -> int:
    """A realistic ARR in cents (lognormal around `typical`, never a round number)."""
    return max(10_000, int(typical * rng.lognormvariate(0, 0.5)))


def _change(rng: random.Random, cents: int, low: float, high: float) -> int:
    new = int(cents * (1 + rng.uniform(low, high)))
    return new if new != cents and new >= 100 else cents + 1_234


def _customer_events(  # noqa: PLR0912, PLR0915 (one state machine reads best as one loop)
    rng: random.Random, typical: int, budget: int, scale: int, can_stay_churned: bool
) -> list[Any]:
    """About `budget` events (product, date, cents) of one customer, covering every movement type."""
    events: list[tuple[str, date, int]] = []
    state: dict[str, int] = {}
    last_date: dict[str, date] = {}

    def emit(product: str, day: date, cents: int) -> None:
        events.append((product, day, cents))
        state[product] = cents
        last_date[product] = day

    day = BOOK_START + timedelta(days=rng.randrange((BOOK_END - BOOK_START).days - 120))
    core = _amount(rng, typical)
    emit("core", day, core)  # new
    if budget >= 2 and rng.random() < 0.15:
        emit("addon", day, _amount(rng, typical // 4))  # new, two products on one day
    p_churn = 0.03 / scale
    while len(events) < budget:
        remaining = budget - len(events)
        left = (BOOK_END - day).days
        active = [p for p, cents in state.items() if cents > 0]
        if left <= 0:
            if not active:
                break  # churned on the last day: the rest of the budget goes to the next customer
            product = rng.choice(active)  # a correction of the latest event: same date, received later, wins
            emit(product, last_date[product], _change(rng, state[product], -0.08, 0.08))
            continue
        day += timedelta(days=1 + rng.randrange(max(1, 2 * left // (remaining + 1))))
        day = min(day, BOOK_END)
        if not active:  # churned earlier and still here: reactivation
            emit("core", day, _amount(rng, typical))
            continue
        draw = rng.random()
        if draw < p_churn and len(active) <= remaining:
            for product in active:
                emit(product, day, 0)  # churn
            if can_stay_churned and rng.random() < 0.6:
                break
        elif draw < 0.45:
            product = rng.choice(active)
            grow = state[product] < 6 * typical  # mean-reverting: no product grows without bound at 10×
            emit(product, day, _change(rng, state[product], 0.03, 0.35) if grow else state[product] // 2)
        elif draw < 0.65:
            product = rng.choice(active)
            emit(product, day, _change(rng, state[product], -0.3, -0.03))  # downsell
        elif draw < 0.78:
            spare = [p for p in ("addon", "analytics", "support_plus") if state.get(p, 0) == 0]
            if spare:
                emit(rng.choice(spare), day, _amount(rng, typical // 5))  # cross-sell
            else:
                emit("core", day, _change(rng, state["core"], 0.03, 0.2) if state.get("core") else core)
        elif draw < 0.88 and len(active) >= 2:
            emit(rng.choice([p for p in active if p != "core"] or active[1:]), day, 0)  # downsell: product ends
        elif draw < 0.93:
            product = rng.choice(active)  # correction of that product's latest event
            emit(product, last_date[product], _change(rng, state[product], -0.08, 0.08))
        else:
            product = rng.choice(active)
            grow = state[product] < 6 * typical
            emit(product, day, _change(rng, state[product], 0.02, 0.15) if grow else state[product] // 2)
    return events


def build_book(scale: int) -> tuple[list[CustomerBatchItem], list[RevenueEventIn]]:
    """Seeded customers and exactly EVENTS_PER_SCALE × scale events, in arrival order."""
    rng = random.Random(SEED + scale)
    total = EVENTS_PER_SCALE * scale
    per_customer = total // CUSTOMERS
    customers: list[CustomerBatchItem] = []
    rows: list[tuple[int, date, int, str, str, int]] = []  # (block, date, arrival, customer, product, cents)
    carry = 0
    for index in range(CUSTOMERS):
        segment, typical = _segment(rng)
        cid = f"c{index:05d}"
        customers.append(CustomerBatchItem(id=cid, name=f"Customer {index}", segment=segment))
        last = index == CUSTOMERS - 1
        budget = total - len(rows) if last else max(1, int(rng.uniform(0.4, 1.6) * per_customer) + carry)
        events = _customer_events(rng, typical, budget, scale, can_stay_churned=not last)
        carry = budget - len(events) if not last else 0
        # Arrival, like a CRM backfill: customers in blocks of about one batch worth of events (500 customers at
        # 1×, 50 at 10×), each block in effective-date order; the stable sort keeps a correction after the event
        # it corrects. Every batch then touches about BATCH / (events per customer) customers.
        block = index // max(1, BATCH // per_customer)
        rows.extend((block, day, len(rows) + i, cid, product, cents) for i, (product, day, cents) in enumerate(events))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    if len(rows) != total:
        raise RuntimeError(f"generated {len(rows)} events instead of {total}")
    events_in = [
        RevenueEventIn(id=f"e{n:08d}", customer=cid, product=product, effective_date=day, arr=Decimal(cents) / 100)
        for n, (_, day, _, cid, product, cents) in enumerate(rows)
    ]
    return customers, events_in


# ---------------------------------------------------------------------------------------------------------------
# A private PostgreSQL cluster and the service
# ---------------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s")


@contextmanager
def private_cluster() -> Iterator[str]:
    """A fresh cluster in a temporary directory on a free port; yields its server URL; stopped by its pid."""
    run_as: dict[str, Any] = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
    root = Path(tempfile.mkdtemp(prefix="csroi-bench-pg-"))
    data = root / "data"
    if run_as:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            **run_as,
        )
        options = [arg for name, value in PG_SETTINGS.items() for arg in ("-c", f"{name}={value}")]
        command = [PG_BIN / "postgres", "-D", data, "-p", str(port), "-k", root, "-c", "listen_addresses=127.0.0.1"]
        server = subprocess.Popen([*command, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **run_as)
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

        def ready() -> bool:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                return False

        wait_for(ready, "PostgreSQL")
        yield url
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)  # fast shutdown, to this pid only
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def csroi_server(database_url: str, work_mem: str | None) -> Iterator[tuple[str, str]]:
    """`csroi serve` (one uvicorn worker) on a free port; yields (base URL, admin key); stopped by its pid."""
    csroi = str(Path(sys.executable).parent / "csroi")
    env = {**os.environ, "DATABASE_URL": database_url, "CSROI_LOG_LEVEL": "WARNING"}
    env["CSROI_METRICS_WORK_MEM"] = work_mem or ""
    created = subprocess.run(
        [csroi, "keys", "create", "--name", "bench", "--scope", "admin"], env=env, capture_output=True, check=True
    )
    key = created.stdout.decode().strip()
    port = free_port()
    server = subprocess.Popen(
        [csroi, "serve", "--port", str(port), "--workers", "1", "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, "csroi serve")
        yield base, key
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# ---------------------------------------------------------------------------------------------------------------
# The three computations, each returning {(period_start, group): {field: value}} with money in integer cents
# ---------------------------------------------------------------------------------------------------------------
Rows = dict[tuple[str, str | None], dict[str, Any]]


def via_route(client: httpx.Client, key: str, start: date, end: date) -> Rows:
    params = {"start": start.isoformat(), "end": end.isoformat(), "interval": "month", "group_by": "segment"}
    response = client.get("/v1/metrics/retention", params=params, headers={"Authorization": f"Bearer {key}"})
    response.raise_for_status()
    answer = json.loads(response.content, parse_float=Decimal)  # exact: money and ratios as written
    found: Rows = {}
    for row in answer["rows"]:
        values: dict[str, Any] = {f: int(Decimal(row[f]) * 100) for f in MONEY_FIELDS}
        values |= {f: row[f] for f in COUNT_FIELDS}
        values |= {f: row[f] for f in RATIO_FIELDS}
        found[(row["period_start"], row["group"])] = values
    return found


def via_sql(
    conn: psycopg.Connection[Any], query: str, start: date, end: date, months: int, *, work_mem: str | None = None
) -> Rows:
    """One run of `query` in its own transaction; with `work_mem`, raised for that transaction (SET LOCAL)."""
    with conn.transaction():
        if work_mem:
            conn.execute("SELECT set_config('work_mem', %s, true)", (work_mem,))
        cursor = conn.execute(query, {"start": start, "end": end, "months": months})  # type: ignore[arg-type]
        records = cursor.fetchall()
    names = [c.name for c in cursor.description or []]
    found: Rows = {}
    for record in records:
        row = dict(zip(names, record, strict=True))
        values = {f: int(row[f]) for f in (*MONEY_FIELDS, *COUNT_FIELDS, "retained_arr")}
        values |= {f: row[f] for f in RATIO_FIELDS}
        found[(row["period_start"].isoformat(), row["grp"])] = values
    return found


def _copy_frame(conn: psycopg.Connection[Any], query: sql.Composable, dtypes: dict[str, str]) -> pd.DataFrame:
    buffer = io.BytesIO()
    with conn.cursor().copy(sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(query)) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=dtypes)  # type: ignore[arg-type]


def load_for_pandas(conn: psycopg.Connection[Any], end: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    changes = _copy_frame(
        conn,
        sql.SQL(
            "SELECT customer_id, effective_date, delta_cents, movement_type FROM arr_change WHERE effective_date <= {}"
        ).format(sql.Literal(end)),
        {"customer_id": "str", "effective_date": "str", "delta_cents": "int64", "movement_type": "category"},
    )
    customers = _copy_frame(conn, sql.SQL("SELECT id AS customer_id, segment FROM customer"), {"customer_id": "str"})
    return changes, customers


def compute_in_pandas(changes: pd.DataFrame, customers: pd.DataFrame, start: date, months: int) -> Rows:
    """SPEC §4 per month and segment, vectorised: opening balance + running sum of monthly net changes."""
    day = pd.to_datetime(changes["effective_date"], format="%Y-%m-%d")
    month = (day.dt.year * 12 + day.dt.month - (start.year * 12 + start.month)).to_numpy()  # < 0: before range
    customer_codes, customer_ids = pd.factorize(changes["customer_id"])
    ch = pd.DataFrame({"c": customer_codes, "m": month, "delta": changes["delta_cents"].to_numpy()})
    ch["kind"] = changes["movement_type"].to_numpy()
    n_customers = len(customer_ids)

    opening = ch[ch.m < 0].groupby("c")["delta"].sum().reindex(range(n_customers), fill_value=0).to_numpy()
    first_month = ch.groupby("c")["m"].min().reindex(range(n_customers)).to_numpy()

    inside = ch[ch.m >= 0]
    moves = inside.assign(amount=inside["delta"].abs()).pivot_table(
        index=["c", "m"], columns="kind", values="amount", aggfunc="sum", fill_value=0, observed=True
    )
    moves.columns = [str(kind) for kind in moves.columns]
    moves["delta"] = inside.groupby(["c", "m"])["delta"].sum()

    grid = pd.MultiIndex.from_product([range(n_customers), range(months)], names=["c", "m"])
    frame = moves.reindex(grid, fill_value=0).reset_index()
    for kind in ("new", "reactivation", "upsell", "cross_sell", "downsell", "churn"):
        frame[kind] = frame[kind].astype("int64") if kind in frame else 0
    frame["delta"] = frame["delta"].astype("int64")
    frame = frame[frame["m"].to_numpy() >= first_month[frame["c"].to_numpy()]]  # from the month of its first change
    frame["arr_end"] = opening[frame["c"].to_numpy()] + frame.groupby("c")["delta"].cumsum().to_numpy()
    frame["arr_start"] = frame["arr_end"] - frame["delta"]

    segments = customers.set_index("customer_id")["segment"].reindex(customer_ids)
    frame["grp"] = segments.to_numpy()[frame["c"].to_numpy()]
    cohort = frame["arr_start"] > 0
    kept = ["arr_start", "arr_end", "upsell", "cross_sell", "downsell", "churn", "reactivation"]
    in_cohort = frame[kept].where(cohort, 0)
    frame = frame.assign(
        customers_start=cohort.astype("int64"),
        starting_arr=in_cohort["arr_start"],
        ending_arr=in_cohort["arr_end"],
        retained_arr=in_cohort[["arr_start", "arr_end"]].min(axis=1),
        churned_customers=(cohort & (frame["arr_end"] == 0)).astype("int64"),
        new_customers=(frame["new"] > 0).astype("int64"),
        total_starting_arr=frame["arr_start"],
        total_ending_arr=frame["arr_end"],
        **{k: in_cohort[k] for k in ("upsell", "cross_sell", "downsell", "churn", "reactivation")},
    )
    summed = frame.groupby(["m", "grp"], dropna=False)[[*MONEY_FIELDS, *COUNT_FIELDS, "retained_arr"]].sum()

    def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
        return (numerator / denominator.where(denominator != 0)).astype(object).where(denominator != 0, None)

    summed["nrr"] = ratio(summed["ending_arr"], summed["starting_arr"])
    summed["grr"] = ratio(summed["retained_arr"], summed["starting_arr"])
    summed["logo_churn_rate"] = ratio(summed["churned_customers"], summed["customers_start"])
    summed["arr_growth"] = ratio(summed["total_ending_arr"], summed["total_starting_arr"])

    found: Rows = {}
    for (m, grp), row in summed.iterrows():
        period_start = date(start.year + (start.month - 1 + int(m)) // 12, (start.month - 1 + int(m)) % 12 + 1, 1)
        values = {f: int(row[f]) for f in (*MONEY_FIELDS, *COUNT_FIELDS)}
        values |= {f: row[f] for f in RATIO_FIELDS}
        found[(period_start.isoformat(), None if pd.isna(grp) else grp)] = values
    return found


# ---------------------------------------------------------------------------------------------------------------
# Agreement and timing
# ---------------------------------------------------------------------------------------------------------------
_RATIO_INPUTS = {
    "nrr": ("ending_arr", "starting_arr"),
    "grr": ("retained_arr", "starting_arr"),
    "logo_churn_rate": ("churned_customers", "customers_start"),
    "arr_growth": ("total_ending_arr", "total_starting_arr"),
}


def differences(reference: Rows, other: Rows, name: str, rounded: bool) -> list[str]:
    """Money and counts must be identical; ratios must equal the exact ratio of the reference's integers (rounded
    to the route's six decimals for the route, within 1e-9 for SQL numerics and pandas floats)."""
    problems: list[str] = []
    for key in sorted(set(reference) | set(other), key=lambda k: (k[0], k[1] or "")):
        if key not in reference or key not in other:
            problems.append(f"{name}: row {key} is {'missing' if key not in other else 'extra'}")
            continue
        ref, got = reference[key], other[key]
        for field in (*MONEY_FIELDS, *COUNT_FIELDS):
            if ref[field] != got[field]:
                problems.append(f"{name}: {key} {field} = {got[field]}, reference {ref[field]}")
        for field in RATIO_FIELDS:
            exact = None if ref[field] is None else Decimal(ref[field])
            value = got[field]
            if exact is None or value is None:
                if (exact is None) != (value is None):
                    problems.append(f"{name}: {key} {field} = {value}, reference {exact}")
                continue
            if rounded:
                ok = Decimal(value) == exact.quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)
            else:
                ok = abs(Decimal(str(value)) - exact) <= Decimal("1e-9")
            if not ok:
                problems.append(f"{name}: {key} {field} = {value}, reference {exact}")
    return problems


def exact_ratios(rows: Rows) -> Rows:
    """The reference's ratios recomputed from its integer sums with Decimal (28 digits), like the service."""
    exact: Rows = {}
    for key, row in rows.items():
        out = dict(row)
        for field, (numerator, denominator) in _RATIO_INPUTS.items():
            out[field] = Decimal(row[numerator]) / Decimal(row[denominator]) if row[denominator] else None
        exact[key] = out
    return exact


def timed(actions: dict[str, Callable[[], Any]], runs: int = RUNS) -> dict[str, tuple[float, Any]]:
    """Per action: median seconds of `runs` runs after one warm-up, and its last result.

    The runs are interleaved (one of each action per round), so a slow spell of the machine hits every action
    alike rather than biasing the ratio against whichever happened to run then.
    """
    results = {name: action() for name, action in actions.items()}
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            began = time.perf_counter()
            results[name] = action()
            times[name].append(time.perf_counter() - began)
    return {name: (statistics.median(times[name]), results[name]) for name in actions}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9,.0f} ms"


def load_book(server_url: str, scale: int) -> tuple[str, date]:
    """A migrated database holding the book of `scale`, loaded through the service's ingest; (dsn, last date)."""
    name = f"csroi_bench_{scale}x"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = server_url.rsplit("/", 1)[0] + f"/{name}"
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    migrate.upgrade(url)

    began = time.perf_counter()
    customers, events = build_book(scale)
    built = time.perf_counter() - began
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        customers_service.upsert_customers(session, customers)
        session.commit()
        began = time.perf_counter()
        for at in range(0, len(events), BATCH):
            result = ingest_revenue_events(session, events[at : at + BATCH])
            session.commit()
            if result.accepted != len(events[at : at + BATCH]):
                raise RuntimeError(f"batch at {at}: {result}")
        ingest = time.perf_counter() - began
    engine.dispose()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load, done now so every run plans alike
        last = conn.execute("SELECT MAX(effective_date) FROM arr_change").fetchone()[0]  # type: ignore[index]
        movements = dict(conn.execute("SELECT movement_type, COUNT(*) FROM arr_change GROUP BY 1").fetchall())
    print(f"\n== {scale}×: {CUSTOMERS:,} customers, {len(events):,} revenue events ({built:.0f} s to generate)")
    print(f"   ingest (ingest_revenue_events, batches of {BATCH:,}): {len(events) / ingest:,.0f} events/s")
    print(f"   arr_change: {sum(movements.values()):,} rows; " + ", ".join(f"{k} {v:,}" for k, v in movements.items()))
    return dsn, last


def spills(conn: psycopg.Connection[Any], start: date, end: date, months: int, work_mem: str | None) -> list[str]:
    """The sort and hash nodes of EXPLAIN ANALYZE of the reference query, and whether they went to disk."""
    with conn.transaction():
        if work_mem:
            conn.execute("SELECT set_config('work_mem', %s, true)", (work_mem,))
        plan = conn.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + SQL_ON_ARR_CHANGE,
            {"start": start, "end": end, "months": months},  # type: ignore[arg-type]
        ).fetchall()
    keep = ("Sort Method", "Batches", "Execution Time")
    return [" ".join(line.split()) for (line,) in plan if any(k in line for k in keep)]


def run_scale(server_url: str, scale: int, raw: bool, work_mem: str | None) -> dict[str, Any]:
    """Load the book, then time and compare the three computations over its last 12 calendar months."""
    dsn, last = load_book(server_url, scale)
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    months = 12
    start, end = add_months(last, 1 - months), month_end(last)
    print(f"   range: {start} .. {end}, interval=month, group_by=segment; median of {RUNS} runs after 1 warm-up")

    def pandas_run() -> tuple[float, Rows]:
        began = time.perf_counter()
        with psycopg.connect(dsn) as conn:
            changes, customer_frame = load_for_pandas(conn, end)
        loaded = time.perf_counter() - began
        return loaded, compute_in_pandas(changes, customer_frame, start, months)

    with (
        csroi_server(url, work_mem) as (base, key),
        httpx.Client(base_url=base, timeout=600) as client,
        psycopg.connect(dsn) as conn,
    ):
        actions: dict[str, Callable[[], Any]] = {
            "route": lambda: via_route(client, key, start, end),
            "sql": lambda: via_sql(conn, SQL_ON_ARR_CHANGE, start, end, months),
            "pandas": pandas_run,
        }
        if work_mem:
            actions["sql_wm"] = lambda: via_sql(conn, SQL_ON_ARR_CHANGE, start, end, months, work_mem=work_mem)
        if raw:
            actions["raw"] = lambda: via_sql(conn, SQL_ON_REVENUE_EVENT, start, end, months)
        measured = timed(actions)
        plans = {"4MB (server default)": spills(conn, start, end, months, None)}
        if work_mem:
            plans[work_mem] = spills(conn, start, end, months, work_mem)
    return report(measured, plans, raw=raw, work_mem=work_mem)


def report(
    measured: dict[str, tuple[float, Any]], plans: dict[str, list[str]], *, raw: bool, work_mem: str | None
) -> dict[str, Any]:
    """Print one scale's times, ratios, agreement and spills; its times and whether everything agreed."""
    (route_s, route_rows), (sql_s, sql_rows) = measured["route"], measured["sql"]
    sql_wm_s, sql_wm_rows = measured.get("sql_wm", (sql_s, None))
    pandas_s, (pandas_load_s, pandas_rows) = measured["pandas"][0], measured["pandas"][1]
    raw_s, raw_rows = measured.get("raw", (0.0, None))

    reference = exact_ratios(sql_rows)
    problems = differences(reference, route_rows, "route", rounded=True)
    problems += differences(reference, sql_rows, "SQL", rounded=False)
    problems += differences(reference, pandas_rows, "pandas", rounded=False)
    if sql_wm_rows is not None:
        problems += differences(reference, sql_wm_rows, f"SQL at work_mem={work_mem}", rounded=False)
    if raw_rows is not None:
        problems += differences(reference, raw_rows, "SQL from revenue_event", rounded=False)

    route_mem = f"work_mem={work_mem}" if work_mem else "server work_mem"
    print(f"   route   GET /v1/metrics/retention (HTTP)      {ms(route_s)}   {len(route_rows)} rows ({route_mem})")
    print(f"   SQL     hand-written, from arr_change          {ms(sql_s)}   (server work_mem, 4MB)")
    if work_mem:
        print(f"   SQL     same, SET LOCAL work_mem={work_mem:<12}{ms(sql_wm_s)}   (as the route)")
    if raw:
        print(f"   SQL     same, from raw revenue_event (info)   {ms(raw_s)}")
    print(
        f"   pandas  COPY + read_csv + compute              {ms(pandas_s)}"
        f"   (loading in the last run: {ms(pandas_load_s).strip()})"
    )
    print(f"   ratio route / SQL    = {route_s / sql_s:6.2f}   (target ≤ 1.5, stretch ≤ 1.2; SQL at 4MB)")
    if work_mem:
        print(f"   ratio route / SQL    = {route_s / sql_wm_s:6.2f}   (both at work_mem={work_mem})")
    print(f"   ratio route / pandas = {route_s / pandas_s:6.2f}   (target < 1)")
    if raw:
        print(f"   ratio raw SQL / SQL  = {raw_s / sql_s:6.2f}   (info: cost of deriving movements per read)")
    checked = "route, SQL" + (f" (4MB and {work_mem})" if work_mem else "") + ", pandas"
    checked += ", SQL from revenue_event" if raw else ""
    fields = len(MONEY_FIELDS) + len(COUNT_FIELDS) + len(RATIO_FIELDS)
    if problems:
        print(f"   agree: NO ({len(problems)} differences; first ones below)")
        for problem in problems[:20]:
            print(f"     {problem}")
    else:
        print(f"   agree: yes ({len(reference)} rows × {fields} fields; {checked})")
    for setting, lines in plans.items():
        print(f"   EXPLAIN ANALYZE of the SQL, work_mem {setting}: " + "; ".join(lines))
    return {"route": route_s, "sql": sql_s, "sql_wm": sql_wm_s, "pandas": pandas_s, "agree": not problems}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1, help="events = 200,000 × scale (customers stay 10,000)")
    parser.add_argument("--also-10x", action="store_true", help="then the same at 10× the events")
    parser.add_argument("--no-raw", action="store_true", help="skip the informational query from revenue_event")
    parser.add_argument(
        "--metrics-work-mem",
        default=Settings.model_fields["metrics_work_mem"].default,
        help="CSROI_METRICS_WORK_MEM for the route, and the reference SQL's second run (empty: server's 4MB)",
    )
    args = parser.parse_args()
    work_mem = parse_work_mem(args.metrics_work_mem)
    scales = [args.scale, args.scale * 10] if args.also_10x else [args.scale]
    results: dict[int, dict[str, Any]] = {}
    with private_cluster() as server_url:
        with psycopg.connect(server_url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        settings = ", ".join(f"{k}={v}" for k, v in PG_SETTINGS.items())
        print(f"csroi retention benchmark: private PostgreSQL {version} ({settings}, other settings default)")
        print(f"CSROI_METRICS_WORK_MEM={work_mem or ''} for the route (SET LOCAL in its read transaction)")
        for scale in scales:
            # The informational query from raw events runs at the base scale only (it takes minutes at 10×).
            results[scale] = run_scale(server_url, scale, not args.no_raw and scale == args.scale, work_mem)
    if args.also_10x:
        low, high = results[scales[0]], results[scales[1]]
        print("\n== 10× the events / 1× (customers unchanged): time ratio (target ≤ 10)")
        for what in ("route", "sql", "sql_wm", "pandas"):
            print(f"   {what:<7} {high[what] / low[what]:6.2f}")
    return 0 if all(r["agree"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
