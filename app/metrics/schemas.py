"""Metric queries and the `{"rows", "meta"}` answer shape shared by every metric route (SPEC §2)."""

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, PlainSerializer, model_validator

from app.metrics.periods import Interval
from app.schemas import IsoDate, QueryIn

RATIO_PLACES = Decimal("0.000001")
MAX_RANGE_DAYS = 366 * 20

CustomerGroup = Literal["segment", "region", "industry", "tier", "csm"]


def ratio_json(value: Decimal) -> float:
    """A ratio as a JSON number (six decimals is finer than any report shows)."""
    return float(value.quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN))


# A plain fraction (1.07 means 107 %); None when its denominator is zero (SPEC §2).
Ratio = Annotated[Decimal, PlainSerializer(ratio_json, return_type=float, when_used="json")]
# Full-time equivalents, already rounded to two decimals (SPEC §13 staffing): a JSON number such as 1.21.
Fte = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class MetricQuery(QueryIn):
    """`start`, `end` (inclusive), `interval`, `group_by`, `format`; any other parameter is a 422."""

    start: IsoDate = Field(description="First day of the range (inclusive), YYYY-MM-DD.")
    end: IsoDate = Field(description="Last day of the range (inclusive), YYYY-MM-DD.")
    interval: Interval | None = Field(None, description="Split the range into calendar months, quarters or years.")
    group_by: CustomerGroup | None = Field(None, description="One row per group (the customer's current value).")
    format: Literal["json", "csv"] | None = Field(None, description="`csv` answers text/csv with the same rows.")

    @model_validator(mode="after")
    def _range_is_valid(self) -> "MetricQuery":
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.end - self.start).days > MAX_RANGE_DAYS:
            raise ValueError("the range is limited to 20 years")
        return self


class MetricRow(BaseModel):
    """The keys every metric row starts with."""

    period_start: date
    period_end: date
    group: str | None


R = TypeVar("R", bound=MetricRow)


class MetricAnswer(BaseModel, Generic[R]):
    """Rows in period then group order, and what produced them."""

    rows: list[R]
    meta: dict[str, Any]


def metric_meta(query: MetricQuery, **extra: Any) -> dict[str, Any]:
    """The `meta` block: the query as understood, plus metric-specific notes."""
    return {
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "interval": query.interval,
        "group_by": query.group_by,
        **extra,
    }
