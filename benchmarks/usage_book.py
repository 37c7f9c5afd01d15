"""The usage events the health benchmarks load: the default model's kinds (app/health/defaults.py), their mix and
their values. Shared by `health_snapshot.py`, `usage_snapshot.py` and `usage_clickhouse.py`."""

import json
import random
import uuid
from datetime import datetime, timedelta

# (name, weight): the share of each kind among the events; nps and csat are `survey_response` events.
KINDS = [
    ("login", 50), ("feature_used", 20), ("active_users", 10), ("milestone_completed", 3), ("milestone_missed", 2),
    ("ticket_escalated", 3), ("downtime", 2), ("nps", 3), ("csat", 3), ("seats", 4),
]  # fmt: skip
NAMES = [k for k, _ in KINDS]
WEIGHTS = [w for _, w in KINDS]


def body(rng: random.Random, drawn: str) -> tuple[str, dict[str, str], int]:
    """An event of the drawn kind (a name of KINDS): its stored kind, properties and value in millionths."""
    kind = drawn
    props: dict[str, str] = {}
    value = 1
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
    return kind, props, value * 1_000_000


def event(rng: random.Random, n: int, customers: int, start: datetime, span: int) -> tuple[object, ...]:
    """The n-th event of a text COPY into usage_event: a kind drawn from the mix, a customer and an instant drawn
    uniformly among `customers` and the `span` seconds from `start`."""
    kind, props, micros = body(rng, rng.choices(NAMES, weights=WEIGHTS)[0])
    at = start + timedelta(seconds=rng.randrange(span))
    return (f"e{n}", f"c{rng.randrange(customers)}", kind, at, micros, json.dumps(props), uuid.uuid4().hex, at)
