"""The usage-event feed the ingest benchmarks post (events_ingest.py, usage_ingest.py): one generator for both.

A live feed: events arrive in the order they happen, so a batch holds the most recent events (a few minutes to a
few hours of them at the default sizes) for many customers at once, not one customer's history. Activity is
skewed the way a customer base is: the busiest tenth of the customers makes about half of the events, so a
busy customer has several events of a kind in one day and one batch, while most customers appear once or not at
all. Kinds are mixed (logins and feature use most, tickets and downtime rarely); `feature_used` events name the
feature in `properties`. Deterministic for a given seed: every run posts the same events.
"""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 1, 1, tzinfo=UTC)
# (kind, share of events): what a product's event feed looks like.
KINDS = (("login", 0.40), ("feature_used", 0.35), ("active_users", 0.10), ("ticket_opened", 0.10), ("downtime", 0.05))
FEATURES = 9
SKEW = 3.0  # customer = customers × u^SKEW for uniform u: P(busiest 10 %) = 0.1^(1/3) ≈ 46 %


def make_events(
    n: int, customers: int, days: float, *, seed: int = 14, start: datetime = START
) -> list[dict[str, Any]]:
    """n events of `customers` customers over `days` days from `start`, in the order they happened (ids `ev-<i>`)."""
    rng = random.Random(seed)
    step = days * 86_400 / n
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    events = []
    for i, kind in enumerate(rng.choices(kinds, weights, k=n)):
        event: dict[str, Any] = {
            "id": f"ev-{i}",
            "customer": f"cust-{int(customers * rng.random() ** SKEW)}",
            "kind": kind,
            "occurred_at": (start + timedelta(seconds=int(i * step))).isoformat(),
            "value": 1 if kind in {"login", "feature_used"} else i % 17,
        }
        if kind == "feature_used":
            event["properties"] = {"feature": f"f{rng.randrange(FEATURES)}"}
        events.append(event)
    return events
