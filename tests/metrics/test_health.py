"""`/v1/metrics/health`, `/voc` and `/support`: worked examples with the arithmetic written out (SPEC §6)."""

import math
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import formulas
from app.health import churn
from tests.books import get_metric
from tests.builders import (
    make_churn_model,
    make_customer,
    make_snapshot,
    post_revenue,
    post_usage,
    revenue,
    usage_event,
)


def book(session: Session) -> None:
    """c1, c2, c5 smb; c3, c4 enterprise. ARR and snapshots as the comments in the tests say."""
    for cid, segment in (("c1", "smb"), ("c2", "smb"), ("c3", "enterprise"), ("c4", "enterprise"), ("c5", "smb")):
        make_customer(session, id=cid, segment=segment)
    post_revenue(
        session,
        revenue("c1", "2026-01-01", 10000),
        revenue("c2", "2026-01-01", 20000),
        revenue("c3", "2026-03-01", 50000),
        revenue("c4", "2026-01-01", 3000),
        revenue("c4", "2026-01-01", 2000, product="addon"),
        revenue("c5", "2026-01-01", 8000),
        revenue("c5", "2026-03-10", 0),  # churned before the March end
    )
    make_snapshot(session, customer="c1", day="2026-02-15", score=45.0, band="yellow")
    make_snapshot(session, customer="c1", day="2026-03-15", score=30.0, band="red")
    # After every period end here: never used.
    make_snapshot(session, customer="c1", day="2026-04-15", score=90.0, band="green")
    make_snapshot(session, customer="c2", day="2026-03-15", score=50.0, band="yellow")
    make_snapshot(session, customer="c3", day="2026-03-15", score=80.0, band="green")
    make_snapshot(session, customer="c5", day="2026-02-15", score=10.0, band="red")
    session.commit()


class TestHealthMetric:
    def test_bands_arr_and_revenue_at_risk_with_default_probabilities(
        self, client: TestClient, session: Session
    ) -> None:
        book(session)
        body = get_metric(client, "health", start="2026-02-01", end="2026-03-31", interval="month")
        feb, mar = body["rows"]
        # Feb 28: paying c1 (yellow 45), c2 (no snapshot yet), c4 (never), c5 (red 10).
        assert (feb["customers"], feb["avg_score"]) == (4, (45 + 10) / 2)
        assert (feb["red_customers"], feb["red_arr"], feb["yellow_customers"], feb["yellow_arr"]) == (1, 8000, 1, 10000)
        assert (feb["green_customers"], feb["green_arr"]) == (0, 0)
        assert (feb["no_score_customers"], feb["no_score_arr"]) == (2, 20000 + 3000 + 2000)
        assert feb["revenue_at_risk"] == 8000 * 0.30 + 10000 * 0.10  # 2,400 + 1,000 = 3,400
        # Mar 31: c5 churned; c1 red 30 (the April snapshot is later), c2 yellow 50, c3 green 80, c4 unscored.
        assert (mar["customers"], mar["avg_score"]) == (4, round((30 + 50 + 80) / 3, 2))  # 53.33: points, 2 decimals
        assert [mar[f"{b}_customers"] for b in ("red", "yellow", "green", "no_score")] == [1, 1, 1, 1]
        assert [mar[f"{b}_arr"] for b in ("red", "yellow", "green", "no_score")] == [10000, 20000, 50000, 5000]
        assert mar["revenue_at_risk"] == 10000 * 0.30 + 20000 * 0.10 + 50000 * 0.03  # 3,000 + 2,000 + 1,500
        assert mar["method"] == "default"
        assert body["meta"]["snapshots"] is True

    def test_grouped_by_segment(self, client: TestClient, session: Session) -> None:
        book(session)
        rows = get_metric(client, "health", start="2026-03-01", end="2026-03-31", group_by="segment")["rows"]
        assert [r["group"] for r in rows] == ["enterprise", "smb"]
        enterprise, smb = rows
        # enterprise: c3 green 50,000, c4 unscored 5,000 -> risk 50,000 x 0.03 = 1,500
        assert (enterprise["customers"], enterprise["avg_score"], enterprise["revenue_at_risk"]) == (2, 80, 1500)
        # smb: c1 red 10,000, c2 yellow 20,000 -> avg (30 + 50) / 2 = 40, risk 3,000 + 2,000 = 5,000
        assert (smb["customers"], smb["avg_score"], smb["revenue_at_risk"]) == (2, 40, 5000)

    def test_fitted_model_prices_risk_by_score(self, client: TestClient, session: Session) -> None:
        book(session)
        make_churn_model(session, intercept=2.0, coefficient=-0.05)
        session.commit()
        [mar] = get_metric(client, "health", start="2026-03-01", end="2026-03-31")["rows"]

        def p(score: float) -> float:
            return 1 / (1 + math.exp(-(2.0 - 0.05 * score)))

        assert mar["method"] == "fitted"
        expected = 10000 * p(30) + 20000 * p(50) + 50000 * p(80)  # c4 has no score, so no probability
        assert mar["revenue_at_risk"] == pytest.approx(expected, abs=0.01)

    def test_no_snapshots_and_no_customers_is_an_empty_row_not_an_error(self, client: TestClient) -> None:
        body = get_metric(client, "health", start="2020-01-01", end="2020-01-31")
        [row] = body["rows"]
        assert (row["customers"], row["avg_score"], row["revenue_at_risk"], row["red_arr"]) == (0, None, 0, 0)
        assert body["meta"]["snapshots"] is False
        assert "snapshots" in body["meta"]["note"]


class TestChurnFit:
    def test_fit_on_ledger_churns_is_used_by_the_metric(self, client: TestClient, session: Session) -> None:
        # 60 customers paying from 2025-01-01, scored on 2025-04-01; the 30 scored 20 churn on 2025-05-01 (30 days
        # later, within 90), the 30 scored 80 keep paying.
        for i in range(60):
            make_customer(session, id=f"f{i}")
            churns = i < 30
            events = [revenue(f"f{i}", "2025-01-01", 1000)]
            if churns:
                events.append(revenue(f"f{i}", "2025-05-01", 0))
            post_revenue(session, *events)
            make_snapshot(
                session,
                customer=f"f{i}",
                day="2025-04-01",
                score=20.0 if churns else 80.0,
                band="red" if churns else "green",
            )
        session.flush()
        assert len(churn.churn_dates(session)) == 30
        fitted = churn.refit(session, today=date(2026, 1, 1), min_churns=30)
        assert fitted is not None
        assert (fitted.examples, fitted.churns) == (60, 30)
        assert fitted.coefficient < 0  # a higher score, less churn
        session.commit()
        [row] = get_metric(client, "health", start="2025-04-01", end="2025-04-30")["rows"]
        assert row["method"] == "fitted"
        # 30 paying at 1,000 scored 20 and 30 scored 80: risk = 30,000 x p(20) + 30,000 x p(80)
        expected = 30000 * formulas.logistic(20.0, fitted) + 30000 * formulas.logistic(80.0, fitted)
        assert row["revenue_at_risk"] == pytest.approx(expected, abs=0.01)

    def test_too_few_churns_keep_the_defaults(self, session: Session) -> None:
        make_customer(session, id="x")
        post_revenue(session, revenue("x", "2025-01-01", 1000), revenue("x", "2025-05-01", 0))
        make_snapshot(session, customer="x", day="2025-04-01", score=20.0, band="red")
        session.flush()
        assert churn.refit(session, today=date(2026, 1, 1), min_churns=30) is None


class TestVocMetric:
    def test_nps_csat_ces(self, client: TestClient, session: Session) -> None:
        make_customer(session, id="c1", segment="smb")
        make_customer(session, id="c2", segment="enterprise")
        session.commit()
        nps = [
            usage_event("c1", "survey_response", "2026-03-02T10:00:00Z", value=s, survey="nps")
            for s in (10, 9, 8, 6, 3)
        ]
        csat = [
            usage_event("c2", "survey_response", "2026-03-03T10:00:00Z", value=s, survey="csat") for s in (5, 4, 3, 2)
        ]
        ces = [usage_event("c2", "survey_response", "2026-03-31T23:00:00Z", value=s, survey="ces") for s in (2, 3, 7)]
        outside = [usage_event("c1", "survey_response", "2026-04-01T00:00:00Z", value=0, survey="nps")]  # next day, UTC
        # Not a known survey:
        other = [usage_event("c1", "survey_response", "2026-03-05T00:00:00Z", value=1, survey="other")]
        post_usage(session, *nps, *csat, *ces, *outside, *other)
        session.commit()
        [row] = get_metric(client, "voc", start="2026-03-01", end="2026-03-31")["rows"]
        assert row["responses"] == 5 + 4 + 3
        assert row["nps"] == (2 - 2) / 5 * 100  # promoters 10, 9; detractors 6, 3 -> 0
        assert row["csat"] == 2 / 4  # 5 and 4 of four answers
        assert row["ces"] == pytest.approx((2 + 3 + 7) / 3)

    def test_grouped_and_monthly(self, client: TestClient, session: Session) -> None:
        make_customer(session, id="c1", segment="smb")
        make_customer(session, id="c2", segment="enterprise")
        session.commit()
        post_usage(session, *[
            usage_event("c1", "survey_response", "2026-01-10T10:00:00Z", value=10, survey="nps"),
            usage_event("c1", "survey_response", "2026-01-11T10:00:00Z", value=0, survey="nps"),
            usage_event("c1", "survey_response", "2026-01-12T10:00:00Z", value=9, survey="nps"),
            usage_event("c2", "survey_response", "2026-01-12T10:00:00Z", value=7, survey="nps"),  # a passive
        ])  # fmt: skip
        session.commit()
        body = get_metric(client, "voc", start="2026-01-01", end="2026-02-28", interval="month", group_by="segment")
        # January only (February has no answers, so no grouped rows): enterprise one passive -> (0 - 0) / 1 = 0;
        # smb 10, 0, 9 -> (2 - 1) / 3 x 100 = 33.333333
        assert [(r["period_start"], r["group"], r["nps"]) for r in body["rows"]] == [
            ("2026-01-01", "enterprise", 0.0),
            ("2026-01-01", "smb", round(100 * (2 - 1) / 3, 6)),
        ]

    def test_empty_period_has_null_ratios(self, client: TestClient) -> None:
        [row] = get_metric(client, "voc", start="2026-01-01", end="2026-01-31")["rows"]
        assert (row["responses"], row["nps"], row["csat"], row["ces"]) == (0, None, None, None)


class TestSupportMetric:
    def test_ticket_times_and_escalation_rate(self, client: TestClient, session: Session) -> None:
        make_customer(session, id="c1", segment="smb")
        make_customer(session, id="c2", segment="enterprise")
        session.commit()
        post_usage(session, *[
            usage_event("c1", "ticket_opened", "2026-03-01T09:00:00Z", ticket="T1"),
            usage_event("c1", "ticket_first_response", "2026-03-01T11:00:00Z", ticket="T1"),  # 2 h
            usage_event("c1", "ticket_escalated", "2026-03-01T12:00:00Z", ticket="T1"),
            usage_event("c1", "ticket_resolved", "2026-03-02T09:00:00Z", ticket="T1"),  # 24 h
            usage_event("c1", "ticket_opened", "2026-03-05T00:00:00Z", ticket="T2"),
            usage_event("c1", "ticket_first_response", "2026-03-05T04:00:00Z", ticket="T2"),  # 4 h, unresolved
            usage_event("c2", "ticket_opened", "2026-03-10T10:00:00Z", ticket="T1"),  # another customer's T1
            usage_event("c2", "ticket_first_response", "2026-03-10T10:30:00Z", ticket="T1"),  # 0.5 h
            usage_event("c2", "ticket_resolved", "2026-03-10T13:00:00Z", ticket="T1"),  # 3 h
            usage_event("c1", "ticket_opened", "2026-02-20T09:00:00Z", ticket="T0"),  # opened in February
            usage_event("c1", "ticket_resolved", "2026-03-03T09:00:00Z", ticket="T0"),  # 11 days = 264 h
        ])  # fmt: skip
        session.commit()
        feb, mar = get_metric(client, "support", start="2026-02-01", end="2026-03-31", interval="month")["rows"]
        assert mar["tickets_opened"] == 3
        assert mar["median_first_response_hours"] == 2  # of 0.5, 2, 4
        assert mar["mean_first_response_hours"] == pytest.approx((2 + 4 + 0.5) / 3)
        assert mar["median_resolution_hours"] == (24 + 3) / 2
        assert mar["escalation_rate"] == round(1 / 3, 6)
        assert (feb["tickets_opened"], feb["median_first_response_hours"], feb["median_resolution_hours"]) == (
            1,
            None,
            11 * 24,
        )
        assert feb["escalation_rate"] == 0

        grouped = get_metric(client, "support", start="2026-03-01", end="2026-03-31", group_by="segment")["rows"]
        assert [(r["group"], r["tickets_opened"], r["escalation_rate"]) for r in grouped] == [
            ("enterprise", 1, 0.0),
            ("smb", 2, 0.5),  # T1 escalated, T2 not
        ]

    def test_no_tickets_means_null_rate_and_times(self, client: TestClient) -> None:
        [row] = get_metric(client, "support", start="2026-01-01", end="2026-01-31")["rows"]
        assert row["tickets_opened"] == 0
        assert (row["median_first_response_hours"], row["escalation_rate"]) == (None, None)


class TestHttp:
    @pytest.mark.parametrize("name", ["health", "voc", "support"])
    def test_csv_has_the_same_rows(self, client: TestClient, name: str) -> None:
        response = client.get(f"/v1/metrics/{name}", params={"start": "2026-01-01", "end": "2026-02-28",
                                                              "interval": "month", "format": "csv"})  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.text.strip().splitlines()
        assert lines[0].startswith("period_start,period_end,group,")
        assert [line.split(",")[0] for line in lines[1:]] == ["2026-01-01", "2026-02-01"]

    @pytest.mark.parametrize("name", ["health", "voc", "support"])
    @pytest.mark.parametrize(
        "params",
        [
            {"start": "2026-02-01", "end": "2026-01-01"},
            {"start": "2026-01-01", "end": "2026-01-31", "colour": "red"},
            {"start": "2026-01-01", "end": "2026-01-31", "group_by": "planet"},
            {"start": "2026-01-01"},
        ],
    )
    def test_bad_query_is_422(self, client: TestClient, name: str, params: dict) -> None:
        response = client.get(f"/v1/metrics/{name}", params=params)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_needs_a_key(self, anonymous: TestClient) -> None:
        assert anonymous.get("/v1/metrics/voc", params={"start": "2026-01-01", "end": "2026-01-31"}).status_code == 401
