"""Context at start (SPEC §5): health, weakest components, ARR, next renewal, and the derived at_risk rule."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.usage.schemas import UsageEventIn
from tests.books import ESCALATIONS, logins_component
from tests.builders import make_health_model, make_renewal, post_revenue, post_usage, revenue, usage_event

MODEL = {"components": [logins_component(weight=2), ESCALATIONS]}


def logins(customer: str, count: int, escalations: int = 0) -> list[UsageEventIn]:
    events = [
        usage_event(customer, "login", f"2026-02-{10 + n:02d}T09:00:00+01:00", id=f"{customer}-l{n}")
        for n in range(count)
    ]
    events += [
        usage_event(customer, "ticket_escalated", "2026-02-20T09:00:00Z", id=f"{customer}-e{n}", ticket=f"t{n}")
        for n in range(escalations)
    ]
    return events


def start(client: TestClient, customer: str, **extra: object) -> dict:
    body = {
        "id": f"iv-{customer}",
        "customer": customer,
        "type": "health_check",
        "framework": "loss_aversion",
        "reason": "check",
        "status": "in_progress",
        "started_on": "2026-03-01",
        "expected": {"metric": "health_score", "change": 10, "unit": "points", "measure_after_days": 30},
        **extra,
    }
    response = client.post("/v1/interventions", json=body)
    assert response.status_code == 201, response.text
    return response.json()["context"]


@pytest.fixture
def book(client: TestClient, session: Session) -> TestClient:
    make_health_model(session, **MODEL)
    post_usage(session, *logins("red", 1, escalations=4), *logins("yellow", 5, escalations=1), *logins("green", 9))
    post_revenue(session, revenue("yellow", "2026-01-01", 5000))
    session.commit()
    return client


class TestContextAtStart:
    """The context captured when an intervention starts, and the at_risk rule derived from it."""

    def test_health_and_weakest_components_on_the_start_date(self, book: TestClient) -> None:
        context = start(book, "yellow")
        # logins 5/10 → 50 (weight 2); escalations 1 of bad 4 → 100 × (1 − 4) / (0 − 4) = 75 (weight 1).
        # Score (2 × 50 + 1 × 75) / 3 = 58.33: yellow. Weakest first: logins.
        assert round(context["health_score"], 2) == round((2 * 50 + 75) / 3, 2)
        assert context["band"] == "yellow"
        assert [c["name"] for c in context["weakest_components"]] == ["logins", "escalations"]
        assert context["arr"] == 5000

    def test_red_band_is_at_risk(self, book: TestClient) -> None:
        context = start(book, "red")
        # logins 1 → 10; escalations 4 → 0: (2 × 10 + 0) / 3 = 6.67, red.
        assert (context["band"], context["at_risk"], context["at_risk_source"]) == ("red", True, "derived")

    def test_yellow_is_at_risk_only_with_a_renewal_due_within_90_days(self, book: TestClient, session: Session) -> None:
        assert start(book, "yellow")["at_risk"] is False
        make_renewal(session, id="rn1", customer="yellow", due_date="2026-05-15", arr_up_for_renewal=5000)
        session.commit()
        context = start(book, "yellow", id="iv-yellow-2")
        # Due 15 May, 75 days after 1 March: within 90 days.
        assert (context["next_renewal_due"], context["days_to_renewal"], context["at_risk"]) == ("2026-05-15", 75, True)

    def test_green_is_not_at_risk_and_an_explicit_value_wins(self, book: TestClient) -> None:
        assert start(book, "green")["at_risk"] is False
        context = start(book, "green", id="iv-green-2", at_risk=True)
        assert (context["at_risk"], context["at_risk_source"]) == (True, "explicit")

    def test_outcome_of_health_score_in_points(self, book: TestClient, session: Session) -> None:
        post_usage(session, *[usage_event("yellow", "login", f"2026-03-{10 + n:02d}T09:00:00Z") for n in range(8)])
        session.commit()
        start(book, "yellow")
        outcome = book.get("/v1/interventions/iv-yellow").json()["outcome"]
        # On 31 March: logins 8 → 80; escalations none in the window → 100: (2 × 80 + 100) / 3 = 86.67.
        # Change 86.67 − 58.33 = +28.33 points ≥ the expected +10: met.
        assert round(outcome["after"], 2) == round((2 * 80 + 100) / 3, 2)
        assert round(outcome["change"], 2) == round((2 * 80 + 100) / 3 - (2 * 50 + 75) / 3, 2)
        assert outcome["met"] is True
