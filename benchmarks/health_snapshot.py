"""Benchmark: the service's health snapshot of one day vs one hand-written SQL aggregate of the same scores.

    .venv/bin/python benchmarks/health_snapshot.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        --customers 10000 --events 500000

Creates a fresh database on that server (dropped afterwards), loads customers and usage events of the default
model's kinds by COPY, runs the reference SQL once to warm the cache, then times, in one run: the service's
compute (all components set-based), the service's full snapshot (compute + upsert), and the reference SQL
below. It checks that every customer's score agrees (to 1e-6) and prints the ratios. A measurement, not a test.
"""

import argparse
import json
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import migrate
from app.db import make_engine
from app.health import service

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

KINDS = [
    ("login", 50), ("feature_used", 20), ("active_users", 10), ("milestone_completed", 3), ("milestone_missed", 2),
    ("ticket_escalated", 3), ("downtime", 2), ("nps", 3), ("csat", 3), ("seats", 4),
]  # fmt: skip


def _event(rng: random.Random, n: int, customers: int, start: datetime, span: int) -> tuple[object, ...]:
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    props: dict[str, str] = {}
    value = 1.0
    if kind == "feature_used":
        props = {"feature": f"f{rng.randrange(10)}"}
    elif kind == "active_users":
        value = rng.randrange(1, 50)
    elif kind == "downtime":
        value = rng.randrange(0, 90)
    elif kind == "seats":
        value = rng.randrange(5, 50)
    elif kind in ("nps", "csat"):
        props, value = {"survey": kind}, rng.randrange(0, 11) if kind == "nps" else rng.randrange(1, 6)
        kind = "survey_response"
    at = start + timedelta(seconds=rng.randrange(span))
    return (f"e{n}", f"c{rng.randrange(customers)}", kind, at, int(value * 1_000_000), json.dumps(props),
            uuid.uuid4().hex, at)  # fmt: skip


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
        with conn.cursor().copy(f"COPY usage_event ({columns}) FROM STDIN") as copy:
            for n in range(events):
                copy.write_row(_event(rng, n, customers, start, span))
        conn.execute("ANALYZE")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", required=True, help="a PostgreSQL server URL (a fresh database is created on it)")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=500_000)
    args = parser.parse_args()
    name = f"csroi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.pg).set(database=name).render_as_string(hide_password=False)
    try:
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


if __name__ == "__main__":
    main()
