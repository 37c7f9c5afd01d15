"""Recommendations: the customer's situation, ranked by the company's own measured history."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.interventions import service as interventions_service
from app.models import Intervention
from app.usage.schemas import UsageEventIn
from tests.books import ESCALATIONS, logins_component
from tests.builders import make_health_model, make_intervention, post_revenue, post_usage, revenue, usage_event

MODEL = {"components": [logins_component(weight=1), ESCALATIONS]}


def logins(customer: str, count: int, month: str = "2026-02") -> list[UsageEventIn]:
    return [
        usage_event(customer, "login", f"{month}-{10 + n:02d}T09:00:00Z", id=f"{customer}-{month}-{n}")
        for n in range(count)
    ]


def paying(session: Session, customer: str, since: str = "2025-01-01") -> None:
    post_revenue(session, revenue(customer, since, 1000, id=f"r-{customer}"))


def recommendation(client: TestClient, customer: str, as_of: str = "2026-03-01") -> dict:
    response = client.get(f"/v1/customers/{customer}/recommendation?as_of={as_of}")
    assert response.status_code == 200, response.text
    return response.json()


def setup(session: Session) -> None:
    make_health_model(session, **MODEL)
    escalations = [
        usage_event("red", "ticket_escalated", "2026-02-20T09:00:00Z", id=f"esc{n}", ticket=f"t{n}") for n in range(4)
    ]
    # An old escalation gives `low` escalation data (SPEC §6: an empty window then counts as 0, scoring 100).
    escalations.append(usage_event("low", "ticket_escalated", "2025-06-01T09:00:00Z", id="esc-old", ticket="t-old"))
    post_usage(session, *logins("red", 1), *logins("low", 3), *logins("fine", 9), *logins("new", 9), *escalations)
    for customer in ("red", "low", "fine"):
        paying(session, customer)
    paying(session, "new", since="2026-01-15")
    session.commit()


class TestRecommendation:
    """`GET /v1/customers/{id}/recommendation`: the situation, then plays ranked by measured history."""

    def test_situations(self, client: TestClient, session: Session) -> None:
        setup(session)
        # Score = mean(logins: 10 per login, escalations: 100 − 25 per escalation).
        # red: (10 + 0) / 2 = 5, red band → at risk. new: first paid 15 Jan, 45 days before 1 Mar → onboarding.
        # low: (30 + 100) / 2 = 65, yellow, no renewal due, but logins score 30 < 40 → low adoption.
        # fine: (90 + 100) / 2 = 95 → expansion.
        got = {c: recommendation(client, c) for c in ("red", "new", "low", "fine")}
        assert {c: r["situation"] for c, r in got.items()} == {
            "red": "at_risk",
            "new": "onboarding",
            "low": "low_adoption",
            "fine": "expansion",
        }
        assert got["red"]["recommendations"][0]["framework"] == "loss_aversion"
        assert got["new"]["recommendations"][0]["framework"] == "commitment_escalation"
        assert got["low"]["recommendations"][0]["framework"] == "habit_formation"
        assert got["fine"]["recommendations"][0]["framework"] == "social_proof"
        assert got["new"]["reasons"] == ["first paid on 2026-01-15, 45 days ago"]
        assert all(c["source"] == "playbook" for c in got["red"]["recommendations"])

    def test_history_outranks_the_playbook_with_its_evidence(self, client: TestClient, session: Session) -> None:
        setup(session)
        # Past at-risk interventions: four health checks that worked, one win-back that did not.
        for n in range(5):
            customer = f"h{n}"
            paying(session, customer)
            post_usage(session, *logins(customer, 1, "2025-12"))
            make_intervention(
                session,
                id=f"past{n}",
                customer=customer,
                type="health_check" if n < 4 else "win_back",
                reason="risk",
                started_on="2025-12-20",
                expected={"metric": "arr", "change": 0 if n < 4 else 1, "unit": "absolute", "measure_after_days": 30},
            )
        session.commit()
        assert client.post("/v1/interventions/measure").json() == {"measured": 5}
        ranked = recommendation(client, "red")["recommendations"]
        first = ranked[0]
        # health_check: 4 met of 4 → smoothed (4 + 0.5 × 5) / (4 + 5) = 0.7222; win_back 0 of 1 → 2.5 / 6 = 0.4167;
        # the untried executive_alignment keeps the prior 0.5.
        assert (first["type"], first["source"], first["score"]) == ("health_check", "history", 0.7222)
        assert first["evidence"] == {
            "interventions": 4,
            "measured": 4,
            "met": 4,
            "outcome_rate": 1.0,
            "avg_health_lift": first["evidence"]["avg_health_lift"],
        }
        assert [c["type"] for c in ranked] == ["health_check", "executive_alignment", "win_back"]

    def test_an_old_measured_intervention_counts_behind_200_newer_unmeasured(
        self, client: TestClient, session: Session
    ) -> None:
        setup(session)
        paying(session, "h-old")
        post_usage(session, *logins("h-old", 1, "2025-06"))
        make_intervention(
            session,
            id="old",
            customer="h-old",
            type="health_check",
            reason="risk",
            started_on="2025-06-20",
            expected={"metric": "arr", "change": 0, "unit": "absolute", "measure_after_days": 30},
        )
        # 200 newer at-risk interventions still inside their 365-day measurement window.
        newer = {"metric": "arr", "change": 0, "unit": "absolute", "measure_after_days": 365}
        today = interventions_service.today()
        session.add_all(
            Intervention(
                id=f"new{n:03d}",
                customer_id="red",
                type="win_back",
                framework="loss_aversion",
                reason="risk",
                status="in_progress",
                started_on=today - timedelta(days=n % 100),
                window_end=today + timedelta(days=90),
                attribution_days=90,
                expected=newer,
                at_risk=True,
                context={"situation": "at_risk", "band": "red"},
            )
            for n in range(200)
        )
        session.commit()
        ranked = {c["type"]: c for c in recommendation(client, "red")["recommendations"]}
        # The old health check was due on 20 July 2025, never stored: measured now, ARR 1,000 → 1,000, met.
        assert ranked["health_check"]["evidence"] | {"avg_health_lift": None} == {
            "interventions": 1,
            "measured": 1,
            "met": 1,
            "outcome_rate": 1.0,
            "avg_health_lift": None,
        }
        assert ranked["win_back"]["evidence"]["interventions"] == 200
        assert ranked["win_back"]["evidence"]["measured"] == 0

    def test_unknown_customer_is_404(self, client: TestClient) -> None:
        assert client.get("/v1/customers/ghost/recommendation").status_code == 404
