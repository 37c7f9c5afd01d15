"""Scorecard and target shapes (SPEC §7)."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from app.errors import pattern_words, worded
from app.pagination import PageMeta
from app.schemas import QueryIn, StrictIn
from app.types import Direction, Quadrant, ResponseFormat, TargetStatus

# Years 1910–9998: the card looks back up to two years (moving averages, previous month), and every date must
# stay within app.schemas.MIN_DATE..MAX_DATE. [0-9], not \d: Pydantic's regex engine reads \d as any Unicode digit
# (so "٢٠٢٦-02" passed as 2026-02), JSON Schema as 0-9.
MONTH_PATTERN = worded(
    r"^(19[1-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(0[1-9]|1[0-2])$",
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


# The strings _parse_target reads, as the OpenAPI document shows them: below 10^15 in size, at most six decimals.
_TARGET_TEXT = worded(
    r"^ *-?0*[0-9]{1,15}(\.[0-9]{1,6}0*)? *$",
    "a target is a number or a decimal string below 10^15 in size, at most six decimals, such as 1.05",
)


def _parse_target(value: Any) -> Decimal:
    """A JSON number or a decimal string; finite, below 10^15, at most six decimals (the ratio precision)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("a target is a number or a decimal string")
    if isinstance(value, str) and not re.fullmatch(_TARGET_TEXT, value, re.ASCII):
        raise ValueError(f"{pattern_words(_TARGET_TEXT)} (no exponent)")
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
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "exclusiveMinimum": -float(MAX_TARGET),
                    "exclusiveMaximum": float(MAX_TARGET),
                    "multipleOf": float(Decimal(1).scaleb(-TARGET_PLACES)),
                },
                {"type": "string", "pattern": _TARGET_TEXT},
            ]
        },
        mode="validation",
    ),
    WithJsonSchema({"type": "number"}, mode="serialization"),
]


class TargetIn(StrictIn):
    """The target of a scorecard metric and which way is good."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"value": 1.05, "direction": "higher_is_better"},
                {"value": "0.02", "direction": "lower_is_better"},
            ]
        }
    )

    value: TargetValue = Field(description="The target, in the metric's own unit (a ratio such as 1.05, a count…).")
    direction: Direction = Field(description="`higher_is_better`: on track when value ≥ target; else value ≤ target.")


class TargetOut(BaseModel):
    """A stored target."""

    metric: str = Field(description="The scorecard metric it applies to, e.g. nrr.")
    value: TargetValue = Field(description="The target, in the metric's own unit (ratios as fractions: 1.05 = 105 %).")
    direction: Direction = Field(
        description="higher_is_better or lower_is_better: which side of the target is on track."
    )
    created_at: datetime = Field(description="When the target was first set (UTC).")
    updated_at: datetime = Field(description="When it was last changed (UTC).")


class TargetList(BaseModel):
    """Every target (there is at most one per scorecard metric, so one page holds them all)."""

    items: list[TargetOut] = Field(description="Every stored target.")
    next_cursor: None = Field(None, description="Always null: one page holds every target.")
    meta: PageMeta = Field(description="What holds for every item: the currency of the money targets.")


class ScorecardQuery(BaseModel):
    """`?format=json|csv`; any other parameter is a 422."""

    model_config = ConfigDict(extra="forbid")

    format: ResponseFormat | None = Field(None, description="`csv`: one line per entry.")


class Entry(BaseModel):
    """One scorecard figure: this month, last month, the change, and how it stands against its target."""

    metric: str = Field(description="Metric name, e.g. nrr, cost_per_1k, csm_gap.")
    value: Figure | None = Field(
        description="This month's figure: money in currency units (2 decimals), ratios as fractions (six "
        "decimals), counts whole; null when undefined."
    )
    previous: Figure | None = Field(description="Last month's figure, same unit; null when undefined.")
    change: Figure | None = Field(description="value − previous, same unit; null when either is null.")
    target: Figure | None = Field(description="The stored target, or null when none is set.")
    status: TargetStatus | None = Field(
        description="on_track or off_track against the target in its direction; null without a target or a value."
    )


class Quadrants(BaseModel):
    """The four quadrants of the balanced scorecard, each a list of entries in a fixed order."""

    financial: list[Entry] = Field(
        description="NRR, GRR (month and trailing twelve months), renewal rates, ARR growth, churned and "
        "expansion ARR, CS cost, cost per 1K renewed, ROI, CLV."
    )
    customer: list[Entry] = Field(
        description="NPS, CSAT, CES, logo churn rate, customers and ARR per health band, revenue at risk."
    )
    process: list[Entry] = Field(
        description="Interventions started and completed, outcome rate, health lift, support response and "
        "resolution times."
    )
    people: list[Entry] = Field(description="CSMs, onboarding reps, coverage ratios, FTE and CSMs needed, the gap.")


class Restatement(BaseModel):
    """A frozen figure that data arriving after the close has changed."""

    quadrant: Quadrant = Field(description="The quadrant of the entry.")
    metric: str = Field(description="The entry's metric name.")
    frozen_value: Figure | None = Field(description="The figure as frozen when the month was closed.")
    current_value: Figure | None = Field(description="The same figure computed from today's data.")


class ScorecardMeta(BaseModel):
    """What holds for every figure of the card."""

    currency: str = Field(
        description="ISO 4217 code of the money figures (churned and expansion ARR, CS cost, CLV, ARR per band…: "
        "setting CSROI_CURRENCY), e.g. USD; cost per 1K renewed is in this currency per 1,000 of it."
    )


class ScorecardOut(BaseModel):
    """The monthly balanced scorecard; a closed month shows its frozen figures and what has been restated since."""

    month: str = Field(description="The calendar month, YYYY-MM.")
    closed: bool = Field(description="True when the month was closed: its figures are frozen.")
    closed_at: datetime | None = Field(description="When it was closed (UTC); null while open.")
    quadrants: Quadrants = Field(description="The entries, by balanced-scorecard quadrant.")
    restated: list[Restatement] = Field(
        description="For a closed month, frozen figures that later data has changed; empty otherwise."
    )
    meta: ScorecardMeta = Field(description="What holds for every figure: the currency of the money figures.")


class TargetListQuery(QueryIn):
    """`?format=csv` (or `Accept: text/csv`); any other parameter is a 422."""

    format: ResponseFormat | None = Field(
        None,
        description="`csv` answers text/csv, one line per target (or send `Accept: text/csv`); default JSON.",
        examples=["json"],
    )
