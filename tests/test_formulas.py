"""Every formula of app/formulas.py against a hand-computed example (the arithmetic is written in the test)."""

from decimal import Decimal

import pytest

from app import formulas


class TestRatios:
    def test_ratio_is_none_on_zero_denominator(self) -> None:
        assert formulas.ratio(3, 4) == Decimal("0.75")  # 3 / 4
        assert formulas.ratio(3, 0) is None

    def test_retention(self) -> None:
        assert formulas.nrr(Decimal(110), Decimal(100)) == Decimal("1.1")  # 110 / 100
        assert formulas.grr(Decimal(90), Decimal(100)) == Decimal("0.9")  # 90 / 100
        assert formulas.logo_churn_rate(1, 4) == Decimal("0.25")  # 1 / 4
        assert formulas.arr_growth(Decimal(150), Decimal(100)) == Decimal("1.5")  # 150 / 100

    def test_renewal_rates(self) -> None:
        assert formulas.raw_renewal_rate(Decimal(80), Decimal(100)) == Decimal("0.8")  # 80 / 100
        assert formulas.net_renewal_rate(Decimal(120), Decimal(100)) == Decimal("1.2")  # 120 / 100

    def test_cost_per_1k(self) -> None:
        assert formulas.cost_per_1k(Decimal(500), Decimal(10000)) == Decimal(50)  # 500 / (10000 / 1000)


class TestCostTrend:
    def test_moving_average_counts_the_defined_months(self) -> None:
        values = [Decimal(12), None, *([Decimal(3)] * 11)]  # index 12: the window is months 1..12
        assert formulas.moving_average(values, 12) == (Decimal(3), 11)  # (11 × 3) / 11, None skipped
        assert formulas.moving_average(values, 1) == (Decimal(12), 1)  # 12 / 1

    def test_trend(self) -> None:
        assert formulas.cost_trend(Decimal(40), Decimal(50)) == "improving"  # cheaper per $1K renewed
        assert formulas.cost_trend(Decimal(60), Decimal(50)) == "worsening"
        assert formulas.cost_trend(Decimal(50), Decimal(50)) == "flat"
        assert formulas.cost_trend(None, Decimal(50)) is None


class TestUnitEconomics:
    def test_mrr_arpa_lifetime_clv(self) -> None:
        assert formulas.mrr(Decimal(1200)) == Decimal(100)  # 1200 / 12
        assert formulas.per_customer(Decimal(100), 4) == Decimal(25)  # 100 / 4
        assert formulas.monthly_logo_churn([Decimal("0.1"), None, Decimal("0.3")]) == Decimal("0.2")  # (0.1 + 0.3) / 2
        assert formulas.lifetime_months(Decimal("0.2")) == Decimal(5)  # 1 / 0.2
        assert formulas.clv(Decimal(25), Decimal("0.8"), Decimal(5)) == Decimal(100)  # 25 × 0.8 × 5
        assert formulas.clv(None, Decimal("0.8"), Decimal(5)) is None


class TestInterventions:
    def test_intervention_cost(self) -> None:
        # 1.5 h × 33.333 = 49.9995 → 50.00; + 10 direct + 5.25 linked = 65.25
        assert formulas.intervention_cost(Decimal("1.5"), Decimal("33.333"), Decimal(10), Decimal("5.25")) == Decimal(
            "65.25"
        )

    def test_roi_and_attributed_revenue(self) -> None:
        revenue = formulas.attributed_revenue(Decimal(300), Decimal(100))
        assert revenue == Decimal(400)  # 300 retained + 100 expanded
        assert formulas.roi(revenue, Decimal(100)) == Decimal(3)  # (400 − 100) / 100
        assert formulas.roi(revenue, Decimal(0)) is None

    def test_health_lift(self) -> None:
        assert formulas.health_lift(Decimal(8), Decimal(3)) == Decimal(5)  # 8 − 3
        assert formulas.health_lift(Decimal(8), None) is None


class TestHealthAndStaffing:
    def test_revenue_at_risk(self) -> None:
        # $1,000.00 × 0.25 + $500.00 × 0.1 + $300.00 without a probability = $300.00
        assert formulas.revenue_at_risk([(100000, 0.25), (50000, 0.1), (30000, None)]) == Decimal("300.00")

    def test_csms_needed(self) -> None:
        assert formulas.csms_needed([(30, 10)]) == 3  # ceil(30 / 10)
        assert formulas.csms_needed([(31, 10)]) == 4  # ceil(3.1)
        assert formulas.csms_needed([(0, 10)]) == 0


class TestVoiceOfTheCustomer:
    def test_nps(self) -> None:
        assert formulas.nps(promoters=3, detractors=2, responses=6) == Decimal(100 * (3 - 2)) / 6
        assert formulas.nps(promoters=0, detractors=0, responses=0) is None

    def test_csat_and_ces(self) -> None:
        assert formulas.csat(satisfied=2, responses=4) == Decimal("0.5")  # 2 / 4
        assert formulas.ces(total=Decimal(12), responses=3) == 4  # 12 / 3
        assert formulas.csat(satisfied=0, responses=0) is None

    def test_median_and_mean_hours(self) -> None:
        assert formulas.median_hours([2, 4, 0.5]) == 2
        assert formulas.mean_hours([2, 4, 0.5]) == pytest.approx((2 + 4 + 0.5) / 3)
        assert formulas.median_hours([]) is None

    def test_rate_is_none_on_zero_denominator(self) -> None:
        assert formulas.rate(1, 4) == Decimal("0.25")
        assert formulas.rate(0, 0) is None
