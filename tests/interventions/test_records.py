"""Interventions are records (SPEC §11): PUT by id and batch upserts; the lifecycle moves only along its path."""

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Intervention
from tests.builders import assign, make_customers, make_experiment, make_snapshot, post_revenue, revenue

BODY = {
    "customer": "acme",
    "type": "qbr",
    "framework": "social_proof",
    "reason": "Quarterly review",
    "expected": {"metric": "arr", "change": 10, "unit": "percent", "measure_after_days": 90},
}


class TestPut:
    def test_put_creates_with_a_stub_customer_then_updates(self, client: TestClient) -> None:
        created = client.put("/v1/interventions/iv-1", json=BODY)
        assert created.status_code == 201, created.text
        assert (created.json()["status"], created.json()["customer"]) == ("planned", "acme")
        assert client.get("/v1/customers/acme").status_code == 200  # created with only its id
        updated = client.put("/v1/interventions/iv-1", json={**BODY, "reason": "Renewal prep", "hours": 3})
        assert updated.status_code == 200
        assert (updated.json()["reason"], updated.json()["hours"]) == ("Renewal prep", 3)

    def test_status_moves_along_the_lifecycle_only(self, client: TestClient) -> None:
        client.put("/v1/interventions/iv-1", json=BODY)
        started = client.put(
            "/v1/interventions/iv-1", json={**BODY, "status": "in_progress", "started_on": "2026-03-02"}
        )
        assert started.status_code == 200
        assert (started.json()["started_on"], started.json()["context"]["as_of"]) == ("2026-03-02", "2026-03-02")
        back = client.put("/v1/interventions/iv-1", json={**BODY, "status": "planned"})
        assert back.status_code == 409
        assert back.json()["status_now"] == "in_progress"
        done = client.put("/v1/interventions/iv-1", json={**BODY, "status": "completed", "completed_on": "2026-04-01"})
        assert (done.status_code, done.json()["completed_on"]) == (200, "2026-04-01")
        assert client.put("/v1/interventions/iv-1", json={**BODY, "status": "cancelled"}).status_code == 409

    def test_a_new_record_may_arrive_completed(self, client: TestClient) -> None:
        body = {**BODY, "status": "completed", "started_on": "2026-01-05", "completed_on": "2026-01-20"}
        response = client.put("/v1/interventions/iv-done", json=body)
        assert response.status_code == 201, response.text
        assert (response.json()["status"], response.json()["started_on"]) == ("completed", "2026-01-05")

    def test_what_is_fixed_stays_fixed(self, client: TestClient) -> None:
        client.put("/v1/interventions/iv-1", json={**BODY, "status": "in_progress", "started_on": "2026-03-02"})
        other = client.put("/v1/interventions/iv-1", json={**BODY, "customer": "globex", "status": "in_progress"})
        assert (other.status_code, other.json()["field"]) == (409, "customer")
        window = client.put("/v1/interventions/iv-1", json={**BODY, "status": "in_progress", "attribution_days": 30})
        assert (window.status_code, window.json()["field"]) == (409, "attribution_days")

    def test_dates_that_do_not_match_the_status_are_422(self, client: TestClient) -> None:
        assert client.put("/v1/interventions/iv-1", json={**BODY, "completed_on": "2026-01-01"}).status_code == 422
        assert client.put("/v1/interventions/iv-1", json={**BODY, "id": "iv-2"}).status_code == 422

    def test_a_holdout_customer_is_refused_as_on_create(self, client: TestClient, session: Session) -> None:
        make_customers(session, ["h1"], tier="high_touch")
        post_revenue(session, revenue("h1", "2026-01-01", 1000))
        make_snapshot(session, customer="h1", day="2026-03-01", score=10.0, band="red")
        make_experiment(session, id="xp", eligibility={"at_risk": True}, holdout_share=0.5)
        assign(session, experiment="xp", as_of="2026-03-02")
        session.commit()
        arm = client.get("/v1/experiments/xp/assignments").json()["items"][0]["arm"]
        body = {**BODY, "customer": "h1", "type": "win_back", "framework": "loss_aversion", "status": "in_progress",
                "started_on": "2026-03-03"}  # fmt: skip
        status = client.put("/v1/interventions/iv-h", json=body).status_code
        assert status == (409 if arm == "holdout" else 201)


class TestBatch:
    def test_created_and_updated_are_counted(self, client: TestClient) -> None:
        client.put("/v1/interventions/iv-1", json=BODY)
        response = client.post(
            "/v1/interventions/batch", json={"interventions": [{**BODY, "id": "iv-1"}, {**BODY, "id": "iv-2"}]}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"created": 1, "updated": 1}

    def test_one_illegal_move_writes_nothing(self, client: TestClient, session: Session) -> None:
        client.put("/v1/interventions/iv-1", json={**BODY, "status": "cancelled"})
        items = [{**BODY, "id": "iv-0"}, {**BODY, "id": "iv-1", "status": "in_progress"}]
        response = client.post("/v1/interventions/batch", json={"interventions": items})
        assert response.status_code == 409
        session.expire_all()
        assert session.scalar(select(func.count()).select_from(Intervention)) == 1
