"""Incremental ROI and experiment formulas (SPEC §9): hand-computed worked examples, then identities."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app import formulas

D = Decimal


class TestIncrementalRetained:
    def test_worked_example_a_40_treated_against_100_matched_controls(self) -> None:
        # 100 matched controls of equal ARR, 25 churned: p = 25 / 100 = 0.25.
        p = D(25) / D(100)
        # 40 treated episodes of 10,000 ARR, 4 churned:
        #   36 kept:    10,000 × (0.25 − 0) =  2,500 each →  90,000
        #    4 churned: 10,000 × (0.25 − 1) = −7,500 each → −30,000
        # total 40 × 10,000 × 0.25 − 4 × 10,000 = 100,000 − 40,000 = 60,000.
        kept = [formulas.incremental_retained(D(10000), p, churned=False) for _ in range(36)]
        lost = [formulas.incremental_retained(D(10000), p, churned=True) for _ in range(4)]
        assert kept[0] == D(2500)
        assert lost[0] == D(-7500)
        assert sum(kept + lost) == 40 * D(10000) * p - 4 * D(10000) == D(60000)

    def test_rounds_to_the_cent_half_to_even(self) -> None:
        # 0.25 × 0.1 = 0.025 → 0.02 (half to even), 0.35 × 0.1 = 0.035 → 0.04.
        assert formulas.incremental_retained(D("0.25"), D("0.1"), churned=False) == D("0.02")
        assert formulas.incremental_retained(D("0.35"), D("0.1"), churned=False) == D("0.04")

    @given(
        arr=st.decimals(min_value=0, max_value=10**9, places=2),
        p=st.decimals(min_value=0, max_value=1, places=6),
        churned=st.booleans(),
    )
    def test_bounded_by_the_arr_at_start(self, arr: Decimal, p: Decimal, churned: bool) -> None:
        assert abs(formulas.incremental_retained(arr, p, churned)) <= arr


class TestIncrementalExpanded:
    def test_credited_expansion_less_what_the_controls_expanded(self) -> None:
        # Credited 3,000; controls expanded 5 % of their starting ARR; a = 20,000: 3,000 − 20,000 × 0.05 = 2,000.
        assert formulas.incremental_expanded(D(3000), D(20000), D("0.05")) == D(2000)


class TestWindowChurnProbability:
    def test_worked_example_d_model_fallback_scales_to_the_window(self) -> None:
        # p90 = 0.2. A 90-day window keeps it: 1 − 0.8^(90/90) = 0.2.
        assert formulas.window_churn_probability(D("0.2"), 90) == D("0.2")
        # 180 days: 1 − 0.8^2 = 1 − 0.64 = 0.36 (two 90-day survivals in a row).
        assert formulas.window_churn_probability(D("0.2"), 180).quantize(D("1e-12")) == D("0.36").quantize(D("1e-12"))
        # 45 days: 1 − 0.8^0.5 = 1 − 0.894427191 = 0.105572809.
        assert abs(formulas.window_churn_probability(D("0.2"), 45) - D("0.105572809")) < D("1e-9")

    def test_certain_churn_stays_certain(self) -> None:
        assert formulas.window_churn_probability(D(1), 30) == D(1)


class TestHoldoutCount:
    def test_floor_of_share_times_n_plus_a_half(self) -> None:
        # ⌊0.2 × 7 + ½⌋ = ⌊1.9⌋ = 1; ⌊0.2 × 8 + ½⌋ = ⌊2.1⌋ = 2; ⌊0.5 × 3 + ½⌋ = ⌊2.0⌋ = 2.
        assert [formulas.holdout_count(D("0.2"), 7), formulas.holdout_count(D("0.2"), 8)] == [1, 2]
        assert formulas.holdout_count(D("0.5"), 3) == 2


class TestProportionDifference:
    def test_worked_example_c_holdout_churns_30_percent_treatment_18(self) -> None:
        # 100 customers per arm, equal ARR: treatment 18 churned, holdout 30.
        difference, low, high, p_value = formulas.proportion_difference(18, 100, 30, 100) or (D(0),) * 4
        # difference 0.18 − 0.30 = −0.12.
        assert difference == D("-0.12")
        # unpooled SE = √(0.18 × 0.82 / 100 + 0.30 × 0.70 / 100) = √(0.001476 + 0.0021) = √0.003576 = 0.0598
        # interval −0.12 ± 1.96 × 0.0598 = (−0.2372, −0.0028).
        assert (round(low, 4), round(high, 4)) == (D("-0.2372"), D("-0.0028"))
        # pooled rate 48 / 200 = 0.24; SE = √(0.24 × 0.76 × (1/100 + 1/100)) = √0.003648 = 0.0604;
        # z = 0.12 / 0.0604 = 1.987; p = 2 × (1 − Φ(1.987)) = 0.0469.
        assert round(p_value, 4) == D("0.0469")

    def test_an_empty_arm_has_no_answer(self) -> None:
        assert formulas.proportion_difference(1, 10, 0, 0) is None


class TestMinimumDetectableEffect:
    def test_80_percent_power_at_5_percent_significance(self) -> None:
        # (1.95996 + 0.84162) × √(0.3 × 0.7 × (1/100 + 1/100)) = 2.80158 × 0.064807 = 0.18156.
        assert round(formulas.minimum_detectable_effect(D("0.3"), 100, 100) or D(0), 4) == D("0.1816")
