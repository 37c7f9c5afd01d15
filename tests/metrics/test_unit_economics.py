"""`/v1/metrics/unit-economics`: a worked example with the arithmetic written out, grouping, CSV and 422s."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
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

    def test_segments_split_costs_without_customer_by_each_denominator(self, session: Session) -> None:
        book(session)
        by = {r.group: r for r in rows(session, "2026-01-01", "2026-03-31", group_by="segment")}
        # Every customer has a segment, so there is no group null: unlinked costs are split, not parked there.
        assert list(by) == ["enterprise", "smb"]
        smb, ent = by["smb"], by["enterprise"]
        # smb: a pays 2,400 at end → MRR 200; expand 500 (k3, linked to a) over a.
        assert (smb.arpa_monthly, smb.expand_cost, smb.cec) == (Decimal(200), Decimal(500), Decimal(500))
        # Unlinked acquire 3,000 (k1) + 1,000 (k2) by new customers: enterprise 1 (d), smb 0 → all 4,000 to
        # enterprise; CAC = 4,000 / 1, as ungrouped, and smb (no new customer) gets none and a null CAC.
        assert (ent.new_customers, ent.acquire_cost, ent.cac) == (1, Decimal(4000), Decimal(4000))
        assert (smb.new_customers, smb.acquire_cost, smb.cac) == (0, Decimal(0), None)
        # Unlinked retain 1,200 (k5) by retained customers: smb 1 (a), enterprise 1 (c) → 600 each; enterprise keeps
        # its linked 800 (k4): 800 + 600 = 1,400 over c; smb 600 over a.
        assert (ent.retained_customers, ent.retain_cost, ent.crc) == (1, Decimal(800 + 600), Decimal(1400))
        assert (smb.retained_customers, smb.retain_cost, smb.crc) == (1, Decimal(600), Decimal(600))
        # smb churn: Jan 1/3 (b of a, b, e), Feb 0/2, Mar 1/2 (e of a, e) → mean 5/18, lifetime 3.6.
        smb_churn = (Decimal(1) / 3 + 0 + Decimal(1) / 2) / 3
        assert smb.monthly_logo_churn == smb_churn
        assert smb.clv == (Decimal(200) * MARGIN * (1 / smb_churn)).quantize(CENT) == Decimal("576.00")
        # enterprise: c 3,600 + d 6,000 = 9,600 ARR → 800 MRR over 2; no churn, lifetime unknown.
        assert (ent.arpa_monthly, ent.monthly_logo_churn, ent.lifetime_months) == (Decimal(400), 0, None)

    def test_grouped_costs_add_up_to_the_ungrouped_ones(self, session: Session) -> None:
        book(session)
        [whole] = rows(session, "2026-01-01", "2026-03-31")
        grouped = rows(session, "2026-01-01", "2026-03-31", group_by="segment")
        for motion in ("acquire_cost", "expand_cost", "retain_cost"):
            assert sum(getattr(r, motion) for r in grouped) == getattr(whole, motion)


def segment_book(session: Session, costs: list[dict[str, object]]) -> None:
    """Segment A: a1, a2 new in March 2026. B: b1 new in March, b2 paying since 2025. C: c1 paying since 2025."""
    for cid, segment in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("b2", "B"), ("c1", "C")):
        make_customer(session, id=cid, segment=segment)
    post_revenue(
        session,
        revenue("a1", "2026-03-02", 1200),
        revenue("a2", "2026-03-03", 1200),
        revenue("b1", "2026-03-04", 1200),
        revenue("b2", "2025-01-01", 1200),
        revenue("c1", "2025-01-01", 1200),
    )
    for fields in costs:
        make_cost(session, **fields)  # type: ignore[arg-type]
    session.commit()


class TestAllocation:
    """SPEC §13: costs without a customer are split among the groups by each metric's own denominator."""

    def test_two_segment_cac(self, session: Session) -> None:
        segment_book(
            session,
            [
                dict(id="k1", month="2026-03", amount=30_000, team="sales"),  # acquire, no customer
                dict(
                    id="k2", month="2026-03", amount=5_000, team="marketing", customer="b1"
                ),  # acquire, linked to B's b1
            ],
        )
        by = {r.group: r for r in rows(session, "2026-03-01", "2026-03-31", group_by="segment")}
        a, b, c = by["A"], by["B"], by["C"]
        # New customers: A 2 (a1, a2), B 1 (b1), C 0. The unlinked 30,000 splits 2 : 1 : 0:
        # A 30,000 × 2/3 = 20,000, B 30,000 × 1/3 = 10,000, C nothing.
        # B also keeps the 5,000 linked to b1: 10,000 + 5,000 = 15,000.
        assert (a.new_customers, a.acquire_cost, a.cac) == (2, Decimal(20_000), Decimal(20_000) / 2)  # 10,000
        assert (b.new_customers, b.acquire_cost, b.cac) == (1, Decimal(10_000 + 5_000), Decimal(15_000) / 1)
        assert (c.new_customers, c.acquire_cost, c.cac) == (0, Decimal(0), None)
        # Ungrouped: (30,000 + 5,000) / 3 new customers.
        [whole] = rows(session, "2026-03-01", "2026-03-31")
        assert (whole.acquire_cost, whole.cac) == (Decimal(35_000), (Decimal(35_000) / 3).quantize(CENT))

    def test_without_the_linked_cost_both_segments_have_cac_10000(self, session: Session) -> None:
        segment_book(session, [dict(id="k1", month="2026-03", amount=30_000, team="sales")])
        by = {r.group: r for r in rows(session, "2026-03-01", "2026-03-31", group_by="segment")}
        # A: 20,000 / 2 = 10,000; B: 10,000 / 1 = 10,000; the book's CAC 30,000 / 3 is 10,000 too.
        assert (by["A"].cac, by["B"].cac) == (Decimal(10_000), Decimal(10_000))

    def test_odd_cents_are_allocated_whole_and_add_up(self, session: Session) -> None:
        # 1,000.01 of retain cost without a customer over the retained customers: B 1 (b2), C 1 (c1), A 0 (new).
        # 100,001 cents / 2 = 50,000.5: floors 50,000 + 50,000 = 100,000; the cent left goes to the first of the
        # equal remainders in group order (B). B 500.01 + C 500.00 = 1,000.01.
        segment_book(session, [dict(id="k1", month="2026-03", amount="1000.01", team="customer_success")])
        by = {r.group: r for r in rows(session, "2026-03-01", "2026-03-31", group_by="segment")}
        assert (by["A"].retain_cost, by["B"].retain_cost, by["C"].retain_cost) == (
            Decimal(0),
            Decimal("500.01"),
            Decimal("500.00"),
        )
        assert by["A"].retain_cost + by["B"].retain_cost + by["C"].retain_cost == Decimal("1000.01")
        assert (by["B"].crc, by["C"].crc) == (Decimal("500.01"), Decimal("500.00"))

    def test_a_third_of_a_cent_each(self, session: Session) -> None:
        # 100.00 of acquire cost over A 2 and B 1 new customers: 10,000 × 2/3 = 6,666.67 cents, × 1/3 = 3,333.33:
        # floors 6,666 + 3,333 = 9,999; the cent left goes to the larger remainder (A's .67): 66.67 + 33.33 = 100.00.
        segment_book(session, [dict(id="k1", month="2026-03", amount=100, team="sales")])
        by = {r.group: r for r in rows(session, "2026-03-01", "2026-03-31", group_by="segment")}
        assert (by["A"].acquire_cost, by["B"].acquire_cost) == (Decimal("66.67"), Decimal("33.33"))
        assert by["A"].acquire_cost + by["B"].acquire_cost == Decimal(100)

    def test_no_group_with_a_denominator_leaves_the_cost_unallocated(self, session: Session) -> None:
        # Expand cost without a customer in a month where nobody expanded: no group can take it. It is in no group
        # row (each shows 0) and meta.unallocated names it; the ungrouped row still carries it, with a null CEC.
        segment_book(session, [dict(id="k1", month="2026-03", amount=700, team="account_management")])
        query = MetricQuery(start=date(2026, 3, 1), end=date(2026, 3, 31), group_by="segment")
        answer = unit_economics(session, query, gross_margin=MARGIN)
        assert [(r.group, r.expand_cost, r.cec) for r in answer.rows] == [
            ("A", 0, None),
            ("B", 0, None),
            ("C", 0, None),
        ]
        assert answer.meta["unallocated"] == [
            {"period_start": "2026-03-01", "period_end": "2026-03-31", "acquire_cost": 0.0, "expand_cost": 700.0,
             "retain_cost": 0.0}
        ]  # fmt: skip
        assert "in proportion to each metric's own denominator" in answer.meta["allocation"]
        [whole] = rows(session, "2026-03-01", "2026-03-31")
        assert (whole.expand_cost, whole.cec) == (Decimal(700), None)

    def test_ungrouped_meta_has_no_allocation(self, session: Session) -> None:
        segment_book(session, [dict(id="k1", month="2026-03", amount=700, team="sales")])
        answer = unit_economics(
            session, MetricQuery(start=date(2026, 3, 1), end=date(2026, 3, 31)), gross_margin=MARGIN
        )
        assert (answer.meta["allocation"], answer.meta["unallocated"]) == (None, [])


@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    new=st.lists(st.integers(min_value=0, max_value=3), min_size=2, max_size=3),
    cents=st.integers(min_value=1, max_value=10**9),
)
def test_segments_take_exactly_the_unlinked_total(session: Session, new: list[int], cents: int) -> None:
    """Groups' acquire costs add up to the unlinked total to the cent (or all of it is listed as unallocated)."""
    savepoint = session.begin_nested()
    try:
        for g, count in enumerate(new):
            for n in range(count):
                make_customer(session, id=f"s{g}-{n}", segment=f"seg{g}")
                post_revenue(session, revenue(f"s{g}-{n}", "2026-03-02", 1200))
        amount = Decimal(cents) / 100
        make_cost(session, id="k", month="2026-03", amount=amount, team="sales")
        query = MetricQuery(start=date(2026, 3, 1), end=date(2026, 3, 31), group_by="segment")
        answer = unit_economics(session, query, gross_margin=MARGIN)
    finally:
        savepoint.rollback()
    allocated = sum((r.acquire_cost for r in answer.rows), Decimal(0))
    left = sum((Decimal(str(u["acquire_cost"])) for u in answer.meta["unallocated"]), Decimal(0))
    assert allocated + left == amount
    assert (left == 0) == (sum(new) > 0)


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
        assert [line["group"] for line in lines] == ["enterprise", "smb"]
        assert (lines[1]["arpa_monthly"], lines[1]["cec"], lines[0]["cac"]) == ("200.00", "500.00", "4000.00")

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
