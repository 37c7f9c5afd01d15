"""Scorecard and target shapes (SPEC §7)."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from app.errors import worded
from app.schemas import QueryIn, StrictIn
from app.types import Direction, Quadrant, ResponseFormat, TargetStatus

# Years 1910–9998: the card looks back up to two years (moving averages, previous month), and every date must
# stay within app.schemas.MIN_DATE..MAX_DATE.
MONTH_PATTERN = worded(
    r"^(19[1-9]\d|[2-8]\d\d\d|9[0-8]\d\d|99[0-8]\d|999[0-8])-(0[1-9]|1[0-2])$",
    "a month is YYYY-MM, e.g. 2026-10 (years 1910 to 9998)",
)
TARGET_PLACES = 6
MAX_TARGET = Decimal("1e15")


def figure_json(value: Decimal) -> int | float:
    """A figure as a JSON number: whole numbers (counts) as integers, the rest as decimals."""
    if value == value.to_integral_value() and value.as_tuple().exponent == 0:
        return int(value)
    return float(value)


# An exact scorecard figure (already rounded to its kind: cents, six places or a whole count) as a JSON number.
Figure = Annotated[
    Decimal, PlainSerializer(figure_json, return_type=Any, when_used="json"), WithJsonSchema({"type": "number"})
]


def _parse_target(value: Any) -> Decimal:
    """A JSON number or a decimal string; finite, below 10^15, at most six decimals (the ratio precision)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("a target is a number or a decimal string")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except ArithmeticError:
        raise ValueError("a target is a number or a decimal string such as 1.05") from None
    if not number.is_finite() or abs(number) >= MAX_TARGET:
        raise ValueError("a target must be a finite number below 10^15")
    if number != number.quantize(Decimal(1).scaleb(-TARGET_PLACES)):
        raise ValueError(f"a target has at most {TARGET_PLACES} decimals")
    return number.normalize() if number != number.to_integral_value() else number.quantize(Decimal(1))


TargetValue = Annotated[
    Decimal,
    BeforeValidator(_parse_target),
    PlainSerializer(figure_json, return_type=Any, when_used="json"),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]}, mode="validation"),
    WithJsonSchema({"type": "number"}, mode="serialization"),
]


class TargetIn(StrictIn):
    """The target of a scorecard metric and which way is good."""

    value: TargetValue = Field(description="The target, in the metric's own unit (a ratio such as 1.05, a count…).")
    direction: Direction = Field(description="`higher_is_better`: on track when value ≥ target; else value ≤ target.")


class TargetOut(BaseModel):
    """A stored target."""

    metric: str
    value: TargetValue
    direction: Direction
    created_at: datetime
    updated_at: datetime


class TargetList(BaseModel):
    """Every target (there is at most one per scorecard metric, so one page holds them all)."""

    items: list[TargetOut]
    next_cursor: None = None


class ScorecardQuery(BaseModel):
    """`?format=json|csv`; any other parameter is a 422."""

    model_config = ConfigDict(extra="forbid")

    format: ResponseFormat | None = Field(None, description="`csv`: one line per entry.")


class Entry(BaseModel):
    """One scorecard figure: this month, last month, the change, and how it stands against its target."""

    metric: str
    value: Figure | None
    previous: Figure | None
    change: Figure | None
    target: Figure | None
    status: TargetStatus | None


class Quadrants(BaseModel):
    """The four quadrants of the balanced scorecard, each a list of entries in a fixed order."""

    financial: list[Entry]
    customer: list[Entry]
    process: list[Entry]
    people: list[Entry]


class Restatement(BaseModel):
    """A frozen figure that data arriving after the close has changed."""

    quadrant: Quadrant
    metric: str
    frozen_value: Figure | None
    current_value: Figure | None


class ScorecardOut(BaseModel):
    """The monthly balanced scorecard; a closed month shows its frozen figures and what has been restated since."""

    month: str
    closed: bool
    closed_at: datetime | None
    quadrants: Quadrants
    restated: list[Restatement]


class TargetListQuery(QueryIn):
    """`?format=csv` (or `Accept: text/csv`); any other parameter is a 422."""

    format: ResponseFormat | None = None
