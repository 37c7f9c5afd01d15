"""Books for the backtest tests: paying customers, churns, and snapshots written in bulk."""

import random
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app import formulas
from app.health import service as health_service
from app.health.defaults import DEFAULT_MODEL
from app.health.schemas import HealthModelIn
from app.models import HealthSnapshot
from tests.builders import post_revenue, revenue


def default_parts(**scores: float | None) -> list[dict[str, Any]]:
    """A snapshot's components of the default model (version 1), with the given components' scores (others none)."""
    return [
        {"name": c.name, "weight": c.weight, "raw": None, "score": scores.get(c.name), "contribution": None}
        for c in DEFAULT_MODEL.components
    ]


def store_snapshots(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Snapshots as `snapshot_health` stores them, in one insert (customers must exist)."""
    if rows:
        session.execute(insert(HealthSnapshot), [{"coverage": 1.0, "components": [], **row} for row in rows])
        session.flush()


SIGNAL_MODEL = HealthModelIn.model_validate(
    {
        "components": [
            {"name": "usage", "weight": 1, "kind": "login", "aggregate": "count", "window_days": 30, "bad": 0,
             "good": 20},
            {"name": "noise", "weight": 1, "kind": "feature_used", "aggregate": "count", "window_days": 30, "bad": 0,
             "good": 10},
            {"name": "tickets", "weight": 1, "kind": "ticket_opened", "aggregate": "count", "window_days": 30,
             "bad": 0, "good": 5},
        ],
        "bands": {"red_below": 40, "green_from": 70},
    }
)  # fmt: skip
WEEKS = 10
FIRST_DAY = date(2025, 3, 3)


def signal_book(session: Session, *, seed: int, customers: int, churn_share: float) -> tuple[int, list[date]]:
    """A book whose `usage` component foretells churn, `noise` does not, and `tickets` points the wrong way (a high
    score before churning), scored weekly by SIGNAL_MODEL with equal weights; churners leave 3 weeks after the
    last snapshot. Returns the model version and the snapshot days."""
    rng = random.Random(seed)
    # In force from before the first snapshot day: the point-in-time reads of those days use it too (SPEC §10).
    version = health_service.put_health_model(session, SIGNAL_MODEL, today=date(2025, 1, 1)).version
    days = [FIRST_DAY + timedelta(days=7 * n) for n in range(WEEKS)]
    leave = days[-1] + timedelta(days=21)
    events, rows = [], []
    for i in range(customers):
        cid = f"s{i:04d}"
        churns = rng.random() < churn_share
        events.append(revenue(cid, "2025-01-01", 1000))
        if churns:
            events.append(revenue(cid, leave.isoformat(), 0))
        for day in days:
            usage = min(100.0, max(0.0, rng.gauss(35 if churns else 65, 18)))
            noise = rng.uniform(0, 100)
            tickets = min(100.0, max(0.0, rng.gauss(70 if churns else 45, 20)))
            parts = [("usage", usage), ("noise", noise), ("tickets", tickets)]
            score = formulas.combine([(1.0, s) for _, s in parts]).score
            rows.append(
                {
                    "customer_id": cid,
                    "snapshot_date": day,
                    "score": score,
                    "band": formulas.band_of(score, red_below=40, green_from=70),
                    "model_version": version,
                    "components": [
                        {"name": n, "weight": 1.0, "raw": s, "score": s, "contribution": None} for n, s in parts
                    ],
                }
            )
    post_revenue(session, *events)
    store_snapshots(session, rows)
    return version, days
