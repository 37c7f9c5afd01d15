"""Shared input types: text, labels, free JSON, dates, and the base models of bodies and queries."""

import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, getcontext, localcontext
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import core_schema

from app.errors import pattern_words, worded
from app.types import RecordId

# PostgreSQL's text and jsonb cannot hold the NUL character (U+0000): a NUL reaching the database is a driver
# error, a 500. SQLite would store it. Every free-text input type carries this pattern, so both databases answer
# the same 422 naming the field, and the OpenAPI document says so.
NO_NUL = worded(r"^[^\x00]*$", "text must not contain the NUL character (U+0000)")

# Text that must say something: at least one character besides whitespace (and no NUL). Pydantic strips the
# whitespace around text first (Unicode White_Space), so " " or a lone U+00A0 would be empty: the document says so
# with the characters spelled out, since \s differs between regex engines.
_BLANK = r"\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = worded(
    rf"^[^\x00]*[^\x00{_BLANK}][^\x00]*$", "text must not be blank nor contain the NUL character (U+0000)"
)
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK)]
# --- Numbers in answers, rounded at the edge (docs/conventions.md "Money, ratios and scores") ----------------------
# Money is rounded to cents by app/money.py. Every other number an answer carries is one of these types, so its
# rounding is written once: ratios and plain numbers to six decimals, health scores and their changes to two. Each
# takes a Decimal or a float (the types below keep the field's own Python type) and is a JSON number on the wire
# (Pydantic would emit a Decimal as a string; ENGINEERING.md pitfall 3). `tests/test_rounding.py` walks the demo
# book's answers for any number with more decimals.
RATIO_PLACES = Decimal("0.000001")
SCORE_PLACES = Decimal("0.01")


def _rounded(value: Decimal | float, places: Decimal) -> float:
    # A float through its shortest repr, so 0.1 rounds as the 0.1 it prints, then half to even like the money.
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not exact.is_finite():
        return float(exact)
    # Enough precision for every digit the rounded value keeps: a raw usage value of 1e30 has 37 digits at six
    # decimals, more than the default context's 28, where quantize would raise InvalidOperation.
    needed = exact.adjusted() + 1 - int(places.as_tuple().exponent) + 2
    if needed <= getcontext().prec:  # nearly every value: the current context holds it (no local context to enter)
        return float(exact.quantize(places, rounding=ROUND_HALF_EVEN))
    with localcontext() as context:
        context.prec = needed
        return float(exact.quantize(places, rounding=ROUND_HALF_EVEN))


def ratio_json(value: Decimal | float) -> float:
    """A ratio or a plain number as a JSON number with at most six decimals (finer than any report shows)."""
    return _rounded(value, RATIO_PLACES)


def score_json(value: Decimal | float) -> float:
    """A health score, a component's points or a change of score (0..100 points) with at most two decimals."""
    return _rounded(value, SCORE_PLACES)


_AS_RATIO = PlainSerializer(ratio_json, return_type=float, when_used="json")
_AS_SCORE = PlainSerializer(score_json, return_type=float, when_used="json")
# An exact decimal in an answer (an hour count, an outcome's before and after, a share): six decimals at most.
Number = Annotated[Decimal, _AS_RATIO]
# A plain fraction (1.07 means 107 %); None when its denominator is zero (SPEC §2).
Ratio = Annotated[Decimal, _AS_RATIO]
# The same for a value computed as a float (a churn probability, a coverage, a component's raw value).
FloatRatio = Annotated[float, _AS_RATIO]
# Health points 0..100 and their changes (scores, contributions, health deltas and lifts): two decimals.
Score = Annotated[float, _AS_SCORE]
Points = Annotated[Decimal, _AS_SCORE]
# Keys of captured JSON whose numbers are health points (an intervention's context: its score, its weakest
# components' scores).
SCORE_KEYS = frozenset({"health_score", "score"})


def rounded_json(value: Any, key: str = "") -> Any:
    """Captured JSON with its floats rounded as the typed fields are: points under `SCORE_KEYS`, else six decimals."""
    if isinstance(value, dict):
        return {name: rounded_json(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [rounded_json(item, key) for item in value]
    if isinstance(value, float) and math.isfinite(value):
        return score_json(value) if key in SCORE_KEYS else ratio_json(value)
    return value


# A JSON object the service captured and answers (an intervention's context), rounded at the edge like the rest.
RoundedJson = Annotated[dict[str, Any], PlainSerializer(rounded_json, return_type=dict[str, Any], when_used="json")]
# Full-time equivalents, already rounded to two decimals (SPEC §13 staffing): a JSON number such as 1.21.
Fte = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=NO_NUL)]
# A reason or a note: 1 to 2000 characters.
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=NOT_BLANK)]
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


# storable_json's rule in the OpenAPI document, at every depth: a JSON value whose strings and keys hold no NUL.
# `app.main` adds it to the document's components. (A number with a fraction or exponent beyond a double, such as
# 1e999, reads as Infinity and is refused too; JSON Schema cannot tell it from a long integer, which is kept.)
PLAIN_JSON_SCHEMAS: dict[str, Any] = {
    "PlainJson": {
        "description": "Any JSON value that both databases store as sent: no NUL character (U+0000) in a string "
        "or a key at any depth, and no number such as 1e999 that reads as Infinity.",
        "anyOf": [
            {"type": "null"},
            {"type": "boolean"},
            {"type": "number"},
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": {"$ref": "#/components/schemas/PlainJson"}},
            {"$ref": "#/components/schemas/PlainJsonObject"},
        ],
    },
    "PlainJsonObject": {
        "description": "A JSON object of PlainJson values whose keys hold no NUL character.",
        "type": "object",
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": {"$ref": "#/components/schemas/PlainJson"},
    },
}

# A free JSON object from a CRM or a tracker (customer attributes, event properties), stored as sent.
JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(storable_json),
    # In `allOf`: Pydantic resolves a bare `$ref` beside a description against its own definitions, and fails.
    WithJsonSchema({"allOf": [{"$ref": "#/components/schemas/PlainJsonObject"}]}, mode="validation"),
]


def json_number(value: Any) -> Any:
    """A body's number as sent: refuse true, false and text, which Pydantic's lax mode would read as numbers."""
    # Pydantic's lax mode reads `true` as 1 and "60" as 60: a typo'd body would silently store a number the client
    # never sent. A body's number is a JSON number, as its schema says (docs/conventions.md).
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number, not true, false or text")
    return value


# A whole number or a real number in a body (a query's numbers arrive as text and use plain int). In an optional
# field, put the bounds before the validator (`Annotated[int, Field(ge=1), BeforeValidator(json_number)] | None`):
# after it, Pydantic cannot show them in the document.
JsonInt = Annotated[int, BeforeValidator(json_number)]
JsonFloat = Annotated[float, BeforeValidator(json_number), Field(allow_inf_nan=False)]


@dataclass(frozen=True)
class DecimalText:
    """An exact decimal input's text form: a string must match `pattern`, the one its OpenAPI schema shows.

    Pydantic reads a Decimal from any text Python's Decimal reads ("1e3", "+.5", " 2 "), and its schema says only
    `string`. With this annotation the document and the service accept the same strings: digits, an optional minus
    and point, spaces around, no exponent; `pattern` also bounds the digits, and `places` the decimals of both a
    string and a number (`multipleOf`). Put it after the Field constraints it joins.
    """

    pattern: str
    places: int | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Check text against the pattern before Pydantic reads the Decimal."""
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def _check(self, value: Any) -> Any:
        # \d as in JSON Schema (ASCII), not Python's Unicode digits.
        if isinstance(value, str) and not re.fullmatch(self.pattern, value, re.ASCII):
            raise ValueError(pattern_words(self.pattern) or "not a decimal string such as 12.5")
        return value

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        """Show the pattern on the string branch and the decimals on the number branch."""
        json_schema = handler(schema)
        for branch in json_schema.get("anyOf", []):
            if branch.get("type") == "string":
                branch["pattern"] = self.pattern
            elif branch.get("type") == "number" and self.places is not None:
                branch["multipleOf"] = float(Decimal(1).scaleb(-self.places))
        return json_schema


def _query_bool(value: Any) -> Any:
    # Pydantic's lax mode reads 1, "yes", "on" and "t" as true: a query flag is true or false, as JSON writes it.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("a flag is written true or false")


# A yes/no query parameter (`?at_risk=true`).
QueryBool = Annotated[bool, BeforeValidator(_query_bool)]


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


def omit_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra` for an optional field that may be omitted but not sent as null: drop the null branch."""
    branches = [branch for branch in schema.pop("anyOf", []) if branch != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    if schema.get("default", ...) is None:
        del schema["default"]


def single_valued_query(request: Request) -> None:
    """Refuse a query parameter given more than once: every one takes a single value, and which copy would count
    (Starlette keeps the last) is a guess the service should not make silently."""
    seen: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        seen.setdefault(name, []).append(value)
    repeated = [(name, values) for name, values in seen.items() if len(values) > 1]
    if repeated:
        raise RequestValidationError(
            [
                {"type": "value_error", "loc": ("query", name), "msg": "given more than once; send it once",
                 "input": values}
                for name, values in repeated
            ]
        )  # fmt: skip


class QueryIn(BaseModel):
    """Base of every query-parameter model: unknown parameters are a 422; an empty one (`?region=`) is absent."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data
