"""Worklist benchmark (SPEC §12): `GET /v1/customers` with filters and sorts against one hand-written SQL query.

Run: `.venv/bin/python benchmarks/worklist.py --database-url URL [--customers 2000] [--runs 5]`

On a database without customers it first loads the demo book (`csroi demo --customers N`, seed 42); a database
that has customers is used as it is (load one with `csroi demo --customers 2000` to reuse it across runs). Then,
in process (FastAPI's TestClient, statements counted with SQLAlchemy's `before_cursor_execute`), it times the
median of `--runs` calls after one warm-up of:

- the worklist question, `?at_risk=true&renewal_due_within_days=90&sort=-revenue_at_risk&limit=100`, and
  WORKLIST_SQL, the same page written by hand (the ratio route / SQL is the figure to watch);
- every sort, descending, one page of 100 and one of 1,000; and the default id order.

It prints the ratios and the statements of one call (never a pass/fail on timing), and checks that the route's
page and the SQL's are the same customers in the same order with the same revenue at risk; a difference exits 1.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine

from app import migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.demo import load_demo
from app.keys import service as keys
from app.main import create_app
from app.models import Customer

# The worklist question by hand: ARR today, the latest snapshot, the open renewals, the churn probability (the
# latest fitted model, else the band defaults), at risk by SPEC §5's rule, a renewal due within 90 days (past due
# included), the most revenue at risk first, ties by id.
WORKLIST_SQL = """
WITH facts AS (
    SELECT customer_id, SUM(delta_cents) AS arr FROM arr_change WHERE effective_date <= :today GROUP BY customer_id
), latest AS (
    SELECT customer_id, MAX(snapshot_date) AS day FROM health_snapshot WHERE snapshot_date <= :today
    GROUP BY customer_id
), due AS (
    SELECT customer_id, MIN(due_date) AS next_due, MIN(CASE WHEN due_date >= :today THEN due_date END) AS upcoming
    FROM renewal WHERE status = 'open' GROUP BY customer_id
), fit AS (
    SELECT intercept, coefficient FROM churn_model ORDER BY id DESC LIMIT 1
), scored AS (
    SELECT c.id, COALESCE(f.arr, 0) AS arr, s.band, d.next_due, d.upcoming,
           CASE WHEN s.score IS NULL THEN NULL
                WHEN EXISTS (SELECT 1 FROM fit)
                THEN 1.0 / (1.0 + EXP(-((SELECT intercept FROM fit) + (SELECT coefficient FROM fit) * s.score)))
                WHEN s.band = 'red' THEN :red WHEN s.band = 'yellow' THEN :yellow WHEN s.band = 'green' THEN :green
           END AS p
    FROM customer c
    LEFT JOIN facts f ON f.customer_id = c.id
    LEFT JOIN latest l ON l.customer_id = c.id
    LEFT JOIN health_snapshot s ON s.customer_id = l.customer_id AND s.snapshot_date = l.day
    LEFT JOIN due d ON d.customer_id = c.id
)
SELECT id, arr, p FROM scored
WHERE (band = 'red' OR (band = 'yellow' AND upcoming <= :horizon)) AND next_due <= :horizon
ORDER BY CAST(arr AS FLOAT) * p DESC NULLS LAST, id
LIMIT 100
"""
QUESTION = {"at_risk": "true", "renewal_due_within_days": "90", "sort": "-revenue_at_risk", "limit": "100"}
SORTS = ("arr", "health", "churn_probability", "revenue_at_risk", "next_renewal_due")


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """The statements run on `engine` inside the block."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append("x")

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def median_seconds(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median time of `runs` calls after one warm-up, and the last answer."""
    answer = call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), answer


def cents(arr_cents: int, probability: float) -> Decimal:
    """ARR × probability to the cent, as the service rounds revenue at risk."""
    return (Decimal(int(arr_cents)) * Decimal(str(probability)) / 100).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="SQLite or PostgreSQL URL (the demo loads if empty)")
    parser.add_argument("--customers", type=int, default=2000, help="customers of the demo book to load if empty")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    settings = Settings(database_url=args.database_url)
    migrate.upgrade(args.database_url)
    engine = make_engine(args.database_url)
    maker = make_sessionmaker(engine)
    with maker() as session:
        customers = session.scalar(select(func.count()).select_from(Customer)) or 0
    if not customers:
        print(f"loading the demo book, {args.customers:,} customers ...", flush=True)
        load_demo(maker, customers=args.customers)
        with maker() as session:
            customers = session.scalar(select(func.count()).select_from(Customer)) or 0
    with maker() as session:
        secret = keys.create_key(session, name="worklist benchmark", scopes=[keys.Scope.read]).secret
        session.commit()

    app = create_app(settings)
    app.state.engine, app.state.sessionmaker = engine, maker  # one engine: its statements are the ones counted
    today = datetime.now(UTC).date()
    defaults = settings.churn_defaults
    params = {"today": today.isoformat(), "horizon": (today + timedelta(days=90)).isoformat(), **defaults}
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {secret}"

        def route(query: dict[str, str]) -> Callable[[], Any]:
            def call() -> Any:
                response = client.get("/v1/customers", params=query)
                response.raise_for_status()
                return response.json()

            return call

        def by_hand() -> Any:
            with engine.connect() as conn:
                return conn.execute(text(WORKLIST_SQL), params).all()

        print(f"{engine.dialect.name}, {customers:,} customers, median of {args.runs} after one warm-up")
        route_s, page = median_seconds(route(QUESTION), args.runs)
        sql_s, rows = median_seconds(by_hand, args.runs)
        with counted(engine) as statements:
            route(QUESTION)()
        print(f"  worklist question: route {route_s * 1000:7.1f} ms, hand-written SQL {sql_s * 1000:7.1f} ms, "
              f"ratio {route_s / sql_s:4.2f}x, {len(statements)} statements, "
              f"{len(page['items'])} customers")  # fmt: skip
        for name in ("", *(f"-{s}" for s in SORTS)):
            for limit in ("100", "1000"):
                query = {"limit": limit, **({"sort": name} if name else {})}
                seconds, _ = median_seconds(route(query), args.runs)
                print(f"  sort {name or '(id)':<18} limit {limit:>4}: {seconds * 1000:7.1f} ms "
                      f"({seconds / sql_s:4.2f}x the question's SQL)")  # fmt: skip

    mine = [(item["id"], Decimal(str(item["revenue_at_risk"]))) for item in page["items"]]
    theirs = [(row.id, cents(row.arr, row.p)) for row in rows]
    if mine != theirs:
        print("DIFFERENT: the route's page and the SQL's are not the same customers in the same order")
        for a, b in zip(mine, theirs, strict=False):
            print(f"  route {a}  sql {b}")
        return 1
    print(f"  same page from the route and the SQL: {len(mine)} customers, the same order and revenue at risk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
