"""NPS, CSAT, CES, rates and support times: formulas against hand-computed examples (SPEC §6)."""

from decimal import Decimal

import pytest

from app.health import voc


class TestFormulas:
    def test_nps(self) -> None:
        assert voc.nps(promoters=3, detractors=2, responses=6) == Decimal(100 * (3 - 2)) / 6
        assert voc.nps(promoters=0, detractors=0, responses=0) is None

    def test_csat_and_ces(self) -> None:
        assert voc.csat(satisfied=2, responses=4) == Decimal("0.5")  # 2 / 4
        assert voc.ces(total=Decimal(12), responses=3) == 4  # 12 / 3
        assert voc.csat(satisfied=0, responses=0) is None

    def test_median_and_mean_hours(self) -> None:
        assert voc.median_hours([2, 4, 0.5]) == 2
        assert voc.mean_hours([2, 4, 0.5]) == pytest.approx((2 + 4 + 0.5) / 3)
        assert voc.median_hours([]) is None

    def test_rate_is_none_on_zero_denominator(self) -> None:
        assert voc.rate(1, 4) == Decimal("0.25")
        assert voc.rate(0, 0) is None
