"""ROI benchmark: the ROI, scorecard, intervention list and recommendation routes against one hand-written SQL query.

Run: `.venv/bin/python benchmarks/roi.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
[--customers 500] [--database NAME --keep]` (see benchmarks/README.md).

It creates a database on the PostgreSQL server of `--pg` (or reuses `--database` when it already holds a
book), loads a `csroi demo` book of `--customers` customers through the service functions, and drops the
database at the end unless `--keep`. Then, in process (FastAPI's TestClient, one admin key, statements
counted with SQLAlchemy's `before_cursor_execute` event), it times the median of 3 reads after one warm-up:

- `GET /v1/metrics/roi` over the book's last 12 complete months, ungrouped and `group_by=framework`;
- `GET /v1/scorecards/{month}` for the book's last month;
- `GET /v1/interventions?limit=1000`;
- `GET /v1/customers/{id}/recommendation` for the customer with the most interventions;
- NAIVE_SQL below: the year's per-month count and cost figures in one hand-written query.

It prints the times, each route's ratio to the SQL query and the statements each route issued. Ratios measured
in one run; never a pass/fail on timing.
"""

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url

from app import migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.demo import load as demo_load
from app.keys import service as keys_service
from app.keys.service import Scope
from app.main import create_app
from app.metrics.periods import add_months, month_end

RUNS = 3
SEED = 42

# The naive 12-month figures: per month, interventions started, stored outcomes met of measured, their hours
# and direct cost, and the CS teams' cost; one statement.
NAIVE_SQL = """
WITH months AS (
    SELECT generate_series(CAST(:start AS date), CAST(:end AS date), interval '1 month')::date AS month
), started AS (
    SELECT date_trunc('month', started_on)::date AS month, count(*) AS interventions,
           count(*) FILTER (WHERE outcome IS NOT NULL AND outcome->>'met' IS NOT NULL) AS measured,
           count(*) FILTER (WHERE (outcome->>'met') = 'true') AS met,
           sum(hours) AS hours, sum(direct_cost) AS direct_cost
    FROM intervention
    WHERE started_on BETWEEN :start AND :end_day AND status <> 'cancelled'
    GROUP BY 1
), cs AS (
    SELECT month, sum(amount) AS cs_cost FROM cost
    WHERE team IN ('customer_success', 'onboarding', 'renewals') AND month BETWEEN :start AND :end
    GROUP BY month
)
SELECT m.month, coalesce(s.interventions, 0), coalesce(s.measured, 0), coalesce(s.met, 0),
       coalesce(s.hours, 0), coalesce(s.direct_cost, 0), coalesce(cs.cs_cost, 0)
FROM months m LEFT JOIN started s ON s.month = m.month LEFT JOIN cs ON cs.month = m.month
ORDER BY m.month
"""


class Counter:
    """Statements issued on an engine while `counting`."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


def timed(fn: Callable[[], Any], counter: Counter, runs: int = RUNS, *, warm_up: bool = True) -> tuple[float, int]:
    """Median seconds of `runs` calls (after one warm-up), and the statements one call issues."""
    if warm_up:
        fn()
    times, statements = [], 0
    for _ in range(runs):
        before = counter.count
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        statements = counter.count - before
    return statistics.median(times), statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--database", help="database name (default: a fresh one)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs per read (default {RUNS})")
    parser.add_argument("--no-warm-up", action="store_true", help="time the first call (for very slow routes)")
    args = parser.parse_args()

    server = make_engine(args.pg)
    name = args.database or f"csroi_bench_roi_{uuid.uuid4().hex[:8]}"
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.pg).set(database=name).render_as_string(hide_password=False)
    try:
        run(url, args.customers, runs=args.runs, warm_up=not args.no_warm_up)
    finally:
        if not args.keep:
            with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def run(url: str, customers: int, *, runs: int, warm_up: bool) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    if demo_load.customer_count(maker) == 0:
        started = time.perf_counter()
        demo_load.load_demo(maker, seed=SEED, customers=customers)
        print(f"loaded a demo book of {customers:,} customers in {time.perf_counter() - started:.0f} s")
    with maker() as session:
        secret = keys_service.create_key(session, name="bench-roi", scopes=[Scope.admin]).secret
        session.commit()
        last_day = session.scalar(text("SELECT max(effective_date) FROM arr_change"))
        counts = {
            t: session.scalar(text(f"SELECT count(*) FROM {t}"))
            for t in ("customer", "intervention", "usage_event", "health_snapshot")
        }
        top = session.scalar(
            text(
                "SELECT customer_id FROM intervention GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1"
            )
        )
    assert isinstance(last_day, date)
    # The last complete month of the data.
    end = last_day if month_end(last_day) == last_day else month_end(add_months(last_day.replace(day=1), -1))
    start = add_months(end.replace(day=1), -11)
    print(f"book: {', '.join(f'{n:,} {t}' for t, n in counts.items())}; 12 months {start} to {end}")

    app = create_app(Settings(database_url=url, migrate_on_start=False))
    app.state.engine, app.state.sessionmaker = engine, maker
    counter = Counter(engine)
    roi_params = {"start": start.isoformat(), "end": end.isoformat(), "interval": "month"}
    results: dict[str, tuple[float, int]] = {}
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {secret}"

        def get(path: str, **params: str) -> Callable[[], Any]:
            def call() -> Any:
                response = client.get(path, params=params)
                assert response.status_code == 200, (path, response.status_code, response.text[:500])
                return response.json()

            return call

        routes = {
            "/v1/metrics/roi 12 months": get("/v1/metrics/roi", **roi_params),
            "/v1/metrics/roi 12 months by framework": get("/v1/metrics/roi", **roi_params, group_by="framework"),
            f"/v1/scorecards/{end:%Y-%m}": get(f"/v1/scorecards/{end:%Y-%m}"),
            "/v1/interventions?limit=1000": get("/v1/interventions", limit="1000"),
            "/v1/customers/{id}/recommendation": get(f"/v1/customers/{top}/recommendation"),
        }
        for label, fn in routes.items():
            results[label] = timed(fn, counter, runs, warm_up=warm_up)

    def naive() -> Any:
        with engine.connect() as conn:
            params = {"start": start, "end": end.replace(day=1), "end_day": end}
            return conn.execute(text(NAIVE_SQL), params).all()

    sql_seconds, _ = timed(naive, counter)
    print(f"\nmedians of {runs} run(s){' after one warm-up' if warm_up else ''}, PostgreSQL, in process")
    print(f"| {'read':<45} | {'seconds':>9} | {'× SQL':>9} | {'statements':>10} |")
    print(f"| {'-' * 45} | {'-' * 9}: | {'-' * 9}: | {'-' * 10}: |")
    for label, (seconds, statements) in results.items():
        print(f"| {label:<45} | {seconds:9.3f} | {seconds / sql_seconds:9.1f} | {statements:10,} |")
    print(f"| {'naive 12-month figures, one SQL query':<45} | {sql_seconds:9.4f} | {1:9.1f} | {1:10,} |")
    engine.dispose()


if __name__ == "__main__":
    main()
