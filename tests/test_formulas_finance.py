"""The SPEC §13 finance formulas, without a database: TTM cost per $1K, FTE needs, whole-cent allocation."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app import formulas


class TestTtmCostPer1k:
    def test_one_slow_month_swings_the_mean_of_ratios_not_the_ratio_of_sums(self) -> None:
        # Eleven months of 10,000 CS cost against 100,000 renewed (100 per $1K each), and one slow month: the same
        # 10,000 of cost against 2,000 renewed, 10,000 / 2 = 5,000 per $1K.
        months = [(Decimal(10_000), Decimal(100_000))] * 11 + [(Decimal(10_000), Decimal(2_000))]
        ratios = [formulas.cost_per_1k(cost, booked) for cost, booked in months]
        assert ratios[-1] == Decimal(10_000) / (Decimal(2_000) / 1000) == 5_000
        # Mean of the monthly ratios: (11 × 100 + 5,000) / 12 = 6,100 / 12 = 508.33…, five times the usual 100.
        assert formulas.mean(ratios) == (11 * Decimal(100) + 5_000) / 12
        # Ratio of the sums: 120,000 / (1,102,000 / 1000) = 120,000 / 1,102 = 108.89…: the slow month barely shows.
        ttm_cost, ttm_booked = sum(c for c, _ in months), sum(b for _, b in months)
        assert (ttm_cost, ttm_booked) == (12 * 10_000, 11 * 100_000 + 2_000)
        ttm = formulas.ttm_cost_per_1k(ttm_cost, ttm_booked)
        assert ttm == Decimal(120_000) / Decimal(1_102)
        assert ttm is not None
        assert Decimal(108) < ttm < Decimal(109)

    def test_no_bookings_is_null(self) -> None:
        assert formulas.ttm_cost_per_1k(Decimal(5_000), Decimal(0)) is None


class TestFteNeed:
    def test_exact_need_rounded_to_two_decimals(self) -> None:
        assert formulas.fte_need(30, 25) == Decimal("1.20")  # 30 / 25
        assert formulas.fte_need(1, 3) == Decimal("0.33")  # 0.333…
        assert formulas.fte_need(2, 3) == Decimal("0.67")  # 0.666…
        assert formulas.fte_need(0, 500) == Decimal("0.00")

    def test_halves_round_to_even(self) -> None:
        # 1 / 8 = 0.125 and 3 / 8 = 0.375 are exact halves at the third place: half-even gives 0.12 and 0.38.
        assert (formulas.fte_need(1, 8), formulas.fte_need(3, 8)) == (Decimal("0.12"), Decimal("0.38"))


class TestCsmsNeeded:
    def test_four_part_time_needs_of_1_21_fte_are_two_csms(self) -> None:
        # 10 / 25 = 0.40, 50 / 100 = 0.50, 150 / 500 = 0.30, and 1 / 100 = 0.01 more: 1.21 FTE in total.
        # Per tier, ceilings would say 1 + 1 + 1 + 1 = 4 heads; the ceiling of the sum is 2.
        needs = [(10, 25), (50, 100), (150, 500), (1, 100)]
        assert sum(formulas.fte_need(c, r) for c, r in needs) == Decimal("0.40") + Decimal("0.50") + Decimal(
            "0.30"
        ) + Decimal("0.01")
        assert formulas.csms_needed(needs) == 2

    def test_ceiling_of_the_exact_sum_not_of_the_rounded_figures(self) -> None:
        # Three needs of 1/3 FTE: shown as 0.33 each (0.99 in total) but exactly 1 CSM, not 1 rounded up from 0.99
        # nor 2 from a float sum of 1.0000000000000002.
        assert formulas.csms_needed([(1, 3), (1, 3), (1, 3)]) == 1
        # 0.004 + 0.004 shows as 0.00 + 0.00, yet 0.008 FTE of work still needs a CSM.
        assert formulas.csms_needed([(2, 500), (2, 500)]) == 1
        assert formulas.csms_needed([(0, 25), (0, 100)]) == 0


class TestAllocateCents:
    def test_thirty_thousand_by_two_to_one(self) -> None:
        # 30,000.00 of acquire cost, segment A 2 new customers, B 1: A 30,000 × 2/3 = 20,000, B 10,000.
        assert formulas.allocate_cents(3_000_000, [2, 1]) == [2_000_000, 1_000_000]

    def test_odd_cents_go_to_the_largest_remainders(self) -> None:
        # 100.00 over three equal groups: 3,333 cents each is 9,999, one cent short; it goes to the first
        # (equal remainders: the earlier group). 3,334 + 3,333 + 3,333 = 10,000.
        assert formulas.allocate_cents(10_000, [1, 1, 1]) == [3_334, 3_333, 3_333]
        # 0.05 by 1 : 2 : 2 → 1, 2, 2 cents exactly. 0.04 by 1 : 2 : 4 → 4/7, 8/7, 16/7 = 0.57, 1.14, 2.29 cents:
        # floors 0, 1, 2 (3 cents); remainders .57, .14, .29, so the one cent left goes to the first group.
        assert formulas.allocate_cents(5, [1, 2, 2]) == [1, 2, 2]
        assert formulas.allocate_cents(4, [1, 2, 4]) == [1, 1, 2]
        # 0.10 by 1 : 1 : 1 : 3 → 10/6 = 1.67, 1.67, 1.67, 5 → floors 1, 1, 1, 5 (8); remainders 4/6, 4/6, 4/6, 0:
        # the two cents left go to the first two groups.
        assert formulas.allocate_cents(10, [1, 1, 1, 3]) == [2, 2, 1, 5]

    def test_a_zero_weight_gets_nothing(self) -> None:
        assert formulas.allocate_cents(1_001, [3, 0, 1]) == [751, 0, 250]  # 750.75 → 751, 250.25 → 250

    def test_all_zero_weights_allocate_nothing(self) -> None:
        assert formulas.allocate_cents(5_000, [0, 0]) == [0, 0]
        assert formulas.allocate_cents(5_000, []) == []


@given(
    cents=st.integers(min_value=0, max_value=10**14),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12),
)
def test_allocated_shares_add_up_exactly_to_the_unlinked_total(cents: int, weights: list[int]) -> None:
    shares = formulas.allocate_cents(cents, weights)
    total = sum(weights)
    if total == 0:
        assert shares == [0] * len(weights)  # nothing allocated: the caller shows it as unallocated
        return
    assert sum(shares) == cents
    for share, weight in zip(shares, weights, strict=True):
        # Each share is within one cent of its exact proportion, and a zero weight gets nothing.
        assert abs(share * total - cents * weight) < total
        assert weight or share == 0
