"""Exact money: parsing, cents round trips, JSON output."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from app.money import Money, from_cents, to_cents


class Thing(BaseModel):
    amount: Money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12000, Decimal("12000.00")),
        ("12000.5", Decimal("12000.50")),
        (0.1, Decimal("0.10")),
        (19.99, Decimal("19.99")),
        ("-3.25", Decimal("-3.25")),
        (" 7 ", Decimal("7.00")),
    ],
)
def test_accepts_numbers_and_decimal_strings(raw: object, expected: Decimal) -> None:
    assert Thing(amount=raw).amount == expected


@pytest.mark.parametrize("raw", ["", "abc", "1.005", 1.005, "NaN", "Infinity", "1e400", True, None, [1], "1e12"])
def test_refuses_what_is_not_an_exact_amount(raw: object) -> None:
    with pytest.raises(ValidationError):
        Thing(amount=raw)


def test_json_output_is_a_number_rounded_to_cents() -> None:
    assert Thing(amount="1234.50").model_dump_json() == '{"amount":1234.5}'


@given(st.integers(min_value=-(10**14) + 1, max_value=10**14 - 1))
def test_cents_round_trip_exactly(cents: int) -> None:
    amount = from_cents(cents)
    assert amount is not None
    assert to_cents(amount) == cents
    assert Thing(amount=str(amount)).amount == amount


def test_sum_of_float_unfriendly_amounts_stays_exact() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in floats; in cents it is 10 + 20 = 30.
    assert from_cents(to_cents(Thing(amount=0.1).amount) + to_cents(Thing(amount=0.2).amount)) == Decimal("0.30")
