"""Health arithmetic without a database: hand-computed examples and hypothesis properties (SPEC §6, §10)."""

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from app.formulas import (
    band_of,
    brier,
    churn_probabilities,
    churn_probability,
    combine,
    combine_scores,
    component_score,
    lift,
    roc_auc,
)


class TestComponentScore:
    def test_linear_between_bad_and_good(self) -> None:
        assert component_score(12, bad=5, good=20) == pytest.approx(100 * (12 - 5) / (20 - 5))

    def test_clamped_at_both_ends(self) -> None:
        assert component_score(25, bad=5, good=20) == 100
        assert component_score(1, bad=5, good=20) == 0

    def test_lower_is_better_when_bad_exceeds_good(self) -> None:
        assert component_score(1, bad=3, good=0) == pytest.approx(100 * (1 - 3) / (0 - 3))
        assert component_score(0, bad=3, good=0) == 100
        assert component_score(7, bad=3, good=0) == 0

    @given(
        st.floats(-1e6, 1e6),
        st.floats(-1e3, 1e3),
        st.floats(-1e3, 1e3),
    )
    def test_always_within_0_and_100(self, raw: float, bad: float, good: float) -> None:
        if abs(good - bad) > 1e-6:
            assert 0 <= component_score(raw, bad=bad, good=good) <= 100


class TestCombine:
    def test_weighted_mean_renormalised_over_components_with_data(self) -> None:
        result = combine([(20, 50.0), (10, None), (30, 90.0)])
        assert result.score == pytest.approx((20 * 50 + 30 * 90) / (20 + 30))
        assert result.coverage == pytest.approx((20 + 30) / (20 + 10 + 30))
        assert result.contributions == [pytest.approx(20 * 50 / 50), None, pytest.approx(30 * 90 / 50)]

    def test_no_component_with_data_means_no_score(self) -> None:
        result = combine([(20, None), (10, None)])
        assert (result.score, result.coverage, result.contributions) == (None, 0.0, [None, None])

    @given(st.lists(st.tuples(st.floats(0.01, 1000), st.none() | st.floats(0, 100)), min_size=1, max_size=12))
    def test_contributions_add_up_to_the_score_within_0_and_100(self, parts: list[tuple[float, float | None]]) -> None:
        result = combine(parts)
        if result.score is None:
            assert all(score is None for _, score in parts)
            return
        assert 0 <= result.score <= 100
        assert sum(c for c in result.contributions if c is not None) == pytest.approx(result.score)
        assert 0 < result.coverage <= 1 + 1e-12


class TestBands:
    @pytest.mark.parametrize(
        ("score", "band"),
        [(0, "red"), (39.999, "red"), (40, "yellow"), (69.999, "yellow"), (70, "green"), (100, "green"), (None, None)],
    )
    def test_default_thresholds(self, score: float | None, band: str | None) -> None:
        assert band_of(score, red_below=40, green_from=70) == band


class TestRocAuc:
    """SPEC §10: lower score = riskier; the share of (churned, retained) pairs where the churned one scored lower."""

    def test_hand_worked_with_ties(self) -> None:
        scores = [10, 40, 40, 70, 40, 90]
        churned = [True, True, False, False, True, False]
        # Churned 10, 40, 40 against retained 40, 70, 90 (a pair below scores 1, a tie 1/2):
        #   10: below all three        -> 3
        #   40: tie 40, below 70, 90   -> 0.5 + 2 = 2.5   (twice: two churned pairs scored 40)
        assert roc_auc(scores, churned) == (3 + 2.5 + 2.5) / (3 * 3)
        # scikit-learn sums trapezoids, so its 8/9 may differ from the correctly rounded one in the last bit.
        assert roc_auc(scores, churned) == pytest.approx(roc_auc_score(churned, [-s for s in scores]), abs=1e-12)

    def test_perfect_inverted_and_chance(self) -> None:
        assert roc_auc([10, 20, 80, 90], [True, True, False, False]) == 1.0
        assert roc_auc([80, 90, 10, 20], [True, True, False, False]) == 0.0
        assert roc_auc([50, 50, 50, 50], [True, False, True, False]) == 0.5

    def test_none_without_both_kinds(self) -> None:
        assert roc_auc([10, 20], [True, True]) is None
        assert roc_auc([10, 20], [False, False]) is None
        assert roc_auc([], []) is None

    @given(
        st.lists(
            st.tuples(st.one_of(st.sampled_from([0.0, 25.0, 50.0, 100.0]), st.floats(0, 100)), st.booleans()),
            min_size=2,
            max_size=300,
        )
    )
    def test_equals_scikit_learns_roc_auc_score(self, pairs: list[tuple[float, bool]]) -> None:
        scores, churned = [s for s, _ in pairs], [c for _, c in pairs]
        if len(set(churned)) < 2:
            assert roc_auc(scores, churned) is None
        else:
            assert roc_auc(scores, churned) == pytest.approx(roc_auc_score(churned, [-s for s in scores]), abs=1e-12)

    @given(st.lists(st.tuples(st.floats(0, 100), st.booleans()), min_size=2, max_size=100))
    def test_reversing_the_scores_mirrors_it(self, pairs: list[tuple[float, bool]]) -> None:
        scores, churned = [s for s, _ in pairs], [c for _, c in pairs]
        auc = roc_auc(scores, churned)
        if auc is not None:
            mirrored = roc_auc([-s for s in scores], churned)  # the same order, reversed (ties kept)
            assert mirrored == pytest.approx(1 - auc, abs=1e-12)


class TestBrier:
    def test_hand_worked(self) -> None:
        # (0.3 - 1)² + (0.1 - 0)² + (0.5 - 1)² = 0.49 + 0.01 + 0.25 = 0.75; / 3 = 0.25
        assert brier([0.3, 0.1, 0.5], [True, False, True]) == pytest.approx(0.75 / 3)

    def test_none_without_examples(self) -> None:
        assert brier([], []) is None

    @given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=50))
    def test_between_0_and_1(self, pairs: list[tuple[float, bool]]) -> None:
        value = brier([p for p, _ in pairs], [c for _, c in pairs])
        assert value is not None
        assert 0 <= value <= 1


@dataclass(frozen=True)
class Fit:
    intercept: float
    coefficient: float


DEFAULTS = {"red": 0.3, "yellow": 0.1, "green": 0.03}


class TestChurnProbabilities:
    @given(st.lists(st.tuples(st.none() | st.floats(0, 100), st.sampled_from(["red", "yellow", "green"])), max_size=30))
    def test_equal_the_scalar_formula(self, rows: list[tuple[float | None, str]]) -> None:
        scores = np.array([np.nan if s is None else s for s, _ in rows], dtype=float)
        bands = np.array([None if s is None else b for s, b in rows], dtype=object)
        for fit in (None, Fit(2.0, -0.07), Fit(-40.0, 0.9)):
            found = churn_probabilities(scores, bands, fit=fit, defaults=DEFAULTS)
            for (score, band), value in zip(rows, found, strict=True):
                expected = churn_probability(score, None if score is None else band, fit=fit, defaults=DEFAULTS)
                if expected is None:
                    assert np.isnan(value)
                else:
                    assert value == pytest.approx(expected, rel=1e-12, abs=1e-300)


class TestCombineScores:
    @given(
        st.lists(st.lists(st.none() | st.floats(0, 100), min_size=3, max_size=3), min_size=1, max_size=20),
        st.lists(st.floats(0.01, 100), min_size=3, max_size=3),
    )
    def test_equal_combine_row_by_row(self, rows: list[list[float | None]], weights: list[float]) -> None:
        parts = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
        found = combine_scores(parts, weights)
        for row, value in zip(rows, found, strict=True):
            expected = combine(list(zip(weights, row, strict=True))).score
            if expected is None:
                assert np.isnan(value)
            else:
                assert value == pytest.approx(expected, rel=1e-12, abs=1e-9)


class TestLift:
    def test_red_rate_over_green_rate(self) -> None:
        # red: 2 of 3 churned, green: 1 of 4 -> (2/3) / (1/4) = 8/3
        assert lift(Decimal(2) / 3, Decimal(1) / 4) == pytest.approx(Decimal(8) / 3)

    def test_null_when_no_green_pair_churned_or_a_rate_is_unknown(self) -> None:
        assert lift(Decimal("0.5"), Decimal(0)) is None
        assert lift(None, Decimal("0.1")) is None
        assert lift(Decimal("0.5"), None) is None
