"""`/v1/scorecards/{month}`, targets and month close over HTTP, on a book whose figures are worked out by hand.

The book (scorecard month February 2026, previous month January 2026):

customers  a high_touch · b low_touch · c tech_touch · d low_touch
revenue    a core 10,000 from 2025-01-01, addon 2,000 from 2026-02-10 (cross-sell)
           b core 20,000 from 2025-12-01, 24,000 from 2026-01-15 (upsell), 22,000 from 2026-02-05 (downsell)
           c core  6,000 from 2025-12-01, 0 from 2026-02-20 (churn)
           d core  5,000 from 2026-02-12 (new)
ARR        Jan 1: a 10,000 b 20,000 c 6,000 = 36,000    Jan 31: a 10,000 b 24,000 c 6,000 = 40,000
           Feb 1: 40,000                                 Feb 28: a 12,000 b 22,000 c 0 d 5,000 = 39,000
"""

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.keys.service import Scope
from app.usage.schemas import UsageEventIn
from tests.builders import (
    make_cost,
    make_customer,
    make_intervention,
    make_renewal,
    make_team_member,
    move_intervention,
    post_revenue,
    post_usage,
    revenue,
    usage_event,
)


def ok(response: object, status: int = 200) -> dict:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    return response.json()  # type: ignore[attr-defined]


def survey(eid: str, kind: str, score: int, at: str) -> UsageEventIn:
    return usage_event("a", "survey_response", at, value=score, id=eid, survey=kind)


def ticket(eid: str, kind: str, number: str, at: str) -> UsageEventIn:
    return usage_event("b", kind, at, id=eid, ticket=number)


QBR = {"type": "qbr", "framework": "commitment_escalation", "reason": "review",
       "expected": {"metric": "arr", "change": 0, "unit": "absolute", "measure_after_days": 60}}  # fmt: skip


@pytest.fixture
def book(client: TestClient, session: Session) -> TestClient:
    make_customer(session, id="a", tier="high_touch", csm="m1")
    make_customer(session, id="b", tier="low_touch", csm="m1")
    make_customer(session, id="c", tier="tech_touch")
    make_customer(session, id="d", tier="low_touch")
    post_revenue(
        session,
        revenue("a", "2025-01-01", 10000, id="a1"),
        revenue("a", "2026-02-10", 2000, product="addon", id="a2"),
        revenue("b", "2025-12-01", 20000, id="b1"),
        revenue("b", "2026-01-15", 24000, id="b2"),
        revenue("b", "2026-02-05", 22000, id="b3"),
        revenue("c", "2025-12-01", 6000, id="c1"),
        revenue("c", "2026-02-20", 0, id="c2"),
        revenue("d", "2026-02-12", 5000, id="d1"),
    )
    make_renewal(session, id="r1", customer="a", due_date="2026-02-15", arr_up_for_renewal=10000, status="renewed",
                 booked_arr=12000, closed_on="2026-02-10")  # fmt: skip
    make_renewal(session, id="r2", customer="c", due_date="2026-02-20", arr_up_for_renewal=6000, status="churned",
                 booked_arr=0, closed_on="2026-02-20")  # fmt: skip
    make_renewal(session, id="r3", customer="b", due_date="2026-02-25", arr_up_for_renewal=24000)
    make_cost(session, id="k1", month="2026-01", amount=2000)
    make_cost(session, id="k2", month="2026-02", amount=3000)
    make_cost(session, id="k3", month="2026-02", amount=5000, team="sales")
    post_usage(
        session,
        survey("s1", "nps", 10, "2026-01-20T10:00:00Z"),
        *(survey(f"s{n}", "nps", score, "2026-02-10T10:00:00Z") for n, score in [(2, 10), (3, 9), (4, 3), (5, 7)]),
        *(survey(f"s{n}", "csat", score, "2026-02-11T10:00:00Z") for n, score in [(6, 5), (7, 4), (8, 2)]),
        *(survey(f"s{n}", "ces", score, "2026-02-12T10:00:00Z") for n, score in [(9, 3), (10, 5)]),
        ticket("t1o", "ticket_opened", "t1", "2026-02-03T10:00:00Z"),
        ticket("t1r", "ticket_first_response", "t1", "2026-02-03T12:00:00Z"),
        ticket("t1x", "ticket_resolved", "t1", "2026-02-04T10:00:00Z"),
        ticket("t2o", "ticket_opened", "t2", "2026-02-05T08:00:00Z"),
        ticket("t2r", "ticket_first_response", "t2", "2026-02-05T12:00:00Z"),
        ticket("t2x", "ticket_resolved", "t2", "2026-02-05T14:00:00Z"),
        ticket("t3o", "ticket_opened", "t3", "2026-02-06T00:00:00Z"),
        ticket("t3r", "ticket_first_response", "t3", "2026-02-06T01:00:00Z"),
    )
    make_team_member(session, id="m1", started_on="2025-01-01")
    make_team_member(session, id="m2", started_on="2026-02-10")
    make_team_member(session, id="m3", started_on="2025-01-01", ended_on="2026-01-31")
    make_team_member(session, id="m4", role="onboarding", started_on="2025-06-01", ended_on="2026-02-15")
    make_team_member(session, id="m5", role="support", started_on="2025-01-01")
    for iid, customer, started, completed in [
        ("i1", "a", "2026-02-03", "2026-02-20"),
        ("i2", "b", "2026-01-10", "2026-02-05"),
    ]:
        make_intervention(session, id=iid, customer=customer, started_on=started, **QBR)
        move_intervention(session, id=iid, move="complete", on=completed)
    make_intervention(session, id="i3", customer="b", status="planned", **QBR)
    session.commit()
    return client


def entries(card: dict) -> dict[str, dict]:
    return {e["metric"]: e for quadrant in card["quadrants"].values() for e in quadrant}


def six(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.000001")))


# (metric, February value, January value): each written as the arithmetic on the book above.
EXPECTED = [
    # Feb cohort a, b, c: 40,000 at start, 12,000 + 22,000 + 0 at end. Jan cohort: 36,000 → 40,000.
    ("nrr", Decimal(34000) / 40000, Decimal(40000) / 36000),
    ("grr", Decimal(10000 + 22000 + 0) / 40000, Decimal(10000 + 20000 + 6000) / 36000),
    # Trailing twelve months: only a paid at 2025-03-01 (Feb) and 2025-02-01 (Jan): 10,000 → 12,000 / 10,000.
    ("nrr_ttm", Decimal(12000) / 10000, Decimal(10000) / 10000),
    ("grr_ttm", Decimal(10000) / 10000, Decimal(10000) / 10000),
    # Due in Feb and closed: r1 (10,000 up, 12,000 booked) and r2 (6,000 up, churned). None due in January.
    ("net_renewal_rate", Decimal(12000) / (10000 + 6000), None),
    ("raw_renewal_rate", Decimal(10000) / (10000 + 6000), None),
    ("arr_growth", Decimal(39000) / 40000, Decimal(40000) / 36000),
    ("churned_arr", Decimal(6000), Decimal(0)),
    ("expansion_arr", Decimal(0 + 2000), Decimal(4000 + 0)),
    ("cs_cost", Decimal(3000), Decimal(2000)),  # the sales cost is not CS cost
    # 3,000 of CS cost against 12,000 renewed (r1 closed in Feb): 3000 / (12000 / 1000). January renewed nothing.
    ("cost_per_1k", Decimal(3000) / (Decimal(12000) / 1000), None),
    ("cost_per_1k_12m_avg", Decimal(250), None),
    # Trailing twelve months (Mar 2025 .. Feb 2026): 2,000 + 3,000 of CS cost against 12,000 renewed = 416.67 per $1K;
    # January's twelve months renewed nothing.
    ("cost_per_1k_ttm", Decimal(2000 + 3000) / (Decimal(12000) / 1000), None),
    # Program ROI: interventions started in the month; i1 (a, Feb 3) is credited a's 2,000 cross-sell on Feb 10,
    # i2 (b, Jan 10) b's 4,000 upsell on Jan 15; nothing at risk, so nothing retained. Against the month's CS cost.
    ("roi", (Decimal(2000) - 3000) / 3000, (Decimal(4000) - 2000) / 2000),
    # CLV = ARPA × 0.8 × lifetime: Feb MRR 39,000 / 12 over 3 paying = 1,083.33…; logo churn 1/3 → 3 months.
    # January lost no logo: lifetime undefined, CLV null.
    ("clv", Decimal(39000) / 12 / 3 * Decimal("0.8") * (1 / (Decimal(1) / 3)), None),
    ("nps", Decimal(100) * (2 - 1) / 4, Decimal(100) * (1 - 0) / 1),  # Feb: 10, 9 promoters; 3 detractor; 7 passive
    ("csat", Decimal(2) / 3, None),
    ("ces", Decimal(3 + 5) / 2, None),
    ("logo_churn_rate", Decimal(1) / 3, Decimal(0) / 3),
    # No health snapshot yet: every paying customer is in no band, so nothing is at risk.
    ("red_customers", Decimal(0), Decimal(0)),
    ("green_arr", Decimal(0), Decimal(0)),
    ("no_score_customers", Decimal(3), Decimal(3)),
    ("no_score_arr", Decimal(39000), Decimal(40000)),
    ("revenue_at_risk", Decimal(0), Decimal(0)),
    ("interventions_started", Decimal(1), Decimal(1)),  # i1 in Feb, i2 in Jan
    ("interventions_completed", Decimal(2), Decimal(0)),  # i1 and i2 both completed in Feb
    # Expected: ARR change ≥ 0 after 60 days. i1: a 10,000 (Feb 3) → 12,000 (Apr 4), met; i2: b 20,000 → 22,000, met.
    ("outcome_rate", Decimal(1) / 1, Decimal(1) / 1),
    ("median_first_response_hours", Decimal(2), None),  # median of 2 h, 4 h, 1 h
    ("median_resolution_hours", Decimal(24 + 6) / 2, None),  # median of 24 h and 6 h (t3 unresolved)
    # Feb 28: m1, m2 employed (m3 left Jan 31), m4 gone Feb 15. Jan 31: m1, m3 and onboarding m4.
    ("csms", Decimal(2), Decimal(2)),
    ("onboarding_reps", Decimal(0), Decimal(1)),
    ("customers_per_csm", Decimal(3) / 2, Decimal(3) / 2),  # Feb: a, b, d pay; Jan: a, b, c
    ("arr_per_csm", Decimal(39000) / 2, Decimal(40000) / 2),
    ("customers_per_onboarding_rep", None, Decimal(3) / 1),
    # FTE to two places (SPEC §13): a 1 / 25 = 0.04; Feb b, d 2 / 100 = 0.02, Jan b 1 / 100 = 0.01; c churned in
    # Feb, Jan 1 / 500 = 0.002 shown as 0.00. Whole CSMs: Feb ceil(0.04 + 0.02) = 1, Jan ceil(0.04 + 0.01 + 0.002) = 1.
    ("csms_needed_high_touch", Decimal(1) / 25, Decimal(1) / 25),
    ("csms_needed_low_touch", Decimal(2) / 100, Decimal(1) / 100),
    ("csms_needed_tech_touch", Decimal(0), (Decimal(1) / 500).quantize(Decimal("0.01"))),
    ("csms_needed", Decimal(1), Decimal(1)),
    ("csm_gap", Decimal(1 - 2), Decimal(1 - 2)),
]
# Scorecard entry ← (metric route, its field): the scorecard shows what the route gives for the calendar month.
SAME_AS_ROUTE = [
    ("nrr", "retention", "nrr"),
    ("roi", "roi", "roi"),
    ("clv", "unit-economics", "clv"),
    ("outcome_rate", "roi", "outcome_rate"),
    ("health_lift", "roi", "health_lift"),
    ("interventions_started", "roi", "interventions"),
    ("red_customers", "health", "red_customers"),
    ("yellow_customers", "health", "yellow_customers"),
    ("green_customers", "health", "green_customers"),
    ("green_arr", "health", "green_arr"),
    ("revenue_at_risk", "health", "revenue_at_risk"),
    ("nps", "voc", "nps"),
    ("median_resolution_hours", "support", "median_resolution_hours"),
    ("cost_per_1k_12m_avg", "cost-of-renewals", "moving_avg_12m"),
    ("cost_per_1k_ttm", "cost-of-renewals", "ttm_cost_per_1k"),
    ("csms_needed_low_touch", "staffing", "csms_needed_low_touch"),
    ("csm_gap", "staffing", "csm_gap"),
]


class TestScorecard:
    def test_four_quadrants_in_spec_order(self, book: TestClient) -> None:
        card = ok(book.get("/v1/scorecards/2026-02"))
        assert (card["month"], card["closed"], card["closed_at"], card["restated"]) == ("2026-02", False, None, [])
        assert list(card["quadrants"]) == ["financial", "customer", "process", "people"]
        assert [e["metric"] for e in card["quadrants"]["financial"]][:4] == ["nrr", "grr", "nrr_ttm", "grr_ttm"]
        assert card["quadrants"]["people"][-1]["metric"] == "csm_gap"

    @pytest.mark.parametrize(("metric", "february", "january"), EXPECTED, ids=[e[0] for e in EXPECTED])
    def test_hand_computed_value_previous_and_change(
        self, book: TestClient, metric: str, february: Decimal | None, january: Decimal | None
    ) -> None:
        entry = entries(ok(book.get("/v1/scorecards/2026-02")))[metric]
        assert entry["value"] == (None if february is None else pytest.approx(six(february), abs=1e-6))
        assert entry["previous"] == (None if january is None else pytest.approx(six(january), abs=1e-6))
        if february is None or january is None:
            assert entry["change"] is None
        else:  # change of the rounded figures, as shown
            assert entry["change"] == pytest.approx(six(february) - six(january), abs=2e-6)
        assert (entry["target"], entry["status"]) == (None, None)

    def test_counts_are_json_integers(self, book: TestClient) -> None:
        got = entries(ok(book.get("/v1/scorecards/2026-02")))
        assert isinstance(got["csms"]["value"], int)
        assert isinstance(got["interventions_completed"]["value"], int)

    @pytest.mark.parametrize(("metric", "route", "field"), SAME_AS_ROUTE, ids=[m[0] for m in SAME_AS_ROUTE])
    def test_entry_equals_the_metric_route_for_the_month(
        self, book: TestClient, metric: str, route: str, field: str
    ) -> None:
        # Snapshots on both month ends put customers in bands (scores from their survey and ticket events).
        for day in ("2026-01-31", "2026-02-28"):
            ok(book.post("/v1/health/snapshots", params={"date": day}))
        card = entries(ok(book.get("/v1/scorecards/2026-02")))[metric]
        for month, start, end in [("value", "2026-02-01", "2026-02-28"), ("previous", "2026-01-01", "2026-01-31")]:
            row = ok(book.get(f"/v1/metrics/{route}", params={"start": start, "end": end}))["rows"][0]
            assert card[month] == (None if row[field] is None else pytest.approx(row[field], abs=1e-6))

    def test_empty_month_is_all_null_or_zero(self, client: TestClient) -> None:
        got = entries(ok(client.get("/v1/scorecards/2030-01")))
        assert got["nrr"]["value"] is None
        assert got["cs_cost"]["value"] == 0
        assert got["csms"]["value"] == 0

    @pytest.mark.parametrize("month", ["2026-13", "2026-1", "2026-00", "26-01", "2026-01-01"])
    def test_malformed_month_is_422(self, client: TestClient, month: str) -> None:
        response = client.get(f"/v1/scorecards/{month}")
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["loc"] == ["path", "month"]

    def test_unknown_parameter_is_422(self, client: TestClient) -> None:
        assert client.get("/v1/scorecards/2026-02", params={"fromat": "csv"}).status_code == 422

    def test_read_scope_required(self, anonymous: TestClient, make_key: object) -> None:
        assert anonymous.get("/v1/scorecards/2026-02").status_code == 401
        key = make_key(Scope.ingest)  # type: ignore[operator]
        assert anonymous.get("/v1/scorecards/2026-02", headers={"Authorization": f"Bearer {key}"}).status_code == 403


class TestCsv:
    def test_columns_and_one_line_per_entry(self, book: TestClient) -> None:
        response = book.get("/v1/scorecards/2026-02", params={"format": "csv"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.text.splitlines()
        assert lines[0] == "quadrant,metric,value,previous,change,target,status"
        card = ok(book.get("/v1/scorecards/2026-02"))
        assert len(lines) == 1 + sum(len(q) for q in card["quadrants"].values())
        assert "financial,nrr,0.850000,1.111111,-0.261111,," in lines
        assert "financial,churned_arr,6000.00,0.00,6000.00,," in lines
        assert "people,csms,2,2,0,," in lines
        assert "people,csms_needed_low_touch,0.02,0.01,0.01,," in lines  # FTE keep their two places
        assert "people,csms_needed,1,1,0,," in lines
        financial = [line.split(",")[1] for line in lines if line.startswith("financial,")]
        # The TTM figure sits beside the moving average (SPEC §13).
        beside = financial[financial.index("cost_per_1k") :][:3]
        assert beside == ["cost_per_1k", "cost_per_1k_12m_avg", "cost_per_1k_ttm"]
        assert "financial,cost_per_1k_ttm,416.666667,,,," in lines
        assert "financial,roi,-0.333333,1.000000,-1.333333,," in lines
        assert "financial,clv,2600.00,,,," in lines

    def test_accept_header_gives_csv(self, book: TestClient) -> None:
        response = book.get("/v1/scorecards/2026-02", headers={"Accept": "text/csv"})
        assert response.text.startswith("quadrant,metric,value,previous,change,target,status\r\n")


class TestTargets:
    def test_status_against_targets_in_each_direction(self, book: TestClient) -> None:
        assert ok(book.put("/v1/targets/nrr", json={"value": 1.0, "direction": "higher_is_better"}), 201)
        ok(book.put("/v1/targets/cost_per_1k", json={"value": "300", "direction": "lower_is_better"}), 201)
        ok(book.put("/v1/targets/csm_gap", json={"value": -1, "direction": "lower_is_better"}), 201)
        ok(book.put("/v1/targets/cost_per_1k_ttm", json={"value": 400, "direction": "lower_is_better"}), 201)
        ok(book.put("/v1/targets/grr", json={"value": "0.8", "direction": "higher_is_better"}), 201)
        got = entries(ok(book.get("/v1/scorecards/2026-02")))
        assert (got["nrr"]["target"], got["nrr"]["status"]) == (1, "off_track")  # 0.85 < 1
        assert (got["cost_per_1k"]["target"], got["cost_per_1k"]["status"]) == (300, "on_track")  # 250 ≤ 300
        assert got["csm_gap"]["status"] == "on_track"  # -1 ≤ -1: meeting the target exactly is on track
        assert (got["cost_per_1k_ttm"]["target"], got["cost_per_1k_ttm"]["status"]) == (400, "off_track")  # 416.67
        assert (got["grr"]["target"], got["grr"]["status"]) == (0.8, "on_track")  # 0.8 ≥ 0.8
        assert got["roi"]["status"] is None  # no value, no status

    def test_put_replaces_and_list_shows_exact_values(self, client: TestClient) -> None:
        ok(client.put("/v1/targets/nrr", json={"value": "1.05", "direction": "higher_is_better"}), 201)
        updated = ok(client.put("/v1/targets/nrr", json={"value": "1.123456", "direction": "higher_is_better"}))
        assert updated["value"] == 1.123456
        items = ok(client.get("/v1/targets"))["items"]
        assert [(t["metric"], t["value"], t["direction"]) for t in items] == [("nrr", 1.123456, "higher_is_better")]

    def test_delete_removes_the_target(self, client: TestClient) -> None:
        ok(client.put("/v1/targets/nps", json={"value": 30, "direction": "higher_is_better"}), 201)
        assert client.delete("/v1/targets/nps").status_code == 204
        assert client.delete("/v1/targets/nps").status_code == 404
        assert ok(client.get("/v1/targets"))["items"] == []

    @pytest.mark.parametrize(
        "body",
        [
            {"value": 1},
            {"value": 1, "direction": "up"},
            {"value": "abc", "direction": "higher_is_better"},
            {"value": "1.0000001", "direction": "higher_is_better"},
            {"value": "NaN", "direction": "higher_is_better"},
            {"value": True, "direction": "higher_is_better"},
            {"value": 1, "direction": "higher_is_better", "extra": 1},
        ],
    )
    def test_bad_body_is_422(self, client: TestClient, body: dict) -> None:
        assert client.put("/v1/targets/nrr", json=body).status_code == 422

    def test_unknown_metric_is_422_naming_the_path(self, client: TestClient) -> None:
        response = client.put("/v1/targets/nrrr", json={"value": 1, "direction": "higher_is_better"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["path", "metric"]
        assert "nrr" in response.json()["detail"]

    def test_write_scope_required(self, anonymous: TestClient, make_key: object) -> None:
        key = make_key(Scope.read)  # type: ignore[operator]
        headers = {"Authorization": f"Bearer {key}"}
        body = {"value": 1, "direction": "higher_is_better"}
        assert anonymous.put("/v1/targets/nrr", json=body, headers=headers).status_code == 403
        assert anonymous.get("/v1/targets", headers=headers).status_code == 200

    def test_list_answers_csv_and_refuses_unknown_parameters(self, client: TestClient) -> None:
        client.put("/v1/targets/nrr", json={"value": 1.05, "direction": "higher_is_better"})
        lines = client.get("/v1/targets?format=csv").text.splitlines()
        assert lines[0].startswith("metric,")
        assert lines[1].startswith("nrr,")
        accept_csv = client.get("/v1/targets", headers={"Accept": "text/csv"})
        assert accept_csv.headers["content-type"].startswith("text/csv")
        assert client.get("/v1/targets?colour=red").status_code == 422


class TestClose:
    def test_closed_month_keeps_its_figures_and_lists_restatements(self, book: TestClient, session: Session) -> None:
        closed = ok(book.post("/v1/scorecards/2026-02/close"))
        assert closed["closed"] is True
        assert closed["closed_at"] is not None
        assert closed["restated"] == []
        # Late revenue: b rises to 26,000 on Feb 25. Feb cohort end 12,000 + 26,000 + 0 = 38,000.
        post_revenue(session, revenue("b", "2026-02-25", 26000, id="late"))
        session.commit()
        card = ok(book.get("/v1/scorecards/2026-02"))
        assert card["closed"] is True
        assert card["closed_at"] == closed["closed_at"]
        assert entries(card)["nrr"]["value"] == 0.85
        restated = {(r["quadrant"], r["metric"]): (r["frozen_value"], r["current_value"]) for r in card["restated"]}
        assert restated == {
            ("financial", "nrr"): (0.85, six(Decimal(38000) / 40000)),
            ("financial", "grr"): (0.8, six(Decimal(10000 + 24000 + 0) / 40000)),
            ("financial", "arr_growth"): (0.975, six(Decimal(38000 + 5000) / 40000)),
            ("financial", "expansion_arr"): (2000, 2000 + 4000),  # + the 4,000 upsell
            ("financial", "clv"): (2600, round((38000 + 5000) / 12 / 3 * 0.8 * 3, 2)),  # ARPA rises with b
            ("customer", "no_score_arr"): (39000, 38000 + 5000),  # no snapshots: all paying ARR is unscored
            ("people", "arr_per_csm"): (19500, (38000 + 5000) / 2),
        }
        # The open month next door is not frozen: March's `previous` is February as it reads now.
        march = entries(ok(book.get("/v1/scorecards/2026-03")))
        assert march["nrr"]["previous"] == six(Decimal(38000) / 40000)

    def test_closed_month_keeps_the_status_it_had(self, book: TestClient) -> None:
        ok(book.put("/v1/targets/nrr", json={"value": "0.9", "direction": "higher_is_better"}), 201)
        ok(book.post("/v1/scorecards/2026-02/close"))
        ok(book.put("/v1/targets/nrr", json={"value": "0.5", "direction": "higher_is_better"}))
        assert entries(ok(book.get("/v1/scorecards/2026-02")))["nrr"]["status"] == "off_track"

    def test_closed_month_csv_shows_frozen_figures(self, book: TestClient, session: Session) -> None:
        ok(book.post("/v1/scorecards/2026-02/close"))
        post_revenue(session, revenue("b", "2026-02-25", 26000, id="late"))
        session.commit()
        assert "financial,nrr,0.850000,1.111111,-0.261111,," in book.get("/v1/scorecards/2026-02?format=csv").text

    def test_closing_twice_is_409(self, client: TestClient) -> None:
        ok(client.post("/v1/scorecards/2026-01/close"))
        response = client.post("/v1/scorecards/2026-01/close")
        assert response.status_code == 409
        assert response.json()["detail"] == "2026-01 is already closed."

    def test_month_not_ended_is_409(self, client: TestClient) -> None:
        response = client.post("/v1/scorecards/2999-01/close")
        assert response.status_code == 409
        assert "has not ended" in response.json()["detail"]

    def test_admin_scope_required(self, anonymous: TestClient, make_key: object) -> None:
        key = make_key(Scope.write)  # type: ignore[operator]
        response = anonymous.post("/v1/scorecards/2026-01/close", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403
