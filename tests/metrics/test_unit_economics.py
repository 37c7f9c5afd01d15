"""`/v1/metrics/unit-economics`: a worked example with the arithmetic written out, grouping, CSV and 422s."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.metrics.schemas import MetricQuery, UnitEconomicsRow
from app.metrics.unit_economics import unit_economics
from tests.builders import make_cost, make_customer, post_revenue, revenue

MARGIN = Decimal("0.8")
CENT = Decimal("0.01")


def rows(session: Session, start: str, end: str, margin: Decimal = MARGIN, **options: object) -> list[UnitEconomicsRow]:
    query = MetricQuery(start=date.fromisoformat(start), end=date.fromisoformat(end), **options)  # type: ignore[arg-type]
    return unit_economics(session, query, gross_margin=margin).rows


def book(session: Session) -> None:
    """a, b, e smb; c, d enterprise. Q1 2026: b and e churn, a upsells, d is new."""
    for cid, segment in (("a", "smb"), ("b", "smb"), ("c", "enterprise"), ("d", "enterprise"), ("e", "smb")):
        make_customer(session, id=cid, segment=segment)
    post_revenue(
        session,
        revenue("a", "2025-06-01", 1200),
        revenue("a", "2026-02-10", 2400),  # upsell
        revenue("b", "2025-09-01", 2400),
        revenue("b", "2026-01-20", 0),  # churn in January
        revenue("c", "2025-01-01", 3600),
        revenue("d", "2026-02-01", 6000),  # new on 1 February
        revenue("e", "2025-05-01", 1200),
        revenue("e", "2026-03-05", 0),  # churn in March
    )
    make_cost(session, id="k1", month="2026-01", amount=3000, team="sales")  # acquire, no customer
    make_cost(session, id="k2", month="2026-02", amount=1000, team="marketing")  # acquire, no customer
    make_cost(session, id="k3", month="2026-03", amount=500, team="account_management", customer="a")  # expand
    make_cost(session, id="k4", month="2026-01", amount=800, team="customer_success", customer="c")  # retain
    make_cost(session, id="k5", month="2026-02", amount=1200, team="customer_success")  # retain, no customer
    make_cost(session, id="k6", month="2025-12", amount=9999, team="sales")  # before the range
    make_cost(session, id="k7", month="2026-04", amount=9999, team="customer_success")  # after the range
    session.commit()


class TestWorkedExample:
    def test_quarter(self, session: Session) -> None:
        book(session)
        [q] = rows(session, "2026-01-01", "2026-03-31")
        # Paying at 31 March: a 2,400 + c 3,600 + d 6,000 = 12,000 ARR → MRR 1,000 over 3 customers.
        assert (q.paying_customers, q.mrr) == (3, Decimal(12000) / 12)
        # Money figures are rounded to cents at the edge; CLV is computed from the unrounded ARPA.
        assert q.arpa_monthly == (Decimal(1000) / 3).quantize(CENT)
        # Acquire: 3,000 + 1,000 over one new customer (d).
        assert (q.new_customers, q.acquire_cost, q.cac) == (1, Decimal(4000), Decimal(4000) / 1)
        # Expand: 500 over one customer with an upsell or cross-sell (a).
        assert (q.expanding_customers, q.expand_cost, q.cec) == (1, Decimal(500), Decimal(500) / 1)
        # Retain: 800 + 1,200 over the cohort (a, b, c, e) still paying at end (a, c).
        assert (q.retained_customers, q.retain_cost, q.crc) == (2, Decimal(2000), Decimal(2000) / 2)
        # Monthly logo churn: Jan 1/4 (b of a, b, c, e); Feb 0/3 (a, c, e: d starts on 1 Feb, not in the
        # cohort); Mar 1/4 (e of a, c, d, e). Mean (1/4 + 0 + 1/4) / 3 = 1/6.
        expected_churn = (Decimal(1) / 4 + Decimal(0) / 3 + Decimal(1) / 4) / 3
        assert (q.churn_months, q.monthly_logo_churn) == (3, expected_churn)
        assert q.lifetime_months == 1 / expected_churn  # 6 months
        # CLV = 1,000 / 3 × 0.8 × 6 = 1,600.
        assert q.clv == (Decimal(1000) / 3 * MARGIN * (1 / expected_churn)).quantize(CENT) == Decimal("1600.00")

    def test_months(self, session: Session) -> None:
        book(session)
        jan, feb, mar = rows(session, "2026-01-01", "2026-03-31", interval="month")
        # January: paying a 1,200 + c 3,600 + e 1,200 = 6,000 ARR → MRR 500 over 3; acquire 3,000, nobody new.
        assert (jan.arpa_monthly, jan.cac) == ((Decimal(500) / 3).quantize(CENT), None)
        # Retain 800 over a, c, e (b churned); churn 1/4 → lifetime 4; CLV = 500/3 × 0.8 × 4.
        assert (jan.crc, jan.monthly_logo_churn, jan.lifetime_months) == (
            (Decimal(800) / 3).quantize(CENT),
            Decimal(1) / 4,
            4,
        )
        assert jan.clv == (Decimal(500) / 3 * MARGIN * 4).quantize(CENT)  # 533.33
        # February: no churn among a, c, e → lifetime and CLV unknown, not infinite.
        assert (feb.monthly_logo_churn, feb.lifetime_months, feb.clv) == (0, None, None)
        assert (feb.new_customers, feb.cac) == (1, Decimal(1000))
        assert (mar.expanding_customers, mar.cec) == (0, None)  # a's upsell was in February, its cost in March

    def test_a_period_starting_mid_month_carries_that_whole_month_of_costs(self, session: Session) -> None:
        book(session)
        [q] = rows(session, "2026-01-15", "2026-01-31")
        assert (q.acquire_cost, q.retain_cost) == (Decimal(3000), Decimal(800))
        # The churn rate is the calendar month's too: January's 1/4.
        assert q.monthly_logo_churn == Decimal(1) / 4

    def test_gross_margin_scales_clv(self, session: Session) -> None:
        book(session)
        [q] = rows(session, "2026-01-01", "2026-03-31", margin=Decimal("0.5"))
        # 1,000 / 3 × 0.5 × 6 = 1,000 (to the cent: 1/6 has no exact decimal, so lifetime is 5.999…).
        assert q.clv == (Decimal(1000) / 3 * Decimal("0.5") * 6).quantize(CENT)


class TestEmptyAndGrouped:
    def test_empty_period_is_zeros_and_nulls(self, session: Session) -> None:
        [q] = rows(session, "2020-01-01", "2020-03-31")
        assert (q.paying_customers, q.mrr, q.new_customers, q.acquire_cost) == (0, 0, 0, 0)
        assert (q.arpa_monthly, q.cac, q.cec, q.crc) == (None, None, None, None)
        assert (q.churn_months, q.monthly_logo_churn, q.lifetime_months, q.clv) == (0, None, None, None)

    def test_segments_and_costs_without_customer_in_group_null(self, session: Session) -> None:
        book(session)
        by = {r.group: r for r in rows(session, "2026-01-01", "2026-03-31", group_by="segment")}
        assert list(by) == ["enterprise", "smb", None]
        smb, ent, none = by["smb"], by["enterprise"], by[None]
        # smb: a pays 2,400 at end → MRR 200; expand 500 (k3, linked to a); a retained, no retain cost linked.
        assert (smb.arpa_monthly, smb.cec, smb.crc) == (Decimal(200), Decimal(500), Decimal(0))
        # smb churn: Jan 1/3 (b of a, b, e), Feb 0/2, Mar 1/2 (e of a, e) → mean 5/18, lifetime 3.6.
        smb_churn = (Decimal(1) / 3 + 0 + Decimal(1) / 2) / 3
        assert smb.monthly_logo_churn == smb_churn
        assert smb.clv == (Decimal(200) * MARGIN * (1 / smb_churn)).quantize(CENT) == Decimal("576.00")
        # enterprise: c 3,600 + d 6,000 = 9,600 ARR → 800 MRR over 2; d new but no acquire cost linked to it.
        assert (ent.arpa_monthly, ent.new_customers, ent.cac) == (Decimal(400), 1, Decimal(0))
        assert (ent.crc, ent.monthly_logo_churn, ent.lifetime_months) == (Decimal(800), 0, None)
        # Costs without a customer: 4,000 acquire and 1,200 retain, with no customers to divide by.
        assert (none.acquire_cost, none.retain_cost, none.cac, none.crc) == (Decimal(4000), Decimal(1200), None, None)


class TestRoute:
    def test_json_and_settings_margin(self, client: TestClient, session: Session) -> None:
        book(session)
        client.app.state.settings = client.app.state.settings.model_copy(update={"gross_margin": Decimal("0.5")})  # type: ignore[attr-defined]
        response = client.get("/v1/metrics/unit-economics", params={"start": "2026-01-01", "end": "2026-03-31"})
        assert response.status_code == 200, response.text
        body = response.json()
        [row] = body["rows"]
        # 1,000/3 rounded to cents; CLV = 1,000/3 × 0.5 × 6 = 1,000.
        assert (row["arpa_monthly"], row["cac"], row["crc"], row["clv"]) == (333.33, 4000.0, 1000.0, 1000.0)
        assert (row["monthly_logo_churn"], row["lifetime_months"]) == (0.166667, 6.0)
        assert body["meta"]["gross_margin"] == 0.5

    def test_csv_has_the_same_rows(self, client: TestClient, session: Session) -> None:
        book(session)
        params = {"start": "2026-01-01", "end": "2026-03-31", "group_by": "segment", "format": "csv"}
        response = client.get("/v1/metrics/unit-economics", params=params)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(response.text)))
        assert [line["group"] for line in lines] == ["enterprise", "smb", ""]
        assert (lines[1]["arpa_monthly"], lines[1]["cec"], lines[2]["cac"]) == ("200.00", "500.00", "")

    @pytest.mark.parametrize(
        "params",
        [
            {"start": "2026-01-01", "end": "2026-03-31", "groupby": "segment"},
            {"start": "2026-01-01", "end": "2026-03-31", "group_by": "product"},
            {"start": "2026-03-31", "end": "2026-01-01"},
            {"start": "2026-01-01"},
        ],
    )
    def test_bad_parameters_are_422(self, client: TestClient, params: dict[str, str]) -> None:
        response = client.get("/v1/metrics/unit-economics", params=params)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_needs_a_key(self, anonymous: TestClient) -> None:
        response = anonymous.get("/v1/metrics/unit-economics", params={"start": "2026-01-01", "end": "2026-01-31"})
        assert response.status_code == 401
