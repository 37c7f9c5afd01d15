"""Metric queries and the `{"rows", "meta"}` answer shape shared by every metric route (SPEC §2)."""

from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, model_validator

from app.metrics.periods import Interval
from app.schemas import IsoDate, QueryIn

MAX_RANGE_DAYS = 366 * 20

CustomerGroup = Literal["segment", "region", "industry", "tier", "csm"]


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
