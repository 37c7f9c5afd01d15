"""Benchmark: the service's health snapshot of one day vs one hand-written SQL aggregate of the same scores; with
`--backtest`, the health backtest route vs one hand-written SQL for its pairs + scikit-learn's roc_auc_score.

    .venv/bin/python benchmarks/health_snapshot.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --customers 10000 --events 500000
    .venv/bin/python benchmarks/health_snapshot.py --private --backtest --customers 10000 --weeks 26

Creates a fresh database on that server, or on a private cluster with `--private` (dropped afterwards), loads
customers and usage events of the default model's kinds by COPY (and rebuilds the daily rollup from them), runs
the reference SQL once to warm the cache, then times, in one run: the service's compute (all components
set-based, from the rollup), the service's full snapshot (compute + upsert), and the reference SQL below. It
checks that every customer's score agrees (to 1e-6) and prints the ratios. A measurement, not a test.

`--backtest` loads instead (by COPY) a ledger (new business, churns, a few comebacks) and `--weeks` weekly
snapshots of every customer, then times `GET /v1/health/backtest` over all of them (in process, through the
app) against `BACKTEST_SQL` + `roc_auc_score`, alternately, and checks pairs, churned pairs and AUC agree.
"""

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import formulas, migrate
from app.db import make_engine
from app.health import service
from app.health.defaults import DEFAULT_MODEL
from app.usage import partitions, rollup

sys.path.insert(0, str(Path(__file__).resolve().parent))

import usage_book  # the module beside this one

AS_OF = date(2026, 3, 31)
# The default model (app/health/defaults.py) as one statement: a single scan of the events up to the day's
# end, conditional aggregates per component, the no-data rules of SPEC §6, clamped scores, weighted mean.
REFERENCE_SQL = """
WITH e AS (
  SELECT customer_id, kind, occurred_at, id, value / 1e6 AS v, properties FROM usage_event WHERE occurred_at < :end
), a AS (
  SELECT customer_id,
    count(*) FILTER (WHERE kind = 'login') AS login_any,
    count(*) FILTER (WHERE kind = 'login' AND occurred_at >= :d30) AS login_n,
    count(*) FILTER (WHERE kind = 'feature_used') AS feat_any,
    count(DISTINCT properties->>'feature') FILTER (WHERE kind = 'feature_used' AND occurred_at >= :d30) AS feat_n,
    count(*) FILTER (WHERE kind = 'milestone_completed') AS mc_any,
    count(*) FILTER (WHERE kind = 'milestone_completed' AND occurred_at >= :d90) AS mc_n,
    avg(v) FILTER (WHERE kind = 'active_users' AND occurred_at >= :d30) AS au_avg,
    count(*) FILTER (WHERE kind = 'ticket_escalated') AS esc_any,
    count(*) FILTER (WHERE kind = 'ticket_escalated' AND occurred_at >= :d90) AS esc_n,
    count(*) FILTER (WHERE kind = 'milestone_missed') AS mm_any,
    count(*) FILTER (WHERE kind = 'milestone_missed' AND occurred_at >= :d90) AS mm_n,
    count(*) FILTER (WHERE kind = 'downtime') AS dt_any,
    coalesce(sum(v) FILTER (WHERE kind = 'downtime' AND occurred_at >= :d30), 0) AS dt_sum,
    avg(v) FILTER (WHERE kind = 'survey_response' AND properties->>'survey' = 'csat' AND occurred_at >= :d180)
      AS csat_avg
  FROM e GROUP BY customer_id
), seats AS (
  SELECT DISTINCT ON (customer_id) customer_id, v AS seats FROM e WHERE kind = 'seats'
  ORDER BY customer_id, occurred_at DESC, id DESC
), nps AS (
  SELECT DISTINCT ON (customer_id) customer_id, CASE WHEN occurred_at >= :d365 THEN v END AS nps
  FROM e WHERE kind = 'survey_response' AND properties->>'survey' = 'nps'
  ORDER BY customer_id, occurred_at DESC, id DESC
), raw AS (
  SELECT c.id,
    CASE WHEN a.login_any > 0 AND s.seats > 0 THEN a.login_n / s.seats END AS logins_per_seat,
    CASE WHEN a.feat_any > 0 THEN a.feat_n END AS features_used,
    CASE WHEN a.mc_any > 0 THEN a.mc_n END AS milestones_completed,
    CASE WHEN s.seats > 0 THEN a.au_avg / s.seats END AS seat_utilisation,
    CASE WHEN a.esc_any > 0 THEN a.esc_n END AS escalations,
    CASE WHEN a.mm_any > 0 THEN a.mm_n END AS milestones_missed,
    CASE WHEN a.dt_any > 0 THEN a.dt_sum END AS downtime_minutes,
    n.nps, a.csat_avg AS csat
  FROM customer c LEFT JOIN a ON a.customer_id = c.id LEFT JOIN seats s ON s.customer_id = c.id
  LEFT JOIN nps n ON n.customer_id = c.id
), scored AS (
  -- GREATEST/LEAST skip NULLs in PostgreSQL, so a component without data must stay NULL explicitly.
  SELECT id, x.weight,
    CASE WHEN x.raw IS NOT NULL THEN greatest(0, least(100, 100 * (x.raw - x.bad) / (x.good - x.bad))) END AS score
  FROM raw CROSS JOIN LATERAL (VALUES
    (20, logins_per_seat, 0, 20), (15, features_used, 0, 5), (10, milestones_completed, 0, 3),
    (15, seat_utilisation, 0.2, 0.9), (10, escalations, 3, 0), (5, milestones_missed, 2, 0),
    (5, downtime_minutes, 240, 0), (15, nps, 6, 9), (5, csat, 2, 5)) AS x(weight, raw, bad, good)
)
SELECT id, sum(weight * score) / nullif(sum(weight) FILTER (WHERE score IS NOT NULL), 0) AS score
FROM scored GROUP BY id
"""


def load(url: str, customers: int, events: int) -> float:
    """COPY customers and events into the fresh database; returns seconds taken."""
    rng = random.Random(42)
    began = time.perf_counter()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = int((datetime(2026, 4, 1, tzinfo=UTC) - start).total_seconds())
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        with conn.cursor().copy("COPY customer (id, attributes, created_at, updated_at) FROM STDIN") as copy:
            for i in range(customers):
                copy.write_row((f"c{i}", "{}", start, start))
        columns = "id, customer_id, kind, occurred_at, value, properties, content_hash, received_at"
        # usage_event is partitioned by month (app/usage/partitions.py): make the months' partitions first, and
        # fill the id directory from the events afterwards, as ingest would have.
        last = partitions.month_of(start + timedelta(seconds=span))
        with conn.cursor() as cur:
            partitions.ensure_months(cur, partitions.months_between(partitions.month_of(start), last))
        with conn.cursor().copy(f"COPY usage_event ({columns}) FROM STDIN") as copy:
            for n in range(events):
                copy.write_row(usage_book.event(rng, n, customers, start, span))
        conn.execute(f"INSERT INTO {partitions.DIRECTORY} (id, content_hash) SELECT id, content_hash FROM usage_event")
    # Events COPYed straight into usage_event skip ingest: fill the daily rollup health reads from them (SPEC §14).
    engine = make_engine(url)
    with Session(engine) as session:
        rollup.rebuild(session, components=DEFAULT_MODEL.components)
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pg", help="a PostgreSQL server URL (a fresh database is created on it)")
    where.add_argument(
        "--private", action="store_true", help="start a private PostgreSQL 15 cluster (retention.py's) and use it"
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--backtest", action="store_true", help="benchmark the health backtest instead")
    parser.add_argument("--weeks", type=int, default=26, help="weekly snapshots (--backtest)")
    parser.add_argument("--runs", type=int, default=3, help="timed calls of each (--backtest)")
    args = parser.parse_args()
    if args.private:
        from retention import private_cluster  # noqa: PLC0415 - the script beside this one; needs the PG binaries

        with private_cluster() as server:
            measure(args, make_url(server).set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    else:
        measure(args, args.pg)


def measure(args: argparse.Namespace, server: str) -> None:
    """The chosen benchmark on a fresh database of `server`, dropped afterwards."""
    name = f"csroi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        if args.backtest:
            backtest_run(url, args.customers, args.weeks, args.runs)
        else:
            run(url, args.customers, args.events)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, customers: int, events: int) -> None:
    """Load, time the three computations in one run, check agreement, print ratios."""
    migrate.upgrade(url)
    print(f"loaded {customers:,} customers and {events:,} events in {load(url, customers, events):.1f} s")
    engine = make_engine(url)
    end = datetime.combine(AS_OF + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    params = {"end": end, **{f"d{d}": end - timedelta(days=d) for d in (30, 90, 180, 365)}}
    with Session(engine) as session:
        spec = service.current_model(session)
        session.execute(text(REFERENCE_SQL), params).all()  # warm-up: every timing below reads a warm cache
        began = time.perf_counter()
        computed = service.compute_health(session, as_of=AS_OF, customers=None, spec=spec)
        t_compute = time.perf_counter() - began
        began = time.perf_counter()
        service.snapshot_health(session, day=AS_OF)
        t_snapshot = time.perf_counter() - began
        session.rollback()
        began = time.perf_counter()
        reference = {cid: score for cid, score in session.execute(text(REFERENCE_SQL), params)}
        t_sql = time.perf_counter() - began
    engine.dispose()
    mismatches = [
        cid
        for cid, health in computed.items()
        if (health.score is None) != (reference.get(cid) is None)
        or (health.score is not None and abs(health.score - float(reference[cid])) > 1e-6)
    ]
    print(f"service compute_health               {t_compute:8.2f} s")
    print(f"service snapshot (compute + upsert)  {t_snapshot:8.2f} s")
    print(f"hand-written SQL, one statement      {t_sql:8.2f} s")
    print(f"ratios: compute / SQL = {t_compute / t_sql:.2f}   snapshot / SQL = {t_snapshot / t_sql:.2f}")
    print(f"agreement: {len(computed) - len(mismatches):,} of {len(computed):,} scores equal (to 1e-6)")
    if mismatches:
        print("first mismatches:", [(c, computed[c].score, reference.get(c)) for c in mismatches[:5]])


# --- The health backtest (SPEC §10) -----------------------------------------------------------------------------
# Its pairs as one hand-written statement: the customers paying on each snapshot day (ARR > 0: the sum of their
# changes up to it), their snapshot's score, and whether a churn movement follows within the horizon. Scored
# pairs only; the AUC is then scikit-learn's roc_auc_score(churned, -score).
BACKTEST_SQL = """
WITH days AS (
  SELECT DISTINCT snapshot_date AS d FROM health_snapshot WHERE snapshot_date BETWEEN :start AND :end
), paying AS (
  SELECT days.d, c.customer_id FROM days JOIN arr_change c ON c.effective_date <= days.d
  GROUP BY days.d, c.customer_id HAVING sum(c.delta_cents) > 0
)
SELECT s.score, EXISTS (
  SELECT 1 FROM arr_change m WHERE m.customer_id = p.customer_id AND m.movement_type = 'churn'
    AND m.effective_date > p.d AND m.effective_date <= p.d + :horizon
) AS churned
FROM paying p JOIN health_snapshot s ON s.customer_id = p.customer_id AND s.snapshot_date = p.d
WHERE s.score IS NOT NULL
"""
# The distinct churn movements among the scored pairs' labels, for the agreement check (not timed).
BACKTEST_CHURNS_SQL = """
WITH days AS (
  SELECT DISTINCT snapshot_date AS d FROM health_snapshot WHERE snapshot_date BETWEEN :start AND :end
), paying AS (
  SELECT days.d, c.customer_id FROM days JOIN arr_change c ON c.effective_date <= days.d
  GROUP BY days.d, c.customer_id HAVING sum(c.delta_cents) > 0
)
SELECT count(DISTINCT (m.customer_id, m.effective_date))
FROM paying p JOIN health_snapshot s ON s.customer_id = p.customer_id AND s.snapshot_date = p.d
JOIN arr_change m ON m.customer_id = p.customer_id AND m.movement_type = 'churn'
  AND m.effective_date > p.d AND m.effective_date <= p.d + :horizon
WHERE s.score IS NOT NULL
"""
FIRST_SNAPSHOT = date(2025, 1, 6)  # a Monday; every horizon is over long before today
HORIZON = 90


def _ledger_rows(rng: random.Random, cid: str, last: date) -> tuple[list[tuple[object, ...]], date | None]:
    """One customer's arr_change rows (new, perhaps churn, perhaps a comeback and a second churn) and its first
    churn day."""
    land = FIRST_SNAPSHOT - timedelta(days=rng.randrange(30, 900)) if rng.random() < 0.9 else (
        FIRST_SNAPSHOT + timedelta(days=rng.randrange(0, 150)))  # fmt: skip
    cents = rng.randrange(3_000, 250_000) * 100
    rows: list[tuple[object, ...]] = [(cid, "core", land, 0, cents, cents, "new")]
    if rng.random() >= 0.18:
        return rows, None
    churned = max(
        land + timedelta(days=30),
        FIRST_SNAPSHOT + timedelta(days=rng.randrange(0, (last - FIRST_SNAPSHOT).days + HORIZON)),
    )
    rows.append((cid, "core", churned, cents, 0, -cents, "churn"))
    if rng.random() < 0.1:  # back after a while, and gone again
        back, again = churned + timedelta(days=rng.randrange(20, 60)), churned + timedelta(days=rng.randrange(70, 160))
        rows += [(cid, "core", back, 0, cents, cents, "reactivation"), (cid, "core", again, cents, 0, -cents, "churn")]
    return rows, churned


def _snapshot_row(rng: random.Random, cid: str, day: date, churn_on: date | None) -> tuple[object, ...]:
    """A snapshot of the default model: components fade over the 120 days before a churn, some have no data."""
    fade = 0.0 if churn_on is None else max(0.0, 1 - max(0, (churn_on - day).days) / 120)
    health = rng.uniform(35, 95) * (1 - 0.6 * fade)
    parts, points = [], []
    for component in DEFAULT_MODEL.components:
        missing = component.name in ("nps", "csat", "milestones_missed") and rng.random() < 0.5
        score = None if missing else min(100.0, max(0.0, rng.gauss(health, 20)))
        parts.append((component.weight, score))
        points.append({"name": component.name, "weight": component.weight, "raw": score, "score": score,
                       "contribution": None})  # fmt: skip
    combined = formulas.combine(parts)
    band = formulas.band_of(combined.score, red_below=40, green_from=70)
    return (cid, day, combined.score, band, combined.coverage, 1, json.dumps(points), day)


def load_backtest(url: str, customers: int, weeks: int) -> date:
    """COPY customers, their ledger and weekly snapshots of every customer; returns the last snapshot day."""
    rng = random.Random(7)
    last = FIRST_SNAPSHOT + timedelta(days=7 * (weeks - 1))
    days = [FIRST_SNAPSHOT + timedelta(days=7 * n) for n in range(weeks)]
    started = datetime(2023, 1, 1, tzinfo=UTC)
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        churns: dict[str, date | None] = {}
        with conn.cursor().copy("COPY customer (id, attributes, created_at, updated_at) FROM STDIN") as copy:
            for i in range(customers):
                copy.write_row((f"c{i}", "{}", started, started))
        columns = "customer_id, product, effective_date, arr_before_cents, arr_after_cents, delta_cents, movement_type"
        with conn.cursor().copy(f"COPY arr_change ({columns}) FROM STDIN") as copy:
            for i in range(customers):
                rows, churns[f"c{i}"] = _ledger_rows(rng, f"c{i}", last)
                for row in rows:
                    copy.write_row(row)
        columns = "customer_id, snapshot_date, score, band, coverage, model_version, components, created_at"
        with conn.cursor().copy(f"COPY health_snapshot ({columns}) FROM STDIN") as copy:
            for day in days:
                for cid, churn_on in churns.items():
                    copy.write_row(_snapshot_row(rng, cid, day, churn_on))
        conn.execute("ANALYZE")
    return last


def backtest_run(url: str, customers: int, weeks: int, runs: int) -> None:
    """Load the book, then time the route and the reference alternately; print the ratio and the agreement."""
    from fastapi.testclient import TestClient  # noqa: PLC0415 - only this half needs the app
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    from app.config import Settings  # noqa: PLC0415
    from app.keys import service as keys_service  # noqa: PLC0415
    from app.main import create_app  # noqa: PLC0415

    migrate.upgrade(url)
    began = time.perf_counter()
    last = load_backtest(url, customers, weeks)
    print(f"loaded {customers:,} customers, their ledger and {weeks} weekly snapshots in "
          f"{time.perf_counter() - began:.1f} s")  # fmt: skip
    engine = make_engine(url)
    with Session(engine) as session:
        key = keys_service.create_key(session, name="bench", scopes=[keys_service.Scope.read]).secret
        session.commit()
    params = {"start": FIRST_SNAPSHOT.isoformat(), "end": last.isoformat(), "horizon_days": HORIZON}
    sent: list[str] = []
    event.listen(Engine, "before_cursor_execute", lambda *a: sent.append(a[2]))  # the app's engine too
    app = create_app(Settings(database_url=url))

    def reference() -> tuple[int, int, float]:
        with engine.connect() as conn:
            rows = conn.execute(text(BACKTEST_SQL), {"start": FIRST_SNAPSHOT, "end": last, "horizon": HORIZON}).all()
        scores = np.array([r[0] for r in rows])
        churned = np.array([r[1] for r in rows])
        return len(rows), int(churned.sum()), float(roc_auc_score(churned, -scores))

    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {key}"}

        def route() -> dict[str, Any]:
            response = client.get("/v1/health/backtest", params=params, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        route(), reference()  # warm-up: every timing below reads a warm cache
        t_route, t_sql = [], []
        for _ in range(runs):
            began = time.perf_counter()
            answer = route()
            t_route.append(time.perf_counter() - began)
            began = time.perf_counter()
            expected = reference()
            t_sql.append(time.perf_counter() - began)
        sent.clear()
        route()
    with engine.connect() as conn:
        churns = conn.execute(text(BACKTEST_CHURNS_SQL), {"start": FIRST_SNAPSHOT, "end": last, "horizon": HORIZON})
        expected_churns = churns.scalar_one()
    engine.dispose()
    route_s, sql_s = statistics.median(t_route), statistics.median(t_sql)
    print(f"GET /v1/health/backtest ({answer['pairs']:,} pairs)   {route_s:8.2f} s   ({len(sent)} statements)")
    print(f"hand-written SQL + roc_auc_score            {sql_s:8.2f} s")
    print(f"ratio: route / reference = {route_s / sql_s:.2f}   (median of {runs}, alternately)")
    found = (answer["pairs"], answer["churned_pairs"], answer["auc"], answer["churns"])
    expected = (*expected, expected_churns)
    agree = found[:2] == expected[:2] and abs(found[2] - expected[2]) <= 5e-7 and found[3] == expected[3]
    print(f"agreement: pairs, churned pairs, AUC, churn movements {found} vs "
          f"{(*expected[:2], round(expected[2], 6), expected[3])}: {'equal' if agree else 'DIFFERENT'}; "
          f"lift {answer['lift']}, brier {answer['brier']}")  # fmt: skip


if __name__ == "__main__":
    main()
