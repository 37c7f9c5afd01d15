"""Holdout experiments over HTTP (SPEC §9): the record, enrollment, the do-not-contact list, the 409, the result."""

import csv
import io
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Intervention
from tests.builders import make_customers, post_revenue, revenue


def experiment_body(**extra: object) -> dict:
    return {
        "name": "Loss-aversion save play",
        "hypothesis": "A loss-framed call cuts churn among at-risk customers.",
        "play": {"type": "win_back", "framework": "loss_aversion"},
        "starts_on": "2026-01-01",
        "ends_on": "2026-06-30",
        **extra,
    }


def intervention_body(customer: str, **extra: object) -> dict:
    return {
        "customer": customer,
        "type": "win_back",
        "framework": "loss_aversion",
        "reason": "renewal at risk",
        "status": "in_progress",
        "started_on": "2026-02-01",
        "expected": {"metric": "arr", "change": 0, "unit": "absolute", "measure_after_days": 60},
        **extra,
    }


def book(session: Session, ids: list[str], *, arr: int = 10_000, on: str = "2025-06-01", **fields: object) -> None:
    """Paying customers with the same ARR since `on`."""
    make_customers(session, ids, **fields)
    post_revenue(session, *[revenue(cid, on, arr) for cid in ids])


class TestRecord:
    def test_put_creates_201_then_updates_200_with_defaults(self, client: TestClient) -> None:
        created = client.put("/v1/experiments/save1", json=experiment_body())
        assert created.status_code == 201, created.text
        got = created.json()
        assert (got["holdout_share"], got["stratify_by"], got["window_days"]) == (0.2, ["band", "tier"], 90)
        assert got["play"] == {"type": "win_back", "framework": "loss_aversion"}
        assert got["enrolled"] == {"treatment": 0, "holdout": 0}
        updated = client.put("/v1/experiments/save1", json=experiment_body(name="Renamed", holdout_share=0.3))
        assert updated.status_code == 200
        assert client.get("/v1/experiments/save1").json()["name"] == "Renamed"

    @pytest.mark.parametrize(
        "bad",
        [
            {"holdout_share": 0.04},
            {"holdout_share": 0.51},
            {"ends_on": "2025-12-31"},
            {"stratify_by": ["band", "band"]},
            {"stratify_by": ["region"]},
            {"window_days": 0},
            {"play": {"type": "Win Back", "framework": "loss_aversion"}},
            {"eligibility": {"band": "purple"}},
            {"eligibility": {"min_arr": -1}},
        ],
    )
    def test_invalid_bodies_are_422(self, client: TestClient, bad: dict) -> None:
        assert client.put("/v1/experiments/x", json=experiment_body(**bad)).status_code == 422

    def test_unknown_is_404(self, client: TestClient) -> None:
        assert client.get("/v1/experiments/nope").status_code == 404
        assert client.post("/v1/experiments/nope/assign?as_of=2026-01-05").status_code == 404
        assert client.get("/v1/experiments/nope/result").status_code == 404

    def test_list_pages_and_csv(self, client: TestClient) -> None:
        for eid in ("a", "b", "c"):
            client.put(f"/v1/experiments/{eid}", json=experiment_body())
        first = client.get("/v1/experiments?limit=2").json()
        assert [e["id"] for e in first["items"]] == ["a", "b"]
        second = client.get(f"/v1/experiments?limit=2&cursor={first['next_cursor']}").json()
        assert [e["id"] for e in second["items"]] == ["c"]
        text = client.get("/v1/experiments?format=csv").text
        assert text.splitlines()[0].startswith("id,name,hypothesis,play,")
        assert len(text.splitlines()) == 4

    def test_design_is_fixed_once_customers_are_enrolled(self, client: TestClient, session: Session) -> None:
        book(session, ["c1", "c2"])
        session.commit()
        client.put("/v1/experiments/x", json=experiment_body())
        client.post("/v1/experiments/x/assign?as_of=2026-01-05")
        refused = client.put("/v1/experiments/x", json=experiment_body(holdout_share=0.5))
        assert refused.status_code == 409
        assert refused.json()["fixed"] == ["holdout_share"]
        assert (
            client.put("/v1/experiments/x", json=experiment_body(name="New name", ends_on="2026-09-30")).status_code
            == 200
        )


class TestAssign:
    def test_enrolls_eligible_customers_once(self, client: TestClient, session: Session) -> None:
        book(session, [f"s{i}" for i in range(10)], tier="high_touch")
        book(session, ["small"], arr=500, tier="high_touch")
        session.commit()
        client.put("/v1/experiments/x", json=experiment_body(eligibility={"min_arr": 1000}, holdout_share=0.25))
        first = client.post("/v1/experiments/x/assign?as_of=2026-01-05").json()
        # 10 eligible (the 500 ARR one is not) in one stratum: ⌊0.25 × 10 + ½⌋ = ⌊3.0⌋ = 3 held out.
        assert (first["eligible"], first["enrolled"], first["holdout"], first["treatment"]) == (10, 10, 3, 7)
        assert first["strata"] == [
            {"stratum": "band=none|tier=high_touch", "customers": 10, "holdout": 3, "treatment": 7}
        ]
        again = client.post("/v1/experiments/x/assign?as_of=2026-01-06").json()
        assert (again["eligible"], again["already_enrolled"], again["enrolled"]) == (10, 10, 0)
        assert client.get("/v1/experiments/x").json()["enrolled"] == {"treatment": 7, "holdout": 3}

    def test_outside_the_dates_or_after_a_stop_is_409(self, client: TestClient) -> None:
        client.put("/v1/experiments/x", json=experiment_body())
        assert client.post("/v1/experiments/x/assign?as_of=2025-12-31").status_code == 409
        assert client.post("/v1/experiments/x/assign?as_of=2026-07-01").status_code == 409
        stopped = client.post("/v1/experiments/x/stop?on=2026-03-01")
        assert stopped.status_code == 200
        assert stopped.json()["stopped_on"] == "2026-03-01"
        assert client.post("/v1/experiments/x/assign?as_of=2026-03-01").status_code == 409
        assert client.post("/v1/experiments/x/stop?on=2026-03-02").status_code == 409

    def test_do_not_contact_list_as_csv(self, client: TestClient, session: Session) -> None:
        book(session, [f"d{i}" for i in range(10)], tier="low_touch")
        session.commit()
        client.put("/v1/experiments/x", json=experiment_body(holdout_share=0.3))
        client.post("/v1/experiments/x/assign?as_of=2026-01-05")
        response = client.get("/v1/experiments/x/assignments?arm=holdout&format=csv")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert list(rows[0]) == ["customer", "arm", "enrolled_on", "stratum"]
        # ⌊0.3 × 10 + ½⌋ = 3 customers not to contact, in customer order.
        assert len(rows) == 3
        assert {r["arm"] for r in rows} == {"holdout"}
        assert {r["enrolled_on"] for r in rows} == {"2026-01-05"}
        assert {r["stratum"] for r in rows} == {"band=none|tier=low_touch"}
        assert [r["customer"] for r in rows] == sorted(r["customer"] for r in rows)
        everyone = client.get("/v1/experiments/x/assignments?limit=4").json()
        assert len(everyone["items"]) == 4
        assert everyone["next_cursor"]


class TestHoldoutGuard:
    @pytest.fixture
    def enrolled(self, client: TestClient, session: Session) -> dict[str, str]:
        book(session, [f"g{i}" for i in range(10)])
        session.commit()
        client.put("/v1/experiments/save", json=experiment_body(stratify_by=[], holdout_share=0.5))
        client.post("/v1/experiments/save/assign?as_of=2026-01-05")
        items = client.get("/v1/experiments/save/assignments").json()["items"]
        return {a["arm"]: a["customer"] for a in items}

    def test_the_play_for_a_holdout_customer_is_409_naming_the_experiment(
        self, client: TestClient, enrolled: dict[str, str]
    ) -> None:
        response = client.post("/v1/interventions", json=intervention_body(enrolled["holdout"]))
        assert response.status_code == 409
        problem = response.json()
        assert problem["experiment"] == "save"
        assert "save" in problem["detail"]
        assert "override_holdout" in problem["detail"]

    def test_treatment_customers_other_plays_and_other_days_pass(
        self, client: TestClient, enrolled: dict[str, str]
    ) -> None:
        holdout = enrolled["holdout"]
        assert client.post("/v1/interventions", json=intervention_body(enrolled["treatment"])).status_code == 201
        assert client.post("/v1/interventions", json=intervention_body(holdout, type="qbr")).status_code == 201
        other = intervention_body(holdout, framework="social_proof")
        assert client.post("/v1/interventions", json=other).status_code == 201
        # Before enrollment and after ends_on the customer is not held out.
        assert (
            client.post("/v1/interventions", json=intervention_body(holdout, started_on="2026-01-04")).status_code
            == 201
        )
        assert (
            client.post("/v1/interventions", json=intervention_body(holdout, started_on="2026-07-01")).status_code
            == 201
        )

    def test_after_a_stop_the_holdout_is_free(self, client: TestClient, enrolled: dict[str, str]) -> None:
        client.post("/v1/experiments/save/stop?on=2026-02-01")
        assert client.post("/v1/interventions", json=intervention_body(enrolled["holdout"])).status_code == 201

    def test_override_is_stored_and_counted_as_contamination(
        self, client: TestClient, session: Session, enrolled: dict[str, str]
    ) -> None:
        body = intervention_body(enrolled["holdout"], id="forced", override_holdout=True)
        assert client.post("/v1/interventions", json=body).status_code == 201
        stored = session.scalar(select(Intervention.override_holdout).where(Intervention.id == "forced"))
        assert stored is True
        result = client.get("/v1/experiments/save/result?as_of=2026-06-01").json()
        assert result["contaminated"] == 1
        assert result["arms"]["holdout"]["interventions"] == 1


class TestResult:
    def test_worked_example_holdout_churns_30_percent_treatment_18(self, client: TestClient, session: Session) -> None:
        """SPEC §9, issue 15 example (c): 100 customers per arm at 10,000 ARR; 30 holdout and 18 treated churn."""
        ids = [f"w{i:03d}" for i in range(200)]
        book(session, ids)
        session.commit()
        client.put("/v1/experiments/c", json=experiment_body(stratify_by=[], holdout_share=0.5))
        enrolled = client.post("/v1/experiments/c/assign?as_of=2026-01-05").json()
        assert (enrolled["holdout"], enrolled["treatment"]) == (100, 100)  # ⌊0.5 × 200 + ½⌋ = 100
        items = client.get("/v1/experiments/c/assignments?limit=1000").json()["items"]
        holdout = [a["customer"] for a in items if a["arm"] == "holdout"]
        treatment = [a["customer"] for a in items if a["arm"] == "treatment"]
        # Churn inside the window (2026-01-05 .. 2026-04-04): 30 holdout customers and 18 treated ones.
        post_revenue(session, *[revenue(cid, "2026-03-01", 0) for cid in holdout[:30] + treatment[:18]])
        # The play ran on 10 treated customers at 4,000 each: cost 40,000.
        session.commit()
        for cid in treatment[:10]:
            created = client.post("/v1/interventions", json=intervention_body(cid, direct_cost=4000))
            assert created.status_code == 201

        got = client.get("/v1/experiments/c/result?as_of=2026-06-01").json()

        h, t = got["arms"]["holdout"], got["arms"]["treatment"]
        assert (h["customers"], h["starting_arr"], h["churned_customers"], h["churned_arr"]) == (100, 1e6, 30, 300_000)
        assert (t["customers"], t["starting_arr"], t["churned_customers"], t["churned_arr"]) == (100, 1e6, 18, 180_000)
        assert (h["churn_rate"], t["churn_rate"], h["churned_arr_rate"]) == (0.3, 0.18, 0.3)
        assert (h["grr"], t["grr"], h["nrr"], t["nrr"]) == (0.7, 0.82, 0.7, 0.82)
        assert (t["interventions"], t["cost"], h["interventions"], h["cost"]) == (10, 40_000, 0, 0)
        # Churn difference 0.18 − 0.30 = −0.12. Pooled p = 48/200 = 0.24; SE = √(0.24 × 0.76 × (1/100 + 1/100))
        # = √0.003648 = 0.060399; z = 0.12 / 0.060399 = 1.9868; p = 2 × (1 − Φ(1.9868)) = 0.0469.
        churn = got["difference"]["churn_rate"]
        assert churn["estimate"] == pytest.approx(-0.12)
        assert churn["p_value"] == pytest.approx(0.0469, abs=0.0005)
        # Wald interval: SE = √(0.18 × 0.82 / 100 + 0.3 × 0.7 / 100) = √0.003576 = 0.059800; ±1.96 × SE.
        assert churn["low"] == pytest.approx(-0.12 - 1.959964 * 0.059800, abs=1e-5)
        assert churn["high"] == pytest.approx(-0.12 + 1.959964 * 0.059800, abs=1e-5)
        assert got["difference"]["grr"]["estimate"] == pytest.approx(0.12)
        # Incremental retained = 0.30 × 1,000,000 − 180,000 = 120,000; ROI = (120,000 − 40,000) / 40,000 = 2.0.
        assert got["incremental_retained_arr"] == 120_000
        assert got["roi"] == 2.0
        assert got["roi_low"] is not None
        assert got["roi_low"] < got["roi_high"]
        # MDE = (1.959964 + 0.841621) × √(0.3 × 0.7 × (1/100 + 1/100)) = 2.801585 × 0.064807 = 0.181563 > 0.10.
        assert got["minimum_detectable_effect"] == pytest.approx(0.181563, abs=1e-5)
        assert got["status"] == "underpowered"
        assert got["contaminated"] == 0
        assert "z-test" in got["meta"]["tests"]["churn_rate"]
        assert got["meta"]["seed"] == 0

    def test_same_seed_same_interval(self, client: TestClient, session: Session) -> None:
        ids = [f"b{i:02d}" for i in range(40)]
        book(session, ids)
        session.commit()
        client.put("/v1/experiments/s", json=experiment_body(stratify_by=[], holdout_share=0.5))
        client.post("/v1/experiments/s/assign?as_of=2026-01-05")
        items = client.get("/v1/experiments/s/assignments").json()["items"]
        holdout = [a["customer"] for a in items if a["arm"] == "holdout"]
        treatment = [a["customer"] for a in items if a["arm"] == "treatment"]
        post_revenue(session, *[revenue(cid, "2026-02-01", 0) for cid in holdout[:8] + treatment[:3]])
        session.commit()
        for cid in treatment[:4]:
            client.post("/v1/interventions", json=intervention_body(cid, direct_cost=1000))
        one = client.get("/v1/experiments/s/result?as_of=2026-06-01&seed=7").json()
        two = client.get("/v1/experiments/s/result?as_of=2026-06-01&seed=7").json()
        other = client.get("/v1/experiments/s/result?as_of=2026-06-01&seed=8").json()
        assert (one["roi_low"], one["roi_high"]) == (two["roi_low"], two["roi_high"])
        assert (one["roi_low"], one["roi_high"]) != (other["roi_low"], other["roi_high"])
        assert one["meta"]["seed"] == 7

    def test_running_while_a_window_is_open(self, client: TestClient, session: Session) -> None:
        book(session, ["r1", "r2"])
        session.commit()
        client.put("/v1/experiments/r", json=experiment_body(window_days=30))
        client.post("/v1/experiments/r/assign?as_of=2026-01-05")
        # The window is 2026-01-05 .. 2026-02-03: open on its last day, closed the day after.
        assert client.get("/v1/experiments/r/result?as_of=2026-02-03").json()["status"] == "running"
        closed = client.get("/v1/experiments/r/result?as_of=2026-02-04").json()
        assert closed["status"] == "underpowered"  # two customers: an arm under 30
        assert closed["roi"] is None
        assert closed["roi_low"] is None

    def test_nobody_enrolled_is_running_with_empty_arms(self, client: TestClient) -> None:
        client.put("/v1/experiments/e", json=experiment_body())
        got = client.get("/v1/experiments/e/result?as_of=2026-03-01").json()
        assert got["status"] == "running"
        assert got["arms"]["holdout"]["customers"] == 0
        assert got["arms"]["holdout"]["churn_rate"] is None
        assert got["difference"] == {"churn_rate": None, "grr": None, "avg_health_delta": None}
        assert got["incremental_retained_arr"] is None
        assert Decimal(str(got["arms"]["treatment"]["starting_arr"])) == 0
