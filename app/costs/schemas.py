"""Cost bodies, read view and list query; months travel as `YYYY-MM`."""

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator

from app.batch import BatchItems
from app.errors import pattern_words, worded
from app.money import NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import Filter, RecordIn, StrictIn, Text
from app.types import Category, Motion, RecordId, Team

# SPEC §3: sales and marketing acquire, account management expands, every other team retains.
DEFAULT_MOTION: dict[str, Motion] = {"sales": "acquire", "marketing": "acquire", "account_management": "expand"}

# The months of app.schemas' dates (1900-01 to 9998-12). [0-9], not \d: Python's and Pydantic's \d match any
# Unicode digit ("٢٠٢٥-10" was read as 2025-10), and year 0000 matched and then failed as a date.
_MONTH_PATTERN = worded(
    r"^(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(0[1-9]|1[0-2])$",
    "a month is YYYY-MM from 1900-01 to 9998-12, e.g. 2025-10",
)


def _parse_month(value: Any) -> date:
    """`YYYY-MM` (two-digit month, so `2025-1` is refused) to the month's first day."""
    if isinstance(value, date):
        return value.replace(day=1)
    if not isinstance(value, str) or not re.fullmatch(_MONTH_PATTERN, value):
        raise ValueError(pattern_words(_MONTH_PATTERN))
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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"month": "2026-01", "amount": 42000, "team": "customer_success", "category": "salary"},
                {
                    "month": "2026-01",
                    "amount": "350.00",
                    "team": "customer_success",
                    "category": "travel",
                    "customer": "cus-0001",
                    "intervention": "int-0001",
                    "note": "On-site QBR",
                },
            ]
        }
    )

    month: Month = Field(description="The calendar month the cost belongs to, YYYY-MM.")
    amount: NonNegativeMoney = Field(description="The month's cost in currency units (2 decimals).")
    team: Team = Field(
        description="Team that spent it; the CS teams (CSROI_CS_TEAMS) make up CS cost in cost of renewals and ROI."
    )
    motion: Motion | None = Field(
        None, description="Defaults by team: sales and marketing acquire, account_management expand, others retain."
    )
    category: Category = Field(description="salary, tools, services, travel or other.")
    customer: RecordId | None = Field(None, description="Customer id; an unknown one is created with only its id.")
    team_member: RecordId | None = Field(None, description="Team member id (not checked: may arrive later).")
    intervention: RecordId | None = Field(None, description="Intervention id the cost belongs to (not checked).")
    note: Text | None = Field(None, description="Free text, up to 500 characters.")

    @model_validator(mode="after")
    def _default_motion(self) -> "CostIn":
        if self.motion is None:
            self.motion = DEFAULT_MOTION.get(self.team, "retain")
        return self


class CostBatchItem(CostIn):
    """A cost in a batch: `id` is required."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "cost-2026-01-cs",
                    "month": "2026-01",
                    "amount": 42000,
                    "team": "customer_success",
                    "category": "salary",
                }
            ]
        }
    )

    id: RecordId = Field(description="Your id for the cost record; a known id replaces that record.")


class CostBatchIn(StrictIn):
    """`POST /v1/costs/batch` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "costs": [
                        {
                            "id": "cost-2026-01-cs",
                            "month": "2026-01",
                            "amount": 42000,
                            "team": "customer_success",
                            "category": "salary",
                        },
                        {
                            "id": "cost-2026-01-sales",
                            "month": "2026-01",
                            "amount": 65000,
                            "team": "sales",
                            "category": "salary",
                        },
                    ]
                }
            ]
        }
    )

    costs: BatchItems[CostBatchItem] = Field(
        description="1 to 10,000 costs (CSROI_MAX_BATCH_ITEMS; more is a 413), all or nothing; the "
        "last item with an id wins."
    )


class CostOut(BaseModel):
    """A cost as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The cost record's id.")
    month: MonthText = Field(description="The calendar month, YYYY-MM.")
    amount: NonNegativeMoney = Field(description="The month's cost in currency units (2 decimals).")
    team: Team = Field(description="Team that spent it.")
    motion: Motion = Field(description="acquire, expand or retain: which unit-economics cost (CAC, CEC, CRC) it feeds.")
    category: Category = Field(description="salary, tools, services, travel or other.")
    customer: str | None = Field(validation_alias="customer_id", description="Customer it is linked to, or null.")
    team_member: str | None = Field(validation_alias="team_member_id", description="Team member id, or null.")
    intervention: str | None = Field(validation_alias="intervention_id", description="Intervention id, or null.")
    note: str | None = Field(description="Free text, or null.")
    created_at: datetime = Field(description="When the record was first stored (UTC).")
    updated_at: datetime = Field(description="When the record was last written (UTC).")


class CostListQuery(ListQuery):
    """Filters of `GET /v1/costs` (month bounds inclusive)."""

    month: Month | None = Field(None, description="Only costs of this month, YYYY-MM.")
    month_from: Month | None = Field(
        None, description="Only costs of this month or later, YYYY-MM.", examples=["2026-01"]
    )
    month_to: Month | None = Field(
        None, description="Only costs of this month or earlier, YYYY-MM.", examples=["2026-06"]
    )
    team: Team | None = Field(None, description="Only costs of this team.")
    motion: Motion | None = Field(None, description="Only costs of this motion.")
    customer: Filter | None = Field(None, description="Only costs linked to this customer (customer id).")

    @model_validator(mode="after")
    def _range_in_order(self) -> "CostListQuery":
        if self.month_from and self.month_to and self.month_to < self.month_from:
            raise ValueError("month_to is before month_from")
        return self
