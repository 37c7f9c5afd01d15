"""The experiment result's remaining formulas (SPEC §9): GRR and health-delta differences, incremental retained."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import formulas

D = Decimal


class TestExperimentIncrementalRetained:
    def test_worked_example_c(self) -> None:
        # Holdout ARR-weighted churn 300,000 / 1,000,000 = 0.30; treatment 1,000,000 starting, 180,000 churned:
        # 0.30 × 1,000,000 − 180,000 = 120,000.
        assert formulas.experiment_incremental_retained(D("0.3"), D(1_000_000), D(180_000)) == D(120_000)

    def test_negative_when_the_treatment_churns_more(self) -> None:
        # 0.10 × 50,000 − 8,000 = −3,000.
        assert formulas.experiment_incremental_retained(D("0.1"), D(50_000), D(8_000)) == D(-3_000)

    def test_to_the_cent_half_to_even(self) -> None:
        # 1/3 × 100.00 − 0 = 33.333… → 33.33; 0.125 × 0.20 = 0.025 → 0.02.
        assert formulas.experiment_incremental_retained(D(1) / 3, D(100), D(0)) == D("33.33")
        assert formulas.experiment_incremental_retained(D("0.125"), D("0.2"), D(0)) == D("0.02")


class TestNormalTest:
    def test_interval_and_p_value(self) -> None:
        # d = 0.1, SE = 0.05: z = 2; p = 2 × (1 − Φ(2)) = 0.0455; interval 0.1 ± 1.959964 × 0.05.
        d, low, high, p = formulas.normal_test(D("0.1"), D("0.05"))
        assert d == D("0.1")
        assert float(low) == pytest.approx(0.1 - 0.0979982, abs=1e-6)
        assert float(high) == pytest.approx(0.1 + 0.0979982, abs=1e-6)
        assert float(p) == pytest.approx(0.0455003, abs=1e-6)

    def test_no_spread(self) -> None:
        assert formulas.normal_test(D(0), D(0))[3] == 1
        assert formulas.normal_test(D("0.2"), D(0))[3] == 0


class TestRatioDifference:
    def test_worked_example_of_two_small_arms(self) -> None:
        # Treatment (start, retained): (100, 100), (100, 50), (200, 200): R = 350 / 400 = 0.875.
        #   residuals y − R·x: 12.5, −37.5, 25 → Σ² = 156.25 + 1406.25 + 625 = 2187.5; x̄ = 400 / 3;
        #   Var = 2187.5 / (3 × 2 × (400/3)²) = 2187.5 / 106,666.67 = 0.0205078.
        # Holdout: (100, 0), (100, 100): R = 0.5; residuals −50, 50 → Σ² = 5000; x̄ = 100;
        #   Var = 5000 / (2 × 1 × 10,000) = 0.25.
        treated = [(D(100), D(100)), (D(100), D(50)), (D(200), D(200))]
        holdout = [(D(100), D(0)), (D(100), D(100))]
        r, var = formulas.ratio_of_sums_variance(treated) or (None, None)
        assert r == D("0.875")
        assert float(var) == pytest.approx(0.0205078, abs=1e-7)
        d, _low, high, p = formulas.ratio_difference(treated, holdout) or (D(0),) * 4
        se = (0.0205078 + 0.25) ** 0.5  # 0.520104
        assert d == D("0.375")
        assert float(high - d) == pytest.approx(1.959964 * se, abs=1e-6)
        assert float(p) == pytest.approx(0.470897, abs=1e-5)  # z = 0.375 / 0.520104 = 0.72101

    def test_needs_two_customers_per_arm(self) -> None:
        assert formulas.ratio_difference([(D(1), D(1))], [(D(1), D(1)), (D(1), D(0))]) is None


class TestMeanDifference:
    def test_welch_standard_error(self) -> None:
        # Treatment 1, 2, 3: mean 2, s² = 1; holdout 0, 0, 3, 5: mean 2, s² = (4 + 4 + 1 + 9) / 3 = 6.
        # d = 0; SE = √(1/3 + 6/4) = √1.833333 = 1.354006; p = 1.
        d, _low, high, p = formulas.mean_difference([D(1), D(2), D(3)], [D(0), D(0), D(3), D(5)]) or (D(0),) * 4
        assert d == 0
        assert float(high) == pytest.approx(1.959964 * 1.354006, abs=1e-6)
        assert p == 1

    @given(st.lists(st.integers(-50, 50), min_size=2, max_size=20), st.integers(-20, 20))
    def test_shifting_one_arm_shifts_the_difference(self, values: list[int], shift: int) -> None:
        base = [D(v) for v in values]
        moved = [v + shift for v in base]
        got = formulas.mean_difference(moved, base)
        assert got is not None
        assert abs(got[0] - shift) < D("1e-20")
