"""Customer and team-member bodies, read views and list queries."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.batch import BatchItems
from app.errors import worded
from app.money import MoneyTotal, NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import IsoDate, Label, RecordIn, StrictIn, Text
from app.types import Band, RecordId, Role, Stage, Tier

Email = Annotated[
    str,
    StringConstraints(
        max_length=320, pattern=worded(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an email address looks like name@example.com")
    ),
]


class CustomerIn(RecordIn):
    """A customer from the CRM. Omitted fields keep their stored value; send null to clear one."""

    name: Text | None = None
    segment: Label | None = None
    region: Label | None = None
    industry: Label | None = None
    tier: Tier | None = Field(None, description="Coverage model; tech_touch customers are the unmanaged ones.")
    csm: RecordId | None = Field(None, description="Team member id of the customer's CSM.")
    attributes: dict[str, Any] | None = Field(None, description="Free JSON from the CRM.")


class CustomerBatchItem(CustomerIn):
    """A customer in a batch: `id` is required."""

    id: RecordId


class CustomerBatchIn(StrictIn):
    """`POST /v1/customers/batch` body."""

    customers: BatchItems[CustomerBatchItem]


class CustomerHealth(BaseModel):
    """The customer's latest health snapshot."""

    score: float | None
    band: Band | None
    as_of: date = Field(description="Day of the snapshot.")


class CustomerOut(BaseModel):
    """A customer as stored, with its current ARR, latest health and lifecycle stage (SPEC §3)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str | None
    segment: str | None
    region: str | None
    industry: str | None
    tier: str | None
    csm: str | None
    attributes: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    arr: MoneyTotal = Field(description="Current ARR (today, UTC), all products.")
    health: CustomerHealth | None = Field(description="Latest health snapshot, or null when none was taken.")
    stage: Stage = Field(
        description="First that holds: churned, prospect, renew (open renewal due within 90 days), "
        "land (first ARR < 90 days ago), expand (upsell or cross-sell in the last 90 days), adopt."
    )


class CustomerListQuery(ListQuery):
    """Filters of `GET /v1/customers`."""

    segment: str | None = None
    region: str | None = None
    industry: str | None = None
    tier: Tier | None = None
    csm: str | None = None
    band: Band | None = Field(None, description="Health band of the latest snapshot.")


class TeamMemberIn(RecordIn):
    """A team member. `hourly_cost` is the loaded cost of one hour (salary, benefits, overhead)."""

    name: Text | None = None
    email: Email | None = None
    role: Role | None = None
    hourly_cost: NonNegativeMoney | None = None
    started_on: IsoDate | None = None
    ended_on: IsoDate | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> "TeamMemberIn":
        if self.started_on and self.ended_on and self.ended_on < self.started_on:
            raise ValueError("ended_on is before started_on")
        return self


class TeamMemberBatchItem(TeamMemberIn):
    """A team member in a batch: `id` is required."""

    id: RecordId


class TeamMemberBatchIn(StrictIn):
    """`POST /v1/team-members/batch` body."""

    team_members: BatchItems[TeamMemberBatchItem]


class TeamMemberOut(BaseModel):
    """A team member as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str | None
    email: str | None
    role: str | None
    hourly_cost: NonNegativeMoney | None
    started_on: date | None
    ended_on: date | None
    created_at: datetime
    updated_at: datetime


class TeamMemberListQuery(ListQuery):
    """Filters of `GET /v1/team-members`."""

    role: Role | None = None
    active_on: IsoDate | None = Field(None, description="Only members employed on this date.")
