"""Exact money: `Decimal` in Python, integer cents in both databases, a JSON number on the wire.

SQLite stores NUMERIC as a float (ENGINEERING.md pitfall 8), so every money column is a BigInteger of
cents; sums in SQL stay exact on both databases and are turned back into Decimal at the edge.
"""

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema
from sqlalchemy import BigInteger, Dialect
from sqlalchemy.types import TypeDecorator

from app.errors import worded

CENT = Decimal("0.01")
# One amount is below a trillion: its cents (< 1e14) fit a signed 64-bit column, and SQL sums of ~90,000
# maximal amounts still do (2^63 ≈ 9.2e18). Real ARR figures are many orders of magnitude smaller.
MAX_MONEY = Decimal("1e12")
# A decimal string: optional minus, at most 12 digits before the point once leading zeros are dropped (so below
# 10^12), at most two after it besides trailing zeros (a spreadsheet's "100.000"); spaces around it are ignored.
# The OpenAPI document shows these patterns and the parser applies the signed one, so the document and the
# service accept the same strings (tests/test_money.py checks the other two against the parser).
_DIGITS = r"0*\d{1,12}(\.\d{1,2}0*)?"
_SIGNED_PATTERN = worded(
    rf"^ *-?{_DIGITS} *$", "an amount is a number or a decimal string below 1,000,000,000,000, at most two decimals"
)
_UNSIGNED_PATTERN = worded(rf"^ *{_DIGITS} *$", "an amount is 0 or more, below 1,000,000,000,000, at most two decimals")
# Above zero: a non-zero digit before the point, or a non-zero cent after it.
_POSITIVE_PATTERN = worded(
    r"^ *0*([1-9]\d{0,11}(\.\d{1,2}0*)?|0\.(0[1-9]|[1-9]\d?)0*) *$",
    "an amount is above 0, below 1,000,000,000,000, at most two decimals",
)


def _parse_money(value: Any, pattern: str = _SIGNED_PATTERN) -> Decimal:
    """Accept a JSON number or a decimal string with at most two decimals; never a float's noise. A string must
    match `pattern`, the one the variant's OpenAPI schema shows (so "-0.00" is no unsigned amount)."""
    if isinstance(value, bool) or value is None:
        raise ValueError("money must be a number or a decimal string")
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips: 0.1 stays "0.1", not 0.1000000000000000055
    elif isinstance(value, str) and not re.fullmatch(pattern, value, re.ASCII):  # \d as in JSON Schema
        raise ValueError("money is a decimal string such as 1234.50: digits, at most two decimals, no exponent")
    if isinstance(value, int | str | Decimal):
        try:
            amount = Decimal(str(value).strip())
        except ArithmeticError:
            raise ValueError("money must be a number or a decimal string such as 1234.50") from None
        if not amount.is_finite():
            raise ValueError("money must be finite")
        # Bound before quantize: Decimal("1e400").quantize() raises InvalidOperation.
        if abs(amount) >= MAX_MONEY:
            raise ValueError("money must be below 1,000,000,000,000")
        if amount != amount.quantize(CENT):
            raise ValueError("money has at most two decimals (cents)")
        return amount.quantize(CENT)
    raise ValueError("money must be a number or a decimal string")


def money_json(amount: Decimal) -> float:
    """Render an exact amount as a JSON number rounded to cents (SPEC §2)."""
    return float(amount.quantize(CENT))


def _money_schema(pattern: str, words: str, **bounds: float) -> dict[str, Any]:
    """The input schema of an amount: a JSON number in cents within `bounds`, or a decimal string."""
    number = {"type": "number", "multipleOf": 0.01, **bounds}
    return {"anyOf": [number, {"type": "string", "pattern": pattern}], "description": words}


_MAX = float(MAX_MONEY)
_SERIALIZED = WithJsonSchema({"type": "number"}, mode="serialization")
_AS_JSON = PlainSerializer(money_json, return_type=float, when_used="json")

Money = Annotated[
    Decimal,
    BeforeValidator(_parse_money),
    _AS_JSON,
    WithJsonSchema(
        _money_schema(
            _SIGNED_PATTERN,
            "An exact amount: a JSON number or a decimal string, at most two decimals, above -10^12 and below 10^12.",
            exclusiveMinimum=-_MAX,
            exclusiveMaximum=_MAX,
        ),
        mode="validation",
    ),
    _SERIALIZED,
]
# A money total in an answer. It renders like Money (a JSON number rounded to cents) but skips Money's input
# bound of one amount: a sum of many valid amounts may pass it, and a report must not fail on that.
MoneyTotal = Annotated[
    Decimal, PlainSerializer(money_json, return_type=float, when_used="json"), WithJsonSchema({"type": "number"})
]
# Field(ge=...) would vanish from the document under Money's own schema: each variant states its bound itself.
NonNegativeMoney = Annotated[
    Decimal,
    BeforeValidator(lambda value: _parse_money(value, _UNSIGNED_PATTERN)),
    Field(ge=0),
    _AS_JSON,
    WithJsonSchema(
        _money_schema(
            _UNSIGNED_PATTERN,
            "An exact amount of 0 or more: a JSON number or a decimal string, at most two decimals, below 10^12.",
            minimum=0,
            exclusiveMaximum=_MAX,
        ),
        mode="validation",
    ),
    _SERIALIZED,
]
PositiveMoney = Annotated[
    Decimal,
    BeforeValidator(lambda value: _parse_money(value, _POSITIVE_PATTERN)),
    Field(gt=0),
    _AS_JSON,
    WithJsonSchema(
        _money_schema(
            _POSITIVE_PATTERN,
            "An exact amount above 0: a JSON number or a decimal string, at most two decimals, below 10^12.",
            exclusiveMinimum=0,
            exclusiveMaximum=_MAX,
        ),
        mode="validation",
    ),
    _SERIALIZED,
]


def to_cents(amount: Decimal) -> int:
    """Decimal currency units to integer cents."""
    return int(amount.quantize(CENT) * 100)


def from_cents(cents: int | None) -> Decimal | None:
    """Integer cents (or a SQL SUM of them) back to Decimal units."""
    return None if cents is None else (Decimal(int(cents)) / 100).quantize(CENT)


def money_from_cents(cents: int | Decimal | None) -> Decimal:
    """SQL cents (a PostgreSQL SUM comes back as Decimal; an empty SUM as NULL) to exact units, 0.00 for none."""
    return from_cents(int(cents or 0)) or Decimal("0.00")


class Cents(TypeDecorator[Decimal]):
    """A money column: Decimal in Python, exact integer cents in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else to_cents(Decimal(value))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return from_cents(value)
