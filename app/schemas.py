"""Shared input types: record ids and short labels."""

import re
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StringConstraints, model_validator

from app.types import RecordId

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
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

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


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


IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(json_schema_extra={"format": "date"})]


class QueryIn(BaseModel):
    """Base of every query-parameter model: unknown parameters are a 422; an empty one (`?region=`) is absent."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data
