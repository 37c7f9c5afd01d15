"""Interventions over HTTP: lifecycle, context captured once, outcome, overrides, cost and ROI."""

import pytest
from fastapi.testclient import TestClient


def body(iid: str = "iv1", customer: str = "acme", **extra: object) -> dict:
    return {
        "id": iid,
        "customer": customer,
        "type": "win_back",
        "framework": "loss_aversion",
        "reason": "renewal at risk",
        "expected": {"metric": "arr", "change": 0, "unit": "absolute", "measure_after_days": 60},
        **extra,
    }


@pytest.fixture
def acme(client: TestClient) -> TestClient:
    client.post(
        "/v1/revenue-events",
        json={
            "events": [
                {"id": "r1", "customer": "acme", "product": "core", "effective_date": "2026-01-01", "arr": 24000},
                {"id": "r2", "customer": "acme", "product": "core", "effective_date": "2026-03-01", "arr": 30000},
            ]
        },
    )
    return client


class TestCreate:
    def test_planned_by_default_without_context_or_impact(self, acme: TestClient) -> None:
        response = acme.post("/v1/interventions", json=body())
        assert response.status_code == 201
        got = response.json()
        assert (got["status"], got["context"], got["impact"], got["outcome"]) == ("planned", None, None, None)

    def test_in_progress_starts_at_once_with_context_on_the_start_date(self, acme: TestClient) -> None:
        got = acme.post("/v1/interventions", json=body(status="in_progress", started_on="2026-02-01")).json()
        assert got["context"]["arr"] == 24000
        assert got["context"]["as_of"] == "2026-02-01"
        assert got["impact"]["window_end"] == "2026-05-02"

    def test_duplicate_id_is_409(self, acme: TestClient) -> None:
        acme.post("/v1/interventions", json=body())
        assert acme.post("/v1/interventions", json=body()).status_code == 409

    def test_unknown_customer_is_422_naming_the_field(self, client: TestClient) -> None:
        response = client.post("/v1/interventions", json=body(customer="ghost"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "customer"]

    @pytest.mark.parametrize(
        "bad",
        [
            {"framework": "guilt"},
            {"reason": ""},
            {"type": "Win Back"},
            {"expected": {"metric": "arr", "change": 1, "unit": "points", "measure_after_days": 30}},
            {"expected": {"metric": "arr", "change": 1, "unit": "percent", "measure_after_days": 0}},
            {"hours": -1},
            {"attribution_days": 0},
            {"started_on": "2026-01-01"},
        ],
    )
    def test_invalid_bodies_are_422(self, acme: TestClient, bad: dict) -> None:
        assert acme.post("/v1/interventions", json=body(**bad)).status_code == 422

    def test_framework_is_required(self, acme: TestClient) -> None:
        payload = body()
        del payload["framework"]
        assert acme.post("/v1/interventions", json=payload).status_code == 422


class TestLifecycle:
    @pytest.mark.parametrize(
        ("path", "moves"),
        [("planned", []), ("in_progress", ["start"]), ("completed", ["start", "complete"]), ("cancelled", ["cancel"])],
    )
    def test_every_illegal_move_is_409(self, acme: TestClient, path: str, moves: list[str]) -> None:
        acme.post("/v1/interventions", json=body())
        for move in moves:
            assert acme.post(f"/v1/interventions/iv1/{move}", json={}).status_code == 200
        legal = {"planned": {"start", "cancel"}, "in_progress": {"complete", "cancel"}}.get(path, set())
        for move in {"start", "complete", "cancel"} - legal:
            response = acme.post(f"/v1/interventions/iv1/{move}", json={})
            assert response.status_code == 409, (path, move)
            assert response.json()["status_now"] == path

    def test_context_never_changes_after_start(self, acme: TestClient) -> None:
        acme.post("/v1/interventions", json=body())
        started = acme.post("/v1/interventions/iv1/start", json={"started_on": "2026-02-01"}).json()
        acme.post(
            "/v1/revenue-events",
            json={
                "events": [
                    {"id": "late", "customer": "acme", "product": "core", "effective_date": "2026-01-15", "arr": 1}
                ]
            },
        )
        acme.patch("/v1/interventions/iv1", json={"reason": "updated"})
        done = acme.post("/v1/interventions/iv1/complete", json={"completed_on": "2026-03-01"}).json()
        assert done["context"] == started["context"]
        assert acme.get("/v1/interventions/iv1").json()["context"]["arr"] == 24000

    def test_complete_before_start_is_422(self, acme: TestClient) -> None:
        acme.post("/v1/interventions", json=body(status="in_progress", started_on="2026-02-01"))
        assert acme.post("/v1/interventions/iv1/complete", json={"completed_on": "2026-01-01"}).status_code == 422

    def test_cancelled_interventions_earn_nothing(self, acme: TestClient) -> None:
        acme.post("/v1/interventions", json=body(status="in_progress", started_on="2026-02-01", at_risk=True))
        got = acme.post("/v1/interventions/iv1/cancel", json={}).json()
        assert got["impact"] is None

    def test_unknown_intervention_is_404(self, client: TestClient) -> None:
        assert client.post("/v1/interventions/nope/start", json={}).status_code == 404


class TestOutcomeImpactCost:
    def test_outcome_measured_after_the_window_and_met(self, acme: TestClient) -> None:
        expected = {"metric": "arr", "change": 20, "unit": "percent", "measure_after_days": 60}
        got = acme.post(
            "/v1/interventions", json=body(status="in_progress", started_on="2026-02-01", expected=expected)
        ).json()
        # ARR 24,000 on 1 Feb → 30,000 on 2 Apr: +25 % ≥ the expected +20 %.
        assert got["outcome"] == {
            "measured_on": "2026-04-02",
            "before": 24000.0,
            "after": 30000.0,
            "change": 25.0,
            "met": True,
            "source": "measured",
            "note": None,
        }

    def test_manual_outcome_and_impact_overrides(self, acme: TestClient) -> None:
        acme.post("/v1/interventions", json=body(status="in_progress", started_on="2026-02-01", at_risk=True))
        got = acme.put("/v1/interventions/iv1/outcome", json={"note": "customer confirmed", "met": False}).json()
        assert (got["outcome"]["source"], got["outcome"]["met"]) == ("manual", False)
        got = acme.put("/v1/interventions/iv1/impact", json={"note": "shared credit", "retained_arr": 5000}).json()
        assert got["impact"]["attribution"] == "manual"
        assert got["impact"]["retained_arr"] == 5000
        assert got["impact"]["note"] == "shared credit"

    @pytest.mark.parametrize("value", ["1e400", 1e300, "-1e16"])
    def test_a_manual_value_no_answer_can_show_is_422(self, acme: TestClient, value: object) -> None:
        """Issue 10: such a value used to be stored and answered as null."""
        acme.post("/v1/interventions", json=body(status="in_progress", started_on="2026-02-01"))
        response = acme.put("/v1/interventions/iv1/outcome", json={"note": "n", "before": value, "after": 1})
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["errors"]] == [["body", "before"]]

    def test_cost_and_roi(self, acme: TestClient) -> None:
        acme.put("/v1/team-members/jo", json={"role": "csm", "hourly_cost": "80.00"})
        got = acme.post(
            "/v1/interventions",
            json=body(
                status="in_progress", started_on="2026-02-01", at_risk=True, owner="jo", hours=10, direct_cost=200
            ),
        ).json()
        # Cost 10 h × 80 + 200 = 1,000. Retained min(24,000, 30,000) = 24,000; expanded: the upsell of 6,000 on
        # 1 Mar is inside the window. ROI = (24,000 + 6,000 − 1,000) / 1,000 = 29.
        assert got["cost"] == 1000
        assert (got["impact"]["retained_arr"], got["impact"]["expanded_arr"]) == (24000, 6000)
        assert got["roi"] == 29

    def test_owner_without_hourly_cost_uses_the_default(self, acme: TestClient) -> None:
        got = acme.post("/v1/interventions", json=body(hours=2)).json()
        assert got["cost"] == 2 * 75

    def test_list_filters_and_csv(self, acme: TestClient) -> None:
        acme.post("/v1/interventions", json=body("a"))
        acme.post("/v1/interventions", json=body("b", framework="social_proof", type="expansion_review"))
        ids = [i["id"] for i in acme.get("/v1/interventions?framework=social_proof").json()["items"]]
        assert ids == ["b"]
        lines = acme.get("/v1/interventions?format=csv").text.splitlines()
        assert lines[0].startswith("id,customer,type,framework")
        assert len(lines) == 3

    def test_measure_job_stores_due_outcomes(self, acme: TestClient) -> None:
        acme.post("/v1/interventions", json=body(status="in_progress", started_on="2026-02-01"))
        assert acme.post("/v1/interventions/measure").json() == {"measured": 1}
        assert acme.post("/v1/interventions/measure").json() == {"measured": 0}


class TestPatch:
    """`PATCH /v1/interventions/{id}`, as schemathesis exercised it (issue 10, .ci/fuzz)."""

    def test_a_new_expected_outcome_is_stored_and_measured_afresh(self, acme: TestClient) -> None:
        """It answered 500 for every body with `expected` (the service called model_dump on a dict)."""
        acme.post("/v1/interventions", json=body())
        expected = {"metric": "login", "change": "12.5", "unit": "percent", "measure_after_days": 30}
        response = acme.patch("/v1/interventions/iv1", json={"expected": expected, "hours": "8.50"})
        assert response.status_code == 200, response.text
        got = acme.get("/v1/interventions/iv1").json()
        assert got["expected"] == {**expected, "change": 12.5, "aggregate": "sum"}  # login adds up (SPEC §10)
        assert got["hours"] == 8.5
        assert got["outcome"] is None

    @pytest.mark.parametrize("field", ["type", "framework", "reason", "hours", "direct_cost", "expected"])
    def test_null_for_a_field_that_cannot_be_cleared_is_422_naming_it(self, acme: TestClient, field: str) -> None:
        acme.post("/v1/interventions", json=body())
        response = acme.patch("/v1/interventions/iv1", json={field: None})
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["errors"]] == [["body", field]]

    def test_owner_and_planned_on_may_be_cleared(self, acme: TestClient) -> None:
        acme.post("/v1/interventions", json=body(planned_on="2026-04-01"))
        response = acme.patch("/v1/interventions/iv1", json={"owner": None, "planned_on": None})
        assert response.status_code == 200
        assert response.json()["planned_on"] is None

    @pytest.mark.parametrize(
        ("patch", "loc"),
        [
            ({"expected": {"metric": "arr", "change": "", "unit": "percent", "measure_after_days": 30}}, "change"),
            ({"expected": {"metric": "arr", "change": "1e3", "unit": "percent", "measure_after_days": 30}}, "change"),
            ({"expected": {"metric": "arr", "change": 5, "unit": "percent", "measure_after_days": True}}, None),
            ({"attribution_days": True}, "attribution_days"),
            ({"attribution_days": "30"}, "attribution_days"),
            ({"hours": "1e2"}, "hours"),
        ],
    )
    def test_numbers_are_what_the_document_shows(self, acme: TestClient, patch: dict, loc: str | None) -> None:
        acme.post("/v1/interventions", json=body())
        response = acme.patch("/v1/interventions/iv1", json=patch)
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"][-1] == (loc or "measure_after_days")
