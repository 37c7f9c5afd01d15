"""Health's webhook events (SPEC §11): health.band_changed and customer.at_risk, from a day's snapshot."""

import json
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.health import events
from app.health import service as health_service
from app.models import WebhookEvent
from tests.builders import (
    make_customer,
    make_health_model,
    make_renewal,
    make_snapshot,
    make_webhook,
    post_revenue,
    post_usage,
    revenue,
    usage_event,
)

D1, D2 = date(2026, 11, 28), date(2026, 11, 29)
BOTH = ["health.band_changed", "customer.at_risk"]


def sent(session: Session) -> list[tuple[str, str, dict]]:
    rows = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
    return [(r.type, r.customer_id, json.loads(r.data)) for r in rows]  # type: ignore[misc]


class TestBandChanged:
    def test_a_band_that_differs_from_the_previous_snapshot_is_announced(self, session: Session) -> None:
        make_webhook(session, events=BOTH)
        make_customer(session, id="acme", name="Acme")
        post_revenue(session, revenue("acme", "2026-01-01", "24000"))
        make_snapshot(session, customer="acme", day=D1, score=72.5, band="green")
        make_snapshot(session, customer="acme", day=D2, score=55.0, band="yellow")
        assert events.emit_snapshot_events(session, D2) == 1
        [(kind, customer, data)] = sent(session)
        assert (kind, customer) == ("health.band_changed", "acme")
        assert data == {
            "customer": "acme",
            "customer_name": "Acme",
            "date": "2026-11-29",
            "band": "yellow",
            "score": 55.0,
            "previous_band": "green",
            "previous_score": 72.5,
            "previous_date": "2026-11-28",
            "at_risk": False,
            "arr": 24000.00,
            "model_version": 1,
        }

    def test_the_same_band_or_no_band_is_no_event(self, session: Session) -> None:
        make_webhook(session, events=["health.band_changed"])
        for customer, before, after in (("same", "green", "green"), ("lost", "green", None), ("new", None, "green")):
            make_customer(session, id=customer)
            make_snapshot(session, customer=customer, day=D1, band=before, score=None if before is None else 80)
            make_snapshot(session, customer=customer, day=D2, band=after, score=None if after is None else 80)
        assert events.emit_snapshot_events(session, D2) == 0

    def test_storing_the_day_again_sends_nothing_twice(self, session: Session) -> None:
        make_webhook(session, events=BOTH)
        make_customer(session, id="acme")
        make_snapshot(session, customer="acme", day=D1, band="green")
        make_snapshot(session, customer="acme", day=D2, band="yellow")
        assert events.emit_snapshot_events(session, D2) == 1
        assert events.emit_snapshot_events(session, D2) == 0

    def test_a_backfilled_past_day_announces_nothing(self, session: Session) -> None:
        make_webhook(session, events=BOTH)
        make_customer(session, id="acme")
        make_snapshot(session, customer="acme", day=D1, band="green")
        make_snapshot(session, customer="acme", day=D2, band="red")
        make_snapshot(session, customer="acme", day=date(2026, 11, 30), band="red")
        assert events.emit_snapshot_events(session, D2) == 0

    def test_without_a_subscription_nothing_is_read_or_written(self, session: Session) -> None:
        make_customer(session, id="acme")
        make_snapshot(session, customer="acme", day=D1, band="green")
        make_snapshot(session, customer="acme", day=D2, band="red")
        assert events.emit_snapshot_events(session, D2) == 0
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


class TestAtRisk:
    def test_red_after_yellow_is_at_risk(self, session: Session) -> None:
        make_webhook(session, events=["customer.at_risk"])
        make_customer(session, id="acme")
        make_snapshot(session, customer="acme", day=D1, band="yellow")
        make_snapshot(session, customer="acme", day=D2, band="red", score=20)
        assert events.emit_snapshot_events(session, D2) == 1
        [(kind, _, data)] = sent(session)
        assert (kind, data["band"], data["previous_band"], data["at_risk"]) == (
            "customer.at_risk",
            "red",
            "yellow",
            True,
        )

    def test_yellow_becomes_at_risk_when_its_renewal_comes_within_90_days(self, session: Session) -> None:
        """Due 2027-02-27: 91 days after D1 (not at risk then), 90 days after D2 (at risk now, SPEC §5)."""
        make_webhook(session, events=["customer.at_risk"])
        make_customer(session, id="acme")
        make_renewal(session, customer="acme", due_date="2027-02-27")
        make_snapshot(session, customer="acme", day=D1, band="yellow")
        make_snapshot(session, customer="acme", day=D2, band="yellow")
        assert (date(2027, 2, 27) - D1).days == 91
        assert events.emit_snapshot_events(session, D2) == 1

    def test_still_at_risk_is_no_event(self, session: Session) -> None:
        make_webhook(session, events=["customer.at_risk"])
        make_customer(session, id="acme")
        make_renewal(session, customer="acme", due_date="2027-01-15")
        make_snapshot(session, customer="acme", day=D1, band="red")
        make_snapshot(session, customer="acme", day=D2, band="yellow")  # yellow, renewal due in 47 days: at risk
        assert events.emit_snapshot_events(session, D2) == 0

    def test_a_first_snapshot_at_risk_is_announced(self, session: Session) -> None:
        make_webhook(session, events=BOTH)
        make_customer(session, id="acme")
        make_snapshot(session, customer="acme", day=D2, band="red")
        assert [kind for kind, _, _ in sent(session)] == []
        events.emit_snapshot_events(session, D2)
        [(kind, _, data)] = sent(session)
        assert (kind, data["previous_band"], data["previous_date"]) == ("customer.at_risk", None, None)


def test_the_snapshot_writes_its_events_in_its_own_transaction(session: Session) -> None:
    """snapshot_health computes the day's bands and announces the changes: green yesterday, red by its logins now."""
    make_webhook(session, events=BOTH)
    make_health_model(
        session,
        components=[{"name": "logins", "weight": 100, "kind": "login", "aggregate": "count", "window_days": 30,
                     "bad": 0, "good": 10}],
    )  # fmt: skip
    make_customer(session, id="acme")
    post_usage(session, usage_event("acme", "login", "2026-11-20"))
    make_snapshot(session, customer="acme", day=D1, band="green", score=90)
    result = health_service.snapshot_health(session, day=D2)
    assert result.customers == 1
    # One login in the 30 days to D2 against bad 0 and good 10: 100 × (1 − 0) / (10 − 0) = 10 points, red.
    assert sorted((kind, data["band"], data["score"]) for kind, _, data in sent(session)) == [
        ("customer.at_risk", "red", 10.0),
        ("health.band_changed", "red", 10.0),
    ]
    session.rollback()
    assert sent(session) == []
