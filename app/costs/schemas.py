"""Cost bodies, read view and list query; months travel as `YYYY-MM`."""

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator

from app.batch import BatchItems
from app.errors import worded
from app.money import NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import RecordIn, StrictIn, Text
from app.types import Category, Motion, RecordId, Team

# SPEC §3: sales and marketing acquire, account management expands, every other team retains.
DEFAULT_MOTION: dict[str, Motion] = {"sales": "acquire", "marketing": "acquire", "account_management": "expand"}

_MONTH_PATTERN = worded(r"^\d{4}-(0[1-9]|1[0-2])$", "a month is YYYY-MM, e.g. 2025-10")


def _parse_month(value: Any) -> date:
    """`YYYY-MM` (two-digit month, so `2025-1` is refused) to the month's first day."""
    if isinstance(value, date):
        return value.replace(day=1)
    if not isinstance(value, str) or not re.fullmatch(_MONTH_PATTERN, value):
        raise ValueError("month must be YYYY-MM, e.g. 2025-10")
    return date(int(value[:4]), int(value[5:]), 1)


def month_text(value: date) -> str:
    """A month's first day as `YYYY-MM`."""
    return value.strftime("%Y-%m")


Month = Annotated[
    date,
    BeforeValidator(_parse_month),
    PlainSerializer(month_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _MONTH_PATTERN, "examples": ["2025-10"]}),
]

# The read view's month: `YYYY-MM` in JSON and CSV alike (CSV dumps Python values).
MonthText = Annotated[str, BeforeValidator(lambda v: month_text(v) if isinstance(v, date) else v)]


class CostIn(RecordIn):
    """A cost of one month. Every PUT or batch item replaces the whole record."""

    month: Month
    amount: NonNegativeMoney
    team: Team
    motion: Motion | None = Field(
        None, description="Defaults by team: sales and marketing acquire, account_management expand, others retain."
    )
    category: Category
    customer: RecordId | None = Field(None, description="Customer id; an unknown one is created with only its id.")
    team_member: RecordId | None = Field(None, description="Team member id (not checked: may arrive later).")
    intervention: RecordId | None = Field(None, description="Intervention id the cost belongs to (not checked).")
    note: Text | None = None

    @model_validator(mode="after")
    def _default_motion(self) -> "CostIn":
        if self.motion is None:
            self.motion = DEFAULT_MOTION.get(self.team, "retain")
        return self


class CostBatchItem(CostIn):
    """A cost in a batch: `id` is required."""

    id: RecordId


class CostBatchIn(StrictIn):
    """`POST /v1/costs/batch` body."""

    costs: BatchItems[CostBatchItem]


class CostOut(BaseModel):
    """A cost as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    month: MonthText
    amount: NonNegativeMoney
    team: Team
    motion: Motion
    category: Category
    customer: str | None = Field(validation_alias="customer_id")
    team_member: str | None = Field(validation_alias="team_member_id")
    intervention: str | None = Field(validation_alias="intervention_id")
    note: str | None
    created_at: datetime
    updated_at: datetime


class CostListQuery(ListQuery):
    """Filters of `GET /v1/costs` (month bounds inclusive)."""

    month: Month | None = None
    month_from: Month | None = None
    month_to: Month | None = None
    team: Team | None = None
    motion: Motion | None = None
    customer: str | None = None

    @model_validator(mode="after")
    def _range_in_order(self) -> "CostListQuery":
        if self.month_from and self.month_to and self.month_to < self.month_from:
            raise ValueError("month_to is before month_from")
        return self
