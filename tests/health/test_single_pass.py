"""The few-statement health path (`queries.model_raws`) equals the per-component path on random books."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from app.health import queries, service
from app.health.schemas import HealthModelIn
from app.models import UsageEvent
from tests.builders import make_customer

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


def _book(session: Session, seed: int) -> list[str]:
    """Random customers and events around AS_OF: boundaries, ties, missing properties, zero seats, later events."""
    rng = random.Random(seed)
    customers = [f"c{seed}-{i}" for i in range(12)]
    for cid in customers:
        make_customer(session, id=cid)
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
        events.append(
            UsageEvent(
                id=f"e{seed}-{n}",
                customer_id=rng.choice(customers[:10]),  # the last two customers have no random events
                kind=kind,
                occurred_at=at,
                value=value,
                properties=props,
                content_hash=f"h{n}",
            )
        )
    # Ties on occurred_at for `last` and seats: the highest id wins.
    for n, (kind, props) in enumerate([("seats", {}), ("survey_response", {"survey": "nps"})] * 3):
        for suffix, value in (("a", Decimal(4)), ("b", Decimal(0)), ("c", Decimal(7))):
            events.append(
                UsageEvent(id=f"t{seed}-{n}{suffix}", customer_id=customers[n % 3], kind=kind,
                           occurred_at=end - timedelta(days=2 + n), value=value, properties=props, content_hash="t")
            )  # fmt: skip
    # History but empty windows for a customer without random events: None for `last` and `avg`.
    for n, (kind, props) in enumerate(
        [("survey_response", {"survey": "nps"}), ("survey_response", {"survey": "csat"}), ("active_users", {})]
    ):
        events.append(
            UsageEvent(id=f"o{seed}-{n}", customer_id=customers[10], kind=kind, occurred_at=end - timedelta(days=100),
                       value=Decimal(5), properties=props, content_hash="o")
        )  # fmt: skip
    session.add_all(events)
    session.flush()
    return customers


@pytest.mark.parametrize("seed", range(6))
def test_model_raws_equal_component_raw(session: Session, seed: int) -> None:
    customers = _book(session, seed)
    empty_window: set[str] = set()  # customers with history but an empty window: None for avg and last
    for as_of in (AS_OF, AS_OF - timedelta(days=4), AS_OF + timedelta(days=3)):
        for subset in (None, customers[::2]):
            raws, seats = queries.model_raws(session, MODEL.components, as_of=as_of, customers=subset, seats=True)
            for component, raw in zip(MODEL.components, raws, strict=True):
                expected = queries.component_raw(session, component, as_of=as_of, customers=subset)
                assert raw == expected, component.name
                empty_window.update(component.name for value in raw.values() if value is None)
            assert seats == queries.latest_values(session, kind="seats", where=None, as_of=as_of, customers=subset)
    assert {"nps", "any_survey", "csat", "utilisation"} <= empty_window


@pytest.mark.parametrize("seed", range(6))
def test_compute_health_equals_the_per_component_assembly(session: Session, seed: int) -> None:
    customers = _book(session, seed)
    spec = service.ModelSpec(version=7, model=MODEL, default=False)
    computed = service.compute_health(session, as_of=AS_OF, customers=customers, spec=spec)
    raws = [queries.component_raw(session, c, as_of=AS_OF, customers=customers) for c in MODEL.components]
    seats = queries.latest_values(session, kind="seats", where=None, as_of=AS_OF, customers=customers)
    some_data = no_data = 0
    for cid in customers:
        health = computed[cid]
        assert health == service._customer_health(cid, spec, raws, seats)
        assert [c.model_dump() for c in health.components] == [
            {"name": n, "weight": w, "raw": r, "score": s, "contribution": p} for n, w, r, s, p in health.parts
        ]
        some_data += any(r is not None for _, _, r, _, _ in health.parts)
        no_data += any(r is None for _, _, r, _, _ in health.parts)
    assert some_data  # the book exercises both sides of SPEC §6's no-data rules
    assert no_data
