"""Random usage books around AS_OF for the health equivalence tests (queries and service): a wide model of every
aggregate, events on window boundaries and a second either side, ties, missing properties, zero seats, later events."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from app.health.schemas import HealthModelIn
from app.usage.schemas import SURVEY_SCALES
from tests.builders import make_customers, post_usage, usage_event

AS_OF = date(2026, 3, 10)
MODEL = HealthModelIn.model_validate(
    {
        "components": [
            {"name": "logins", "weight": 3, "kind": "login", "aggregate": "count", "window_days": 7,
             "per_seat": True, "bad": 0, "good": 2},
            {"name": "web_logins", "weight": 1, "kind": "login", "where": {"via": "web"}, "aggregate": "count",
             "window_days": 30, "bad": 0, "good": 5},
            {"name": "nps", "weight": 2, "kind": "survey_response", "where": {"survey": "nps"},
             "aggregate": "last", "window_days": 20, "bad": 6, "good": 9},
            {"name": "nps_year", "weight": 1, "kind": "survey_response", "where": {"survey": "nps"},
             "aggregate": "last", "window_days": 365, "bad": 0, "good": 10},
            {"name": "any_survey", "weight": 1, "kind": "survey_response", "aggregate": "last", "window_days": 10,
             "bad": 0, "good": 10},
            {"name": "csat", "weight": 1, "kind": "survey_response", "where": {"survey": "csat"},
             "aggregate": "avg", "window_days": 15, "bad": 1, "good": 5},
            {"name": "downtime", "weight": 1, "kind": "downtime", "aggregate": "sum", "window_days": 5,
             "bad": 100, "good": 0},
            {"name": "features", "weight": 2, "kind": "feature_used", "aggregate": "distinct",
             "property": "feature", "window_days": 10, "bad": 0, "good": 4},
            {"name": "web_features", "weight": 1, "kind": "feature_used", "where": {"via": "web"},
             "aggregate": "distinct", "property": "feature", "window_days": 60, "bad": 0, "good": 3},
            {"name": "utilisation", "weight": 2, "kind": "active_users", "aggregate": "avg", "window_days": 3,
             "per_seat": True, "bad": 0.1, "good": 0.9},
            {"name": "tickets", "weight": 1, "kind": "ticket_escalated", "aggregate": "count", "window_days": 1,
             "bad": 2, "good": 0},
        ]
    }
)  # fmt: skip
KINDS = ["login", "survey_response", "downtime", "feature_used", "active_users", "ticket_escalated", "seats", "other"]


def random_usage_book(session: Session, seed: int) -> list[str]:
    """Random customers and events around AS_OF: boundaries, ties, missing properties, zero seats, later events."""
    rng = random.Random(seed)
    customers = [f"c{seed}-{i}" for i in range(12)]
    make_customers(session, customers)
    end = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC) + timedelta(days=1)
    instants = [end - timedelta(days=d) for d in (0, 1, 3, 5, 7, 10, 15, 20, 30, 60, 365)]
    events = []
    for n in range(rng.randrange(150, 300)):
        if rng.random() < 0.4:  # exactly on a window boundary, or a second either side of it
            at = rng.choice(instants) + timedelta(seconds=rng.choice((-1, 0, 0, 1)))
        else:
            at = end - timedelta(seconds=rng.randrange(-5 * 86_400, 400 * 86_400))
        kind = rng.choice(KINDS)
        props: dict[str, str] = {}
        if rng.random() < 0.7:
            props["via"] = rng.choice(("web", "app"))
        if kind == "survey_response" and rng.random() < 0.9:
            props["survey"] = rng.choice(("nps", "csat", "ces"))
        if kind == "feature_used" and rng.random() < 0.85:
            props["feature"] = rng.choice("abcdef")
        value = Decimal(rng.randrange(0, 12_000_000)) / 1_000_000 if rng.random() < 0.6 else Decimal(rng.randrange(3))
        if kind == "survey_response" and "survey" in props:  # answers stay on their survey's scale (SPEC §10)
            value = Decimal(rng.randint(*SURVEY_SCALES[props["survey"]]))
        customer = rng.choice(customers[:10])  # the last two customers have no random events
        events.append(usage_event(customer, kind, at, value=value, id=f"e{seed}-{n}", **props))
    # Ties on occurred_at for `last` and seats: the highest id wins.
    for n, (kind, props) in enumerate([("seats", {}), ("survey_response", {"survey": "nps"})] * 3):
        for suffix, value in (("a", Decimal(4)), ("b", Decimal(0)), ("c", Decimal(7))):
            at = end - timedelta(days=2 + n)
            events.append(usage_event(customers[n % 3], kind, at, value=value, id=f"t{seed}-{n}{suffix}", **props))
    # History but empty windows for a customer without random events: None for `last` and `avg`.
    for n, (kind, props) in enumerate(
        [("survey_response", {"survey": "nps"}), ("survey_response", {"survey": "csat"}), ("active_users", {})]
    ):
        at = end - timedelta(days=100)
        events.append(usage_event(customers[10], kind, at, value=5, id=f"o{seed}-{n}", **props))
    post_usage(session, *events)
    return customers
