"""Shared input types: text, labels, free JSON, dates, and the base models of bodies and queries."""

import math
import re
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from app.errors import worded
from app.types import RecordId

# PostgreSQL's text and jsonb cannot hold the NUL character (U+0000): a NUL reaching the database is a driver
# error, a 500. SQLite would store it. Every free-text input type carries this pattern, so both databases answer
# the same 422 naming the field, and the OpenAPI document says so.
NO_NUL = worded(r"^[^\x00]*$", "text must not contain the NUL character (U+0000)")

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)]
# An exact decimal that is a JSON number on the wire (Pydantic would emit a string; ENGINEERING.md pitfall 3).
Number = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
RATIO_PLACES = Decimal("0.000001")


def ratio_json(value: Decimal) -> float:
    """A ratio as a JSON number (six decimals is finer than any report shows)."""
    return float(value.quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN))


# A plain fraction (1.07 means 107 %); None when its denominator is zero (SPEC §2).
Ratio = Annotated[Decimal, PlainSerializer(ratio_json, return_type=float, when_used="json")]
# Full-time equivalents, already rounded to two decimals (SPEC §13 staffing): a JSON number such as 1.21.
Fte = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=NO_NUL)]
# A reason or a note: 1 to 2000 characters.
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=NO_NUL)]
# A free-text query filter (`?segment=`, `?product=`, `?customer=`…): any text the column could hold, so no NUL.
Filter = Annotated[str, StringConstraints(pattern=NO_NUL)]


def _plain_json(value: Any) -> str | None:
    """What stops `value` from being stored as JSON on both databases, or None when nothing does."""
    if isinstance(value, str):
        return "the NUL character (U+0000)" if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else "NaN or Infinity (a number as large as 1e999 reads as Infinity)"
    if isinstance(value, dict):
        found = (_plain_json(key) or _plain_json(item) for key, item in value.items())
        return next((problem for problem in found if problem), None)
    if isinstance(value, list):
        return next((problem for problem in map(_plain_json, value) if problem), None)
    return None


def storable_json(value: dict[str, Any]) -> dict[str, Any]:
    """Free JSON as both databases store it: no NaN or Infinity, no NUL character in a key or a string.

    PostgreSQL's jsonb refuses NaN, Infinity and U+0000 (a 500 before this check); SQLite's JSON silently turned
    NaN and Infinity into null. Either way the caller would not get back what it sent, so it is a 422.
    """
    problem = _plain_json(value)
    if problem:
        raise ValueError(f"must be plain JSON: no {problem}")
    return value


# A free JSON object from a CRM or a tracker (customer attributes, event properties), stored as sent.
JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)]


class StrictIn(BaseModel):
    """Base of every input body: unknown fields are a 422 (a typo should not be silently dropped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecordIn(StrictIn):
    """A record body for `PUT /{id}`: `id` may be repeated in the body but must equal the path."""

    id: RecordId | None = Field(None, description="Optional; when present it must equal the id in the path.")


MIN_DATE, MAX_DATE = date(1900, 1, 1), date(9998, 12, 31)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    # Pydantic's lax mode reads 0 or "0" as a Unix timestamp (1970-01-01): a CRM sending a number for a date
    # would silently get 1970. Only ISO YYYY-MM-DD text (or a date) is a date here.
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        value = date.fromisoformat(value.strip())  # ValueError for 2026-02-30: a 422, as it should be
    if not isinstance(value, date):
        raise ValueError("a date is written YYYY-MM-DD")
    # Periods, windows and look-backs step months and days around a date: keep clear of year 1 and 9999.
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"dates run from {MIN_DATE} to {MAX_DATE}")
    return value


# The bounds in the OpenAPI document: years 1900 to 9998 (9998-12-31 is the last day), ISO month and day digits.
DATE_PATTERN = worded(
    r"^(19\d\d|[2-8]\d{3}|9[0-8]\d\d|99[0-8]\d|999[0-8])-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
    f"a date is YYYY-MM-DD, from {MIN_DATE} to {MAX_DATE}",
)
IsoDate = Annotated[
    date, BeforeValidator(_iso_date), Field(json_schema_extra={"format": "date", "pattern": DATE_PATTERN})
]


class QueryIn(BaseModel):
    """Base of every query-parameter model: unknown parameters are a 422; an empty one (`?region=`) is absent."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data
