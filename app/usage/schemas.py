"""Usage event batch bodies and results."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, NotRequired

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from app.batch import BatchItems, EventCounts
from app.errors import pattern_words, worded
from app.schemas import NO_NUL, IsoDate, JsonObject, StrictIn, json_number, omit_null
from app.types import RecordId, UsageKind

_MAX_VALUE = Decimal("9e12")  # millionths of it still fit a signed 64-bit integer
# The strings parse_value reads, as the OpenAPI document shows them: below 9 × 10^12 in size (12 digits, or 13
# starting with 1 to 8, once leading zeros are dropped), at most six decimals besides trailing zeros.
_VALUE_PATTERN = worded(
    r"^ *-?0*([0-9]{1,12}|[1-8][0-9]{12})(\.[0-9]{1,6}0*)? *$",
    "a value is a number or a decimal string below 9,000,000,000,000 in size, at most six decimals",
)
_UNIX_TIME = re.compile(r"^\s*[+-]?[0-9]+(\.[0-9]*)?\s*$")


def parse_value(value: Any) -> Decimal:
    """A JSON number or a decimal string with at most six decimals, exact (a float through its repr)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("value must be a number or a decimal string")
    if isinstance(value, str) and not re.fullmatch(_VALUE_PATTERN, value, re.ASCII):
        raise ValueError(f"{pattern_words(_VALUE_PATTERN)}, such as 12.5 (no exponent)")
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except ArithmeticError:
        raise ValueError("value must be a number or a decimal string such as 12.5") from None
    if not amount.is_finite() or abs(amount) >= _MAX_VALUE:
        raise ValueError("value must be finite and below 9,000,000,000,000 in size")
    if amount != amount.quantize(Decimal("0.000001")):
        raise ValueError("value has at most six decimals")
    return amount


EventValue = Annotated[
    Decimal,
    BeforeValidator(parse_value),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "exclusiveMinimum": -float(_MAX_VALUE),
                    "exclusiveMaximum": float(_MAX_VALUE),
                    "multipleOf": 0.000001,
                },
                {"type": "string", "pattern": _VALUE_PATTERN},
            ],
            "default": 1,
        },
        mode="validation",
    ),
]


def iso_timestamp(value: Any) -> Any:
    # Pydantic's lax mode reads 0 or "1700000000" as a Unix timestamp: a tracker sending a number would silently
    # get 1970 or a guess at its unit. Only ISO 8601 text (or a datetime) is a timestamp here, as the schema says.
    if not isinstance(value, str | datetime) or (isinstance(value, str) and _UNIX_TIME.match(value)):
        raise ValueError("a timestamp is ISO 8601 text with an offset, e.g. 2026-03-01T12:00:00Z")
    return value


IsoTimestamp = Annotated[AwareDatetime, BeforeValidator(iso_timestamp)]


# SPEC §10: a survey answer's scale by `properties.survey`, whole numbers from low to high (the scales the VoC
# metric reads: NPS 0-10, CSAT 1-5, CES 1-7). Other surveys are not checked: their scales are the sender's own.
SURVEY_KIND = "survey_response"
SURVEY_SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def survey_problem(kind: Any, properties: Any, value: Decimal) -> str | None:
    """Why `value` is no answer to the survey a survey_response event names (None when it is, or nothing to check)."""
    if kind != SURVEY_KIND or not isinstance(properties, dict):
        return None
    survey = properties.get("survey")
    scale = SURVEY_SCALES.get(survey) if isinstance(survey, str) else None
    if scale is None:
        return None
    low, high = scale
    if value != value.to_integral_value() or not low <= value <= high:
        return f"{survey} answers are whole numbers from {low} to {high}, not {value.normalize():f}"
    return None


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the stored and hashed form of `properties`."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class UsageEventIn(StrictIn):
    """A usage event: what happened to which customer, when, with an optional value and properties."""

    id: RecordId = Field(description="The client's id; re-posting it with the same content is a duplicate.")
    customer: RecordId = Field(description="Customer id; unknown customers are created with only their id.")
    kind: UsageKind = Field(description="login, feature_used, active_users, seats, survey_response, … or any word.")
    occurred_at: IsoTimestamp = Field(description="When it happened, ISO 8601 with an offset.")
    # `properties` before `value`: the value's check below reads which survey it answers.
    properties: JsonObject = Field(
        default_factory=dict,
        description="Free JSON, e.g. {'feature': 'export'}; no NaN or Infinity and no NUL character. A "
        "survey_response names its survey in `survey`: nps, csat and ces answers are range-checked (see `value`).",
    )
    value: EventValue = Field(
        Decimal(1),
        description="A number (default 1), at most six decimals. A survey_response's score: for properties.survey "
        "nps a whole number 0 to 10, csat 1 to 5, ces 1 to 7 (anything else is a 422 naming the item).",
    )

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("occurred_at is out of range in UTC") from None

    @field_validator("value")
    @classmethod
    def _survey_scale(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        problem = survey_problem(info.data.get("kind"), info.data.get("properties"), value)
        if problem:
            raise ValueError(problem)
        return value


class UsageEventBatchIn(StrictIn):
    """`POST /v1/events` body: up to 10,000 events, all or nothing."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "id": "evt-9001",
                            "customer": "cus-0001",
                            "kind": "login",
                            "occurred_at": "2026-03-02T09:15:00Z",
                        },
                        {
                            "id": "evt-9002",
                            "customer": "cus-0001",
                            "kind": "survey_response",
                            "occurred_at": "2026-03-02T10:00:00+01:00",
                            "value": 9,
                            "properties": {"survey": "nps"},
                        },
                    ]
                }
            ]
        }
    )

    events: BatchItems[UsageEventIn] = Field(
        description="1 to 10,000 events (CSROI_MAX_BATCH_ITEMS; more is a 413), all or nothing."
    )


class FastEvent(TypedDict):
    """The ingest fast path's view of one event: the same string and time constraints as `UsageEventIn`.

    Validated in pydantic-core without building models; `value` and `properties` get the model's checks in
    `app.usage.service.parse_events`. Whatever this adapter or those checks refuse goes through the model
    (`UsageEventBatchIn`), so error answers stay exactly the model's.
    """

    __pydantic_config__ = ConfigDict(extra="forbid", str_strip_whitespace=True)  # type: ignore[misc]

    id: RecordId
    customer: RecordId
    kind: UsageKind
    occurred_at: AwareDatetime  # lax: `app.usage.service.parse_events` sends non-ISO times through the model
    value: NotRequired[Any]
    properties: NotRequired[dict[str, Any]]


# Module level: building the validator costs far more than one batch (ENGINEERING.md, ~710k events/s).
FAST_EVENTS: TypeAdapter[list[FastEvent]] = TypeAdapter(list[FastEvent])


class EventBatchResult(EventCounts):
    """What an event batch did: new events stored, re-posted ones recognised as duplicates, expired ones left out."""

    expired: int = Field(
        description="Events older than the retention horizon (CSROI_EVENTS_RETENTION_DAYS before now): not stored "
        "and not compared with stored ones. Always 0 when no retention is set.",
    )


# --- Daily aggregates (SPEC §14): what a warehouse sync sends instead of raw events -------------------------------

MAX_DAILY_COUNT = 10**12  # events of one customer and kind in one day: far above any product, inside a bigint
MAX_DISTINCT_VALUES = 1_000
DistinctValue = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)]
DailyCount = Annotated[int, Field(ge=0, le=MAX_DAILY_COUNT), BeforeValidator(json_number)]


def _no_null(value: Any) -> Any:
    if value is None:
        raise ValueError("omit the field instead of sending null")
    return value


class UsageDailyIn(StrictIn):
    """One customer's usage of one kind on one UTC day, aggregated by the sender (a warehouse sync)."""

    customer: RecordId = Field(description="Customer id; unknown customers are created with only their id.")
    kind: UsageKind = Field(description="The usage kind, as raw events would name it: login, seats, ….")
    day: IsoDate = Field(description="The UTC day, YYYY-MM-DD; re-sending a day replaces it.")
    count: DailyCount | None = Field(
        None,
        description="Events that day (0 to 10^12); omitted: 1 (a day with activity). What `count` and `avg` "
        "components read. A day with count 0 carries no sum, last or distinct_values.",
        json_schema_extra=omit_null,
    )
    sum: EventValue | None = Field(
        None,
        description="Σ of the day's values, as `value` bounds an event's; omitted: `count` (each event worth 1, as a "
        "raw event's default value). What `sum` and `avg` (sum / count) read.",
        json_schema_extra=omit_null,
    )
    last: EventValue | None = Field(
        None,
        description="The day's closing value of a level (seats held, active users): what `last` components and the "
        "per-seat divisor read. Omitted: the day carries no level and `last` reads an earlier day's.",
        json_schema_extra=omit_null,
    )
    distinct_values: list[DistinctValue] | None = Field(
        None,
        max_length=MAX_DISTINCT_VALUES,
        description="The distinct values seen that day (up to 1,000 strings of 1 to 255 characters), e.g. the "
        "features used: what `distinct` components count across their window (any `property`).",
        json_schema_extra=omit_null,
    )

    _present = field_validator("count", "sum", "last", "distinct_values", mode="before")(_no_null)

    @model_validator(mode="after")
    def _consistent(self) -> "UsageDailyIn":
        if self.count == 0 and (self.sum not in (None, 0) or self.last is not None or self.distinct_values):
            raise ValueError("a day with count 0 has no sum, last or distinct_values")
        return self


class UsageDailyBatchIn(StrictIn):
    """`POST /v1/usage/daily` body: up to 10,000 daily rows, all or nothing, one per (customer, kind, day)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rows": [
                        {"customer": "cus-0042", "kind": "login", "day": "2026-03-02", "count": 42},
                        {"customer": "cus-0042", "kind": "seats", "day": "2026-03-02", "last": 25},
                        {
                            "customer": "cus-0042",
                            "kind": "feature_used",
                            "day": "2026-03-02",
                            "count": 17,
                            "distinct_values": ["export", "reports"],
                        },
                    ]
                }
            ]
        }
    )

    rows: BatchItems[UsageDailyIn] = Field(
        description="1 to 10,000 rows (CSROI_MAX_BATCH_ITEMS; more is a 413), all or nothing; a (customer, kind, "
        "day) at most once."
    )

    @model_validator(mode="after")
    def _one_per_day(self) -> "UsageDailyBatchIn":
        seen: dict[tuple[str, str, Any], int] = {}
        for n, row in enumerate(self.rows):
            key = (row.customer, row.kind, row.day)
            if key in seen:
                raise PydanticCustomError(
                    "duplicate_day",
                    "rows {first} and {second} are both {customer}, {kind} on {day}: send each day once",
                    {"first": seen[key], "second": n, "customer": row.customer, "kind": row.kind,
                     "day": row.day.isoformat()},
                )  # fmt: skip
            seen[key] = n
        return self


class DailyBatchResult(BaseModel):
    """What a daily batch did, by (customer, kind, day)."""

    created: int = Field(description="Days that were new: rows inserted.")
    updated: int = Field(description="Days that existed with other numbers: replaced by this batch's.")
    unchanged: int = Field(description="Days re-sent exactly as stored: left as they were (a safe retry).")
