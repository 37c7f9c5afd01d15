"""ARR of a subscription item (SPEC §11, Stripe in): worked examples and the identities of the normalisation."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.formulas import PERIODS_PER_YEAR, subscription_arr

INTERVALS = list(PERIODS_PER_YEAR)


class TestSubscriptionArr:
    def test_monthly(self) -> None:
        assert subscription_arr(Decimal("49.00"), 1, interval="month", interval_count=1) == Decimal("49.00") * 12

    def test_yearly(self) -> None:
        assert subscription_arr(Decimal("1200.00"), 1, interval="year", interval_count=1) == Decimal("1200.00")

    def test_weekly(self) -> None:
        assert subscription_arr(Decimal("15.00"), 1, interval="week", interval_count=1) == Decimal("780.00")  # 15 × 52

    def test_daily(self) -> None:
        assert subscription_arr(Decimal("2.00"), 1, interval="day", interval_count=1) == Decimal("730.00")  # 2 × 365

    def test_every_three_months_is_four_periods(self) -> None:
        # $300 a quarter: 12 / 3 = 4 bills a year.
        assert subscription_arr(Decimal("300.00"), 1, interval="month", interval_count=3) == Decimal("1200.00")

    def test_quantity_multiplies(self) -> None:
        # 5 seats at $49 a month: 49 × 5 × 12 = 2,940.
        assert subscription_arr(Decimal("49.00"), 5, interval="month", interval_count=1) == Decimal("2940.00")

    def test_zero_quantity_is_zero(self) -> None:
        assert subscription_arr(Decimal("49.00"), 0, interval="month", interval_count=1) == Decimal("0.00")

    def test_every_seven_days_rounds_once_half_to_even(self) -> None:
        # $10 every 7 days: 10 × 365 / 7 = 521.428571… → 521.43.
        assert subscription_arr(Decimal("10.00"), 1, interval="day", interval_count=7) == Decimal("521.43")

    def test_sub_cent_unit_prices_count_before_rounding(self) -> None:
        # 1,000 API calls at $0.00125 a month: 0.00125 × 1000 × 12 = 15.00 (rounding each unit would give 0).
        assert subscription_arr(Decimal("0.00125"), 1000, interval="month", interval_count=1) == Decimal("15.00")

    def test_half_a_cent_rounds_to_even(self) -> None:
        # $0.125 × 1 × 1 year = 0.125 → 0.12 (half to even); $0.135 → 0.14.
        assert subscription_arr(Decimal("0.125"), 1, interval="year", interval_count=1) == Decimal("0.12")
        assert subscription_arr(Decimal("0.135"), 1, interval="year", interval_count=1) == Decimal("0.14")

    def test_an_unknown_interval_is_refused(self) -> None:
        with pytest.raises(KeyError):
            subscription_arr(Decimal(1), 1, interval="fortnight", interval_count=1)


cents = st.integers(0, 10**8).map(lambda c: Decimal(c) / 100)


class TestIdentities:
    @given(amount=cents, quantity=st.integers(0, 1000), interval=st.sampled_from(INTERVALS), k=st.integers(1, 36))
    def test_k_times_the_price_every_k_periods_is_the_same_arr(
        self, amount: Decimal, quantity: int, interval: str, k: int
    ) -> None:
        assert subscription_arr(amount * k, quantity, interval=interval, interval_count=k) == subscription_arr(
            amount, quantity, interval=interval, interval_count=1
        )

    @given(amount=cents, quantity=st.integers(0, 1000))
    def test_twelve_months_is_one_year_at_twelve_times_the_price(self, amount: Decimal, quantity: int) -> None:
        monthly = subscription_arr(amount, quantity, interval="month", interval_count=1)
        assert monthly == subscription_arr(amount * 12, quantity, interval="year", interval_count=1)
        assert monthly == subscription_arr(amount * 12, quantity, interval="month", interval_count=12)

    @given(amount=cents, a=st.integers(0, 1000), b=st.integers(0, 1000), interval=st.sampled_from(INTERVALS))
    def test_arr_adds_up_over_seats(self, amount: Decimal, a: int, b: int, interval: str) -> None:
        """Whole-cent prices billed every period give whole cents: seats add up exactly."""
        parts = subscription_arr(amount, a, interval=interval, interval_count=1) + subscription_arr(
            amount, b, interval=interval, interval_count=1
        )
        assert parts == subscription_arr(amount, a + b, interval=interval, interval_count=1)

    @given(amount=cents, quantity=st.integers(0, 1000), interval=st.sampled_from(INTERVALS), k=st.integers(1, 36))
    def test_within_half_a_cent_of_the_exact_figure(
        self, amount: Decimal, quantity: int, interval: str, k: int
    ) -> None:
        exact = amount * quantity * PERIODS_PER_YEAR[interval] / Decimal(k)
        arr = subscription_arr(amount, quantity, interval=interval, interval_count=k)
        assert abs(arr - exact) <= Decimal("0.005")
        assert arr == arr.quantize(Decimal("0.01"))
