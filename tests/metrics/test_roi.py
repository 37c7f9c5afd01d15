"""`/v1/metrics/roi`: worked examples with the arithmetic written out (SPEC §5)."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.books import logins_component, spec_attribution_ledger
from tests.builders import (
    make_cost,
    make_health_model,
    make_intervention,
    make_snapshot,
    make_team_member,
    post_usage,
    usage_event,
)


def intervention(iid: str, customer: str, day: str, *, at_risk: bool, **extra: object) -> dict:
    return {
        "id": iid,
        "customer": customer,
        "type": "win_back" if at_risk else "expansion_review",
        "framework": "loss_aversion" if at_risk else "social_proof",
        "reason": "test",
        "status": "in_progress",
        "started_on": day,
        "at_risk": at_risk,
        "expected": {"metric": "arr", "change": 0, "unit": "absolute", "measure_after_days": 60},
        **extra,
    }


def roi_rows(client: TestClient, **params: str) -> list[dict]:
    response = client.get("/v1/metrics/roi", params={"start": "2026-04-01", "end": "2026-04-30", **params})
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def spec_book(session: Session) -> None:
    spec_attribution_ledger(session)
    make_cost(session, id="k4", month="2026-04", amount=15000)
    make_cost(session, id="k5", month="2026-04", amount=9000, team="sales")
    make_team_member(session, id="jo", hourly_cost=100)
    make_intervention(session, **intervention("iv-a", "ra", "2026-04-05", at_risk=True, owner="jo", hours=10))
    make_intervention(session, **intervention("iv-b", "rb", "2026-04-05", at_risk=True))
    make_intervention(session, **intervention("iv-c", "rc", "2026-04-06", at_risk=True, direct_cost=500))
    make_intervention(session, **intervention("iv-d", "rd", "2026-04-10", at_risk=False))
    session.commit()


class TestRoi:
    """`roi`: attributed revenue against CS cost, grouping, cancelled interventions, health lift, CSV and 422s."""

    def test_spec_worked_example_program_roi_is_3(self, client: TestClient, session: Session) -> None:
        spec_book(session)
        [row] = roi_rows(client)
        # Retained 20,000 + 20,000 + 10,000 = 50,000; expanded 40,000 − 30,000 = 10,000. Ungrouped, cost is April's
        # CS cost: 15,000 (the 9,000 of sales is not CS). ROI = (60,000 − 15,000) / 15,000 = 3.0.
        assert (row["interventions"], row["retained_arr"], row["expanded_arr"], row["attributed_revenue"]) == (
            4,
            50000,
            10000,
            60000,
        )
        assert (row["cost"], row["roi"]) == (15000, 3.0)
        # Every expected "ARR changes by ≥ 0" was measured 60 days on and met.
        assert (row["measured"], row["outcome_rate"]) == (4, 1.0)
        # Incremental (SPEC §9): nobody has health data, so no band at start, no matched pool and no churn
        # probability: the model method with p = 0 credits none of the 50,000 as prevented churn (a × (0 − 0) = 0).
        # Expansion: rd's 10,000 − a × e with e = 0 → 10,000. ROI = (10,000 − 15,000) / 15,000 = −0.333333.
        assert (row["incremental_retained_arr"], row["incremental_expanded_arr"], row["incremental_revenue"]) == (
            0,
            10000,
            10000,
        )
        assert (row["roi_incremental"], row["method"], row["treated_episodes"], row["control_customers"]) == (
            -0.333333,
            "model",
            4,
            0,
        )
        # Four units are under the 10 an interval needs.
        assert (row["roi_incremental_low"], row["roi_incremental_high"]) == (None, None)

    def test_grouped_by_framework_uses_each_groups_intervention_cost(
        self, client: TestClient, session: Session
    ) -> None:
        spec_book(session)
        by = {r["group"]: r for r in roi_rows(client, group_by="framework")}
        # loss_aversion: 10 h × 100 (iv-a) + 0 (iv-b, no hours) + 500 direct (iv-c) = 1,500;
        # ROI = (50,000 − 1,500) / 1,500. social_proof: iv-d costs nothing → ROI null, never a division error.
        assert by["loss_aversion"]["cost"] == 1500
        assert by["loss_aversion"]["roi"] == round((50000 - 1500) / 1500, 6)
        assert (by["social_proof"]["cost"], by["social_proof"]["roi"]) == (0, None)

    def test_empty_period_is_zeros_and_nulls(self, client: TestClient) -> None:
        [row] = roi_rows(client)
        assert (row["interventions"], row["roi"], row["outcome_rate"], row["health_lift"]) == (0, None, None, None)

    def test_cancelled_interventions_count_but_earn_nothing(self, client: TestClient, session: Session) -> None:
        spec_book(session)
        client.post("/v1/interventions/iv-c/cancel", json={})
        [row] = roi_rows(client)
        assert (row["interventions"], row["retained_arr"]) == (4, 40000)

    def test_health_lift_against_same_band_peers(self, client: TestClient, session: Session) -> None:
        model = {
            "components": [
                {
                    "name": "logins",
                    "weight": 1,
                    "kind": "login",
                    "aggregate": "count",
                    "window_days": 30,
                    "bad": 0,
                    "good": 10,
                }
            ]
        }
        make_health_model(session, **model)
        logins = {"a": (5, 8), "b": (5, 6), "c": (6, 4), "d": (9, 9)}  # (February, March)
        events = [
            usage_event(c, "login", f"2026-0{m}-{10 + n:02d}T12:00:00Z", id=f"{c}-{m}-{n}")
            for c, counts in logins.items()
            for m, count in zip((2, 3), counts, strict=True)
            for n in range(count)
        ]
        post_usage(session, *events)
        session.commit()
        expected = {"metric": "login", "change": 20, "unit": "percent", "measure_after_days": 30}
        body = intervention("iv", "a", "2026-03-01", at_risk=False, expected=expected)
        assert client.post("/v1/interventions", json=body).json()["context"]["band"] == "yellow"
        [row] = client.get("/v1/metrics/roi?start=2026-03-01&end=2026-03-31").json()["rows"]
        # Score = 100 × logins / 10 over the 30 days to the date. a: 50 on 1 Mar → 80 on 31 Mar: +30.
        # Yellow peers without an intervention: b 50 → 60 (+10), c 60 → 40 (−20); d is green (90), not a peer.
        # Baseline (10 − 20) / 2 = −5; lift 30 − (−5) = 35. Logins 5 → 8 is +60 % ≥ the expected +20 %: met.
        assert (row["avg_health_delta"], row["baseline_health_delta"], row["health_lift"]) == (30, -5, 35)
        assert (row["measured"], row["outcome_rate"]) == (1, 1.0)

    def test_health_deltas_read_the_days_stored_snapshots(self, client: TestClient, session: Session) -> None:
        model = {"components": [logins_component(weight=1)]}
        make_health_model(session, **model)
        logins = {"a": (5, 8), "b": (5, 6), "c": (6, 4), "d": (9, 9)}  # (February, March), as above
        events = [
            usage_event(c, "login", f"2026-0{m}-{10 + n:02d}T12:00:00Z", id=f"{c}-{m}-{n}")
            for c, counts in logins.items()
            for m, count in zip((2, 3), counts, strict=True)
            for n in range(count)
        ]
        post_usage(session, *events)
        session.commit()
        expected = {"metric": "login", "change": 20, "unit": "percent", "measure_after_days": 30}
        body = intervention("iv", "a", "2026-03-01", at_risk=False, expected=expected)
        assert client.post("/v1/interventions", json=body).status_code == 201
        # Snapshots of 31 March whose scores differ from the point-in-time ones (80, 60, 40, 90): they win.
        for customer, score in {"a": 100.0, "b": 70.0, "c": 50.0, "d": 90.0}.items():
            make_snapshot(session, customer=customer, day="2026-03-31", score=score)
        session.commit()
        [row] = client.get("/v1/metrics/roi?start=2026-03-01&end=2026-03-31").json()["rows"]
        # 1 March has no snapshot: point in time, a 50, b 50, c 60. 31 March from the snapshots: a 50 → 100 (+50);
        # yellow peers b 50 → 70 (+20), c 60 → 50 (−10): baseline (20 − 10) / 2 = 5; lift 50 − 5 = 45.
        assert (row["avg_health_delta"], row["baseline_health_delta"], row["health_lift"]) == (50, 5, 45)

    def test_unknown_group_and_parameters_are_422(self, client: TestClient) -> None:
        assert client.get("/v1/metrics/roi?start=2026-04-01&end=2026-04-30&group_by=colour").status_code == 422
        assert client.get("/v1/metrics/roi?start=2026-04-01&end=2026-04-30&x=1").status_code == 422

    def test_csv(self, client: TestClient, session: Session) -> None:
        spec_book(session)
        lines = client.get("/v1/metrics/roi?start=2026-04-01&end=2026-04-30&format=csv").text.splitlines()
        assert lines[0].startswith("period_start,period_end,group,interventions,measured,outcome_rate")
        assert lines[1].startswith("2026-04-01,2026-04-30,,4,4,1,50000.00,10000.00,60000.00,15000.00,3")
