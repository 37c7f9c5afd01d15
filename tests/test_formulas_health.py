"""Health arithmetic without a database: hand-computed examples and hypothesis properties (SPEC §6)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.formulas import band_of, combine, component_score


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
