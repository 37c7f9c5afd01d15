"""`/v1/metrics/renewals` and `/v1/metrics/cost-of-renewals`: worked examples with the arithmetic written out."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.config import Settings
from app.metrics import renewals as renewal_metrics
from app.metrics.schemas import MetricQuery
from app.renewals import service as renewals_service
from app.renewals.schemas import RenewalBatchItem
from tests.books import get_metric
from tests.builders import make_cost, make_customer, make_renewal

CUSTOMERS = [
    {"id": "c1", "segment": "smb"},
    {"id": "c2", "segment": "enterprise"},
    {"id": "c3", "segment": "smb"},
    {"id": "c4", "segment": "smb"},
]
# The conformance book (/work/shared/conformance/run, section `renewals`).
RENEWALS = [
    {"id": "r1", "customer": "c1", "due_date": "2026-01-31", "arr_up_for_renewal": 12000, "status": "renewed",
     "booked_arr": 15000, "closed_on": "2026-01-20"},
    {"id": "r2", "customer": "c2", "due_date": "2026-02-15", "arr_up_for_renewal": 24000, "status": "renewed",
     "booked_arr": 18000, "closed_on": "2026-02-10"},
    {"id": "r3", "customer": "c3", "due_date": "2026-02-28", "arr_up_for_renewal": 6000, "status": "churned",
     "booked_arr": 0, "closed_on": "2026-02-28"},
    {"id": "r4", "customer": "c4", "due_date": "2026-03-31", "arr_up_for_renewal": 5000, "status": "open"},
    {"id": "r5", "customer": "c6", "due_date": "2025-10-31", "arr_up_for_renewal": 900000, "status": "renewed",
     "booked_arr": 1000000, "closed_on": "2025-10-15"},
]  # fmt: skip
COSTS = [
    {"id": "k1", "month": "2025-10", "amount": 70000, "team": "customer_success", "category": "salary"},
    {"id": "k2", "month": "2025-10", "amount": 30000, "team": "renewals", "category": "salary"},
    {"id": "k3", "month": "2025-10", "amount": 50000, "team": "sales", "category": "salary"},
]


def post(client: TestClient, path: str, body: dict) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text


def renewed(rid: str, customer: str, closed_on: str, booked: object, up: object = 1) -> dict:
    return {"id": rid, "customer": customer, "due_date": closed_on, "arr_up_for_renewal": up, "status": "renewed",
            "booked_arr": booked, "closed_on": closed_on}  # fmt: skip


def cost(cid: str, month: str, amount: object, team: str = "customer_success", **extra: object) -> dict:
    return {"id": cid, "month": month, "amount": amount, "team": team, "category": "salary", **extra}


@pytest.fixture
def book(session: Session) -> None:
    for customer in CUSTOMERS:
        make_customer(session, **customer)
    for renewal in RENEWALS:
        make_renewal(session, **renewal)
    for cost_row in COSTS:
        make_cost(session, **cost_row)
    session.commit()


@pytest.mark.usefixtures("book")
class TestRenewalsMetric:
    def test_conformance_quarter(self, client: TestClient) -> None:
        (row,) = get_metric(client, "renewals", start="2026-01-01", end="2026-03-31")["rows"]
        closed_due = 12000 + 24000 + 6000  # r1, r2 renewed and r3 churned; r4 is open and in neither rate
        assert row == {
            "period_start": "2026-01-01",
            "period_end": "2026-03-31",
            "group": None,
            "due_count": 4,
            "due_arr": 12000 + 24000 + 6000 + 5000,
            "renewed_count": 2,
            "churned_count": 1,
            "open_count": 1,
            "open_arr": 5000,
            "renewed_arr": min(15000, 12000) + min(18000, 24000),
            "booked_arr": 15000 + 18000 + 0,
            "raw_renewal_rate": round(30000 / closed_due, 6),
            "net_renewal_rate": round(33000 / closed_due, 6),
        }

    def test_months_and_a_month_with_only_open_renewals(self, client: TestClient) -> None:
        rows = get_metric(client, "renewals", start="2026-01-01", end="2026-03-31", interval="month")["rows"]
        assert [(r["period_start"], r["period_end"]) for r in rows] == [
            ("2026-01-01", "2026-01-31"),
            ("2026-02-01", "2026-02-28"),
            ("2026-03-01", "2026-03-31"),
        ]
        assert (rows[0]["raw_renewal_rate"], rows[0]["net_renewal_rate"]) == (12000 / 12000, 15000 / 12000)
        # February: r2 keeps 18,000 of 24,000 and r3 churns 6,000: 18,000 / 30,000 either way.
        assert (rows[1]["raw_renewal_rate"], rows[1]["net_renewal_rate"]) == (18000 / 30000, 18000 / 30000)
        assert (rows[2]["open_count"], rows[2]["raw_renewal_rate"], rows[2]["net_renewal_rate"]) == (1, None, None)

    def test_empty_period_is_a_zero_row_with_null_rates(self, client: TestClient) -> None:
        (row,) = get_metric(client, "renewals", start="2030-01-01", end="2030-12-31")["rows"]
        assert (row["due_count"], row["due_arr"], row["booked_arr"]) == (0, 0, 0)
        assert (row["raw_renewal_rate"], row["net_renewal_rate"]) == (None, None)

    def test_grouped_by_segment_shows_only_groups_with_data_null_last(self, client: TestClient) -> None:
        # c6 is a stub customer without a segment: its renewal is due in October 2025, outside this range.
        post(client, "/v1/renewals/batch", {"renewals": [renewed("r6", "c7", "2026-01-05", 500, up=1000)]})
        rows = get_metric(client, "renewals", start="2026-01-01", end="2026-03-31", group_by="segment")["rows"]
        assert [r["group"] for r in rows] == ["enterprise", "smb", None]
        enterprise, smb, unknown = rows
        assert (enterprise["due_arr"], enterprise["raw_renewal_rate"]) == (24000, 18000 / 24000)
        # smb: r1 (12,000 renewed at 15,000), r3 (6,000 churned), r4 (5,000 open).
        assert (smb["due_count"], smb["due_arr"]) == (3, 12000 + 6000 + 5000)
        assert smb["raw_renewal_rate"] == round(12000 / (12000 + 6000), 6)
        assert smb["net_renewal_rate"] == round(15000 / (12000 + 6000), 6)
        assert (unknown["renewed_arr"], unknown["net_renewal_rate"]) == (500, 0.5)

    def test_sums_are_exact_to_the_cent(self, client: TestClient) -> None:
        items = [renewed(f"x{i}", "c1", "2027-01-10", "0.10", up="0.10") for i in range(3)]
        post(client, "/v1/renewals/batch", {"renewals": items})
        (row,) = get_metric(client, "renewals", start="2027-01-01", end="2027-01-31")["rows"]
        # 0.10 + 0.10 + 0.10 in floats is 0.30000000000000004; in cents it is exactly 30.
        assert (row["due_arr"], row["booked_arr"], row["raw_renewal_rate"]) == (0.3, 0.3, 1.0)

    def test_grouped_empty_range_has_no_rows(self, client: TestClient) -> None:
        assert get_metric(client, "renewals", start="2030-01-01", end="2030-12-31", group_by="tier")["rows"] == []

    def test_csv_has_the_same_row(self, client: TestClient) -> None:
        response = client.get("/v1/metrics/renewals?start=2026-01-01&end=2026-03-31&format=csv")
        assert response.headers["content-type"].startswith("text/csv")
        header, line = response.text.splitlines()
        assert header.startswith("period_start,period_end,group,due_count,due_arr")
        # Exact decimals for the spreadsheet: money to the cent, ratios 30/42 and 33/42 to six places.
        assert line == "2026-01-01,2026-03-31,,4,47000.00,2,1,1,5000.00,30000.00,33000.00,0.714286,0.785714"

    @pytest.mark.parametrize(
        "params",
        [
            {"start": "2026-03-31", "end": "2026-01-01"},
            {"start": "2026-01-01", "end": "2026-03-31", "colour": "red"},
            {"start": "2026-01-01", "end": "2026-03-31", "group_by": "colour"},
            {"start": "2026-01-01"},
        ],
    )
    def test_bad_query_is_422(self, client: TestClient, params: dict) -> None:
        response = client.get("/v1/metrics/renewals", params=params)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")


class TestCostOfRenewals:
    @pytest.mark.usefixtures("book")
    def test_spec_worked_example(self, client: TestClient) -> None:
        answer = get_metric(client, "cost-of-renewals", start="2025-10-01", end="2025-10-31")
        (row,) = answer["rows"]
        cs_cost = 70000 + 30000  # customer_success + renewals; the sales 50,000 is not CS cost
        assert (row["cs_cost"], row["renewal_bookings"]) == (cs_cost, 1_000_000)
        assert row["cost_per_1k"] == cs_cost / (1_000_000 / 1000) == 100
        assert (row["moving_avg_12m"], row["months_in_average"]) == (100, 1)
        assert (row["period_start"], row["period_end"]) == ("2025-10-01", "2025-10-31")
        assert answer["meta"]["trend"] is None  # nothing twelve months earlier

    def test_bookings_count_in_the_month_they_closed(self, client: TestClient) -> None:
        item = renewed("r1", "a", "2025-10-20", 200_000) | {"due_date": "2025-12-31"}
        post(client, "/v1/renewals/batch", {"renewals": [item]})
        post(client, "/v1/costs/batch", {"costs": [cost("k1", "2025-10", 10_000)]})
        rows = get_metric(client, "cost-of-renewals", start="2025-10-01", end="2025-12-31")["rows"]
        assert [(r["period_start"], r["renewal_bookings"], r["cost_per_1k"]) for r in rows] == [
            ("2025-10-01", 200_000, 10_000 / (200_000 / 1000)),
            ("2025-11-01", 0, None),
            ("2025-12-01", 0, None),
        ]

    def test_only_renewed_renewals_are_bookings(self, client: TestClient) -> None:
        churned = {"id": "r2", "customer": "a", "due_date": "2025-10-31", "arr_up_for_renewal": 9000,
                   "status": "churned", "closed_on": "2025-10-05"}  # fmt: skip
        opened = {"id": "r3", "customer": "a", "due_date": "2025-10-31", "arr_up_for_renewal": 9000, "status": "open"}
        post(client, "/v1/renewals/batch", {"renewals": [churned, opened]})
        post(client, "/v1/costs/batch", {"costs": [cost("k1", "2025-10", 10_000)]})
        (row,) = get_metric(client, "cost-of-renewals", start="2025-10-01", end="2025-10-31")["rows"]
        assert (row["cs_cost"], row["renewal_bookings"], row["cost_per_1k"]) == (10_000, 0, None)

    def test_moving_average_reaches_months_before_start(self, client: TestClient) -> None:
        renewals = [
            renewed("r0", "a", "2024-03-15", 1_000),  # 2024-03: 1,000 per $1K, outside March 2025's window
            renewed("r1", "a", "2025-01-15", 100_000),  # 2025-01: 10,000 / 100 = 100
            renewed("r2", "a", "2025-02-15", 100_000),  # 2025-02: 30,000 / 100 = 300
        ]
        costs = [
            cost("k0", "2024-03", 1_000),
            cost("k1", "2025-01", 10_000),
            cost("k2", "2025-02", 30_000),
            cost("k3", "2025-03", 5_000),  # 2025-03: no bookings, so no cost per $1K
        ]
        post(client, "/v1/renewals/batch", {"renewals": renewals})
        post(client, "/v1/costs/batch", {"costs": costs})
        rows = get_metric(client, "cost-of-renewals", start="2025-03-01", end="2025-04-30")["rows"]
        march, april = rows
        assert (march["cs_cost"], march["cost_per_1k"]) == (5_000, None)
        # Window 2024-04 .. 2025-03 holds two defined values: (100 + 300) / 2.
        assert (march["moving_avg_12m"], march["months_in_average"]) == ((100 + 300) / 2, 2)
        assert (april["cost_per_1k"], april["moving_avg_12m"], april["months_in_average"]) == (None, 200, 2)

    @pytest.mark.parametrize(
        ("cost_then", "cost_now", "trend"),
        [(20_000, 10_000, "improving"), (10_000, 20_000, "worsening"), (10_000, 10_000, "flat")],
    )
    def test_trend_compares_with_twelve_months_earlier(
        self, client: TestClient, cost_then: int, cost_now: int, trend: str
    ) -> None:
        post(client, "/v1/renewals/batch", {"renewals": [renewed("r1", "a", "2024-06-10", 100_000),
                                                         renewed("r2", "a", "2025-06-10", 100_000)]})  # fmt: skip
        post(client, "/v1/costs/batch", {"costs": [cost("k1", "2024-06", cost_then), cost("k2", "2025-06", cost_now)]})
        answer = get_metric(client, "cost-of-renewals", start="2025-06-01", end="2025-06-30")
        # June 2025's average covers 2024-07 .. 2025-06 (only June 2025); June 2024's covers 2023-07 .. 2024-06.
        assert answer["rows"][0]["moving_avg_12m"] == cost_now / 100
        assert answer["meta"]["trend"] == trend

    def test_grouped_costs_follow_their_customer_and_unlinked_costs_are_group_null(self, client: TestClient) -> None:
        post(
            client, "/v1/customers/batch", {"customers": [{"id": "a", "segment": "smb"}, {"id": "b", "segment": "ent"}]}
        )
        post(client, "/v1/renewals/batch", {"renewals": [renewed("r1", "a", "2025-10-05", 100_000),
                                                         renewed("r2", "b", "2025-10-06", 200_000)]})  # fmt: skip
        costs = [cost("k1", "2025-10", 5_000, customer="a"), cost("k2", "2025-10", 7_000), cost("k3", "2025-09", 1)]
        post(client, "/v1/costs/batch", {"costs": costs})
        answer = get_metric(client, "cost-of-renewals", start="2025-10-01", end="2025-10-31", group_by="segment")
        assert [(r["group"], r["cs_cost"], r["renewal_bookings"], r["cost_per_1k"]) for r in answer["rows"]] == [
            ("ent", 0, 200_000, 0),
            ("smb", 5_000, 100_000, 5_000 / 100),
            (None, 7_000, 0, None),
        ]
        assert answer["meta"]["trend"] is None
        assert {t["group"] for t in answer["meta"]["trends"]} == {"ent", "smb", None}

    def test_cs_teams_come_from_settings(self, app: FastAPI, client: TestClient, settings: Settings) -> None:
        app.state.settings = settings.model_copy(update={"cs_teams": ["support"]})
        post(
            client,
            "/v1/costs/batch",
            {"costs": [cost("k1", "2025-10", 70_000), cost("k2", "2025-10", 4_000, "support")]},
        )
        (row,) = get_metric(client, "cost-of-renewals", start="2025-10-01", end="2025-10-31")["rows"]
        assert row["cs_cost"] == 4_000

    def test_an_empty_month_is_a_zero_row(self, client: TestClient) -> None:
        (row,) = get_metric(client, "cost-of-renewals", start="2031-02-10", end="2031-02-11")["rows"]
        assert (row["period_start"], row["period_end"], row["cs_cost"], row["cost_per_1k"]) == (
            "2031-02-01",
            "2031-02-28",
            0,
            None,
        )
        assert (row["moving_avg_12m"], row["months_in_average"]) == (None, 0)

    def test_interval_other_than_month_is_422(self, client: TestClient) -> None:
        response = client.get("/v1/metrics/cost-of-renewals?start=2025-01-01&end=2025-12-31&interval=quarter")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "interval"]
        ok = client.get("/v1/metrics/cost-of-renewals?start=2025-01-01&end=2025-12-31&interval=month")
        assert len(ok.json()["rows"]) == 12

    def test_the_longest_range_runs(self, client: TestClient) -> None:
        # 240 months shown plus 23 before them: one SELECT per month in the CTE, under SQLite's compound limit.
        rows = get_metric(client, "cost-of-renewals", start="2006-01-01", end="2025-12-31")["rows"]
        assert len(rows) == 240
        monthly = get_metric(client, "renewals", start="2006-01-01", end="2025-12-31", interval="month")["rows"]
        assert len(monthly) == 240

    def test_csv(self, client: TestClient) -> None:
        response = client.get(
            "/v1/metrics/cost-of-renewals?start=2025-01-01&end=2025-02-28", headers={"Accept": "text/csv"}
        )
        assert response.text.splitlines()[0] == (
            "period_start,period_end,group,cs_cost,renewal_bookings,cost_per_1k,moving_avg_12m,months_in_average,"
            "ttm_cs_cost,ttm_renewal_bookings,ttm_cost_per_1k"
        )
        assert len(response.text.splitlines()) == 3


def slow_year(client: TestClient, year: int, *, cost_each: int, booked_each: int, slow_booked: int) -> None:
    """Twelve months of `cost_each` CS cost and one renewal of `booked_each` closed mid-month; December books only
    `slow_booked`."""
    renewals = [
        renewed(f"r{year}-{m}", "a", f"{year}-{m:02d}-15", slow_booked if m == 12 else booked_each)
        for m in range(1, 13)
    ]
    post(client, "/v1/renewals/batch", {"renewals": renewals})
    costs = [cost(f"k{year}-{m}", f"{year}-{m:02d}", cost_each) for m in range(1, 13)]
    post(client, "/v1/costs/batch", {"costs": costs})


class TestTrailingTwelveMonths:
    """SPEC §13: ttm_cs_cost, ttm_renewal_bookings, ttm_cost_per_1k = Σ cost / (Σ bookings / 1000) and ttm_trend."""

    def test_a_slow_month_swings_the_mean_of_ratios_not_the_ttm_ratio(self, client: TestClient) -> None:
        # 2025: 10,000 of CS cost every month; 100,000 renewed each month but December, which renews only 2,000.
        slow_year(client, 2025, cost_each=10_000, booked_each=100_000, slow_booked=2_000)
        (dec,) = get_metric(client, "cost-of-renewals", start="2025-12-01", end="2025-12-31")["rows"]
        # The month: 10,000 / (2,000 / 1000) = 5,000 per $1K, fifty times the usual 10,000 / 100 = 100.
        assert dec["cost_per_1k"] == 10_000 / (2_000 / 1000) == 5_000
        # Mean of the twelve monthly ratios: (11 × 100 + 5,000) / 12 = 6,100 / 12 = 508.33: five times the usual.
        assert dec["moving_avg_12m"] == pytest.approx((11 * 100 + 5_000) / 12, abs=1e-6)
        # Ratio of the sums, read from the eleven months before `start` too: 12 × 10,000 = 120,000 of cost against
        # 11 × 100,000 + 2,000 = 1,102,000 renewed: 120,000 / 1,102 = 108.89 per $1K.
        assert (dec["ttm_cs_cost"], dec["ttm_renewal_bookings"]) == (12 * 10_000, 11 * 100_000 + 2_000)
        assert dec["ttm_cost_per_1k"] == pytest.approx(120_000 / (1_102_000 / 1000), abs=1e-6)  # 108.892922

    def test_each_month_sums_itself_and_the_eleven_before(self, client: TestClient) -> None:
        slow_year(client, 2025, cost_each=10_000, booked_each=100_000, slow_booked=2_000)
        rows = get_metric(client, "cost-of-renewals", start="2025-11-01", end="2026-01-31")["rows"]
        got = [(r["period_start"], r["ttm_cs_cost"], r["ttm_renewal_bookings"], r["ttm_cost_per_1k"]) for r in rows]
        assert got == [
            # Dec 2024 .. Nov 2025: eleven months of 2025 (January to November).
            ("2025-11-01", 11 * 10_000, 11 * 100_000, pytest.approx(110_000 / 1_100, abs=1e-6)),  # 100
            ("2025-12-01", 12 * 10_000, 1_102_000, pytest.approx(120_000 / 1_102, abs=1e-6)),
            # Feb 2025 .. Jan 2026: January 2025 has left the window, nothing new came in.
            ("2026-01-01", 11 * 10_000, 10 * 100_000 + 2_000, pytest.approx(110_000 / 1_002, abs=1e-6)),
        ]

    def test_no_bookings_in_twelve_months_is_null(self, client: TestClient) -> None:
        post(client, "/v1/costs/batch", {"costs": [cost("k1", "2025-03", 4_000)]})
        (row,) = get_metric(client, "cost-of-renewals", start="2025-06-01", end="2025-06-30")["rows"]
        assert (row["ttm_cs_cost"], row["ttm_renewal_bookings"], row["ttm_cost_per_1k"]) == (4_000, 0, None)

    def test_ttm_trend_improves_while_the_moving_average_worsens(self, client: TestClient) -> None:
        # 2024: 15,000 a month against 100,000 renewed every month (December too): 150 per $1K, mean and TTM alike.
        slow_year(client, 2024, cost_each=15_000, booked_each=100_000, slow_booked=100_000)
        slow_year(client, 2025, cost_each=10_000, booked_each=100_000, slow_booked=2_000)
        answer = get_metric(client, "cost-of-renewals", start="2025-12-01", end="2025-12-31")
        (dec,) = answer["rows"]
        # Moving average 508.33 against 150 a year earlier: worsening. TTM 108.89 against 180,000 / 1,200 = 150:
        # improving, which is what happened (a third less CS cost for nearly the same renewals).
        assert (dec["moving_avg_12m"] > 150, dec["ttm_cost_per_1k"] < 150) == (True, True)
        assert (answer["meta"]["trend"], answer["meta"]["ttm_trend"]) == ("worsening", "improving")

    @pytest.mark.parametrize(("cost_then", "trend"), [(20_000, "improving"), (5_000, "worsening"), (10_000, "flat")])
    def test_ttm_trend_follows_the_trend_rule(self, client: TestClient, cost_then: int, trend: str) -> None:
        post(client, "/v1/renewals/batch", {"renewals": [renewed("r1", "a", "2024-06-10", 100_000),
                                                         renewed("r2", "a", "2025-06-10", 100_000)]})  # fmt: skip
        post(client, "/v1/costs/batch", {"costs": [cost("k1", "2024-06", cost_then), cost("k2", "2025-06", 10_000)]})
        answer = get_metric(client, "cost-of-renewals", start="2025-06-01", end="2025-06-30")
        # June 2025's twelve months hold 10,000 / 100 = 100; June 2024's hold cost_then / 100.
        assert answer["rows"][0]["ttm_cost_per_1k"] == 100
        assert answer["meta"]["ttm_trend"] == trend

    def test_nothing_a_year_earlier_is_a_null_trend(self, client: TestClient) -> None:
        post(client, "/v1/renewals/batch", {"renewals": [renewed("r1", "a", "2025-06-10", 100_000)]})
        post(client, "/v1/costs/batch", {"costs": [cost("k1", "2025-06", 10_000)]})
        assert get_metric(client, "cost-of-renewals", start="2025-06-01", end="2025-06-30")["meta"]["ttm_trend"] is None

    def test_grouped_ttm_per_group_with_each_groups_trend(self, client: TestClient) -> None:
        post(client, "/v1/customers/batch", {"customers": [{"id": "a", "segment": "smb"}]})
        post(client, "/v1/renewals/batch", {"renewals": [renewed("r1", "a", "2025-03-05", 50_000),
                                                         renewed("r2", "a", "2025-10-05", 150_000)]})  # fmt: skip
        post(client, "/v1/costs/batch", {"costs": [cost("k1", "2025-03", 4_000, customer="a"),
                                                   cost("k2", "2025-10", 6_000, customer="a")]})  # fmt: skip
        answer = get_metric(client, "cost-of-renewals", start="2025-10-01", end="2025-10-31", group_by="segment")
        (smb,) = answer["rows"]
        # Nov 2024 .. Oct 2025: (4,000 + 6,000) / ((50,000 + 150,000) / 1000) = 10,000 / 200 = 50.
        assert (smb["group"], smb["ttm_cs_cost"], smb["ttm_renewal_bookings"]) == ("smb", 10_000, 200_000)
        assert smb["ttm_cost_per_1k"] == 10_000 / 200
        assert answer["meta"]["ttm_trend"] is None
        assert answer["meta"]["trends"] == [{"group": "smb", "trend": None, "ttm_trend": None}]


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)
renewal_items = st.lists(
    st.tuples(st.sampled_from(["open", "renewed", "churned"]), amounts, amounts, st.integers(1, 90)),
    min_size=1,
    max_size=8,
)


class TestRenewalRates:
    """Renewal rates on random renewals: raw at most one and at most net."""

    @hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(items=renewal_items)
    def test_raw_rate_is_at_most_one_and_at_most_net(self, session: Session, items: list) -> None:
        """Each example writes inside a savepoint that is rolled back, so the function-scoped session is safe."""
        renewals = []
        for i, (status, up, booked, day) in enumerate(items):
            outcome = (
                {}
                if status == "open"
                else {"booked_arr": booked if status == "renewed" else 0, "closed_on": "2026-04-01"}
            )
            due = date(2026, 1, 1) + timedelta(days=day - 1)
            renewals.append(
                RenewalBatchItem(
                    id=f"r{i}", customer="c", due_date=due, arr_up_for_renewal=up, status=status, **outcome
                )
            )
        savepoint = session.begin_nested()
        try:
            renewals_service.upsert_renewals(session, renewals)
            (row,) = renewal_metrics.renewals(session, MetricQuery(start=date(2026, 1, 1), end=date(2026, 3, 31))).rows
        finally:
            savepoint.rollback()
        closed_count = sum(status != "open" for status, *_ in items)
        assert row.due_count == len(items)
        assert (row.raw_renewal_rate is None) == (closed_count == 0)
        if row.raw_renewal_rate is not None:
            assert row.net_renewal_rate is not None
            assert row.raw_renewal_rate <= 1
            assert row.raw_renewal_rate <= row.net_renewal_rate
