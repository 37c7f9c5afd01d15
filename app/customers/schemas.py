"""Customer and team-member bodies, read views and list queries."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.batch import BatchItems
from app.errors import worded
from app.money import MoneyTotal, NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import Filter, FloatRatio, IsoDate, JsonObject, Label, QueryBool, RecordIn, Score, StrictIn, Text
from app.types import Band, RecordId, Role, Stage, Tier

Email = Annotated[
    str,
    StringConstraints(
        max_length=320,
        # No @, space or control character in a part, spelled out: \s means other characters to Pydantic's regex
        # engine (U+0085, U+00A0) than to JSON Schema's, so the document and the service disagreed on them.
        pattern=worded(
            r"^[^@\x00-\x20\x7f-\xa0]+@[^@\x00-\x20\x7f-\xa0]+\.[^@\x00-\x20\x7f-\xa0]+$",
            "an email address looks like name@example.com",
        ),
    ),
]


class CustomerIn(RecordIn):
    """A customer from the CRM. Omitted fields keep their stored value; send null to clear one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme Corp",
                    "segment": "mid_market",
                    "region": "emea",
                    "industry": "software",
                    "tier": "high_touch",
                    "csm": "csm-1",
                    "attributes": {"crm_owner": "dana@example.com"},
                }
            ]
        }
    )

    name: Text | None = Field(None, description="Display name, up to 500 characters.")
    segment: Label | None = Field(
        None, description="Your segment label (e.g. smb, mid_market, enterprise); metrics can group by it."
    )
    region: Label | None = Field(None, description="Your region label (e.g. emea); metrics can group by it.")
    industry: Label | None = Field(None, description="Your industry label (e.g. software); metrics can group by it.")
    tier: Tier | None = Field(
        None,
        description="Coverage model: high_touch, low_touch or tech_touch (the unmanaged ones); sets how many "
        "customers one CSM covers in staffing. Null: staffed as the default tier.",
    )
    csm: RecordId | None = Field(None, description="Team member id of the customer's CSM; metrics can group by it.")
    attributes: JsonObject | None = Field(
        None,
        description="Free JSON from the CRM, stored and returned as sent; no NaN or Infinity (1e999 reads as "
        "Infinity) and no NUL character, which the databases cannot store as sent.",
    )


class CustomerBatchItem(CustomerIn):
    """A customer in a batch: `id` is required."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "cus-0001", "name": "Acme Corp", "segment": "mid_market", "tier": "high_touch"}]
        }
    )

    id: RecordId = Field(description="Your CRM's customer id; a known id updates that customer.")


class CustomerBatchIn(StrictIn):
    """`POST /v1/customers/batch` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customers": [
                        {"id": "cus-0001", "name": "Acme Corp", "segment": "mid_market", "tier": "high_touch"},
                        {"id": "cus-0002", "name": "Globex", "segment": "smb", "region": "amer", "tier": "tech_touch"},
                    ]
                }
            ]
        }
    )

    customers: BatchItems[CustomerBatchItem] = Field(
        description="1 to 10,000 customers (CSROI_MAX_BATCH_ITEMS; more is a 413), all or nothing; "
        "the last item with an id wins."
    )


class CustomerHealth(BaseModel):
    """The customer's latest health snapshot."""

    score: Score | None = Field(description="Health score 0..100, two decimals; null when no component had data.")
    band: Band | None = Field(description="red, yellow or green by the model's thresholds; null without a score.")
    as_of: date = Field(description="Day of the snapshot.")


class CustomerOut(BaseModel):
    """A customer as stored, with its current ARR, latest health and lifecycle stage (SPEC §3)."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="Your CRM's customer id.")
    name: str | None = Field(description="Display name; null for a stub created from another record.")
    segment: str | None = Field(description="Segment label, or null.")
    region: str | None = Field(description="Region label, or null.")
    industry: str | None = Field(description="Industry label, or null.")
    tier: str | None = Field(description="high_touch, low_touch or tech_touch; null when not set.")
    csm: str | None = Field(description="Team member id of the CSM, or null.")
    attributes: dict[str, Any] | None = Field(description="Free JSON from the CRM, as sent; null when none.")
    created_at: datetime = Field(description="When the record was first stored (UTC).")
    updated_at: datetime = Field(description="When the record was last written (UTC).")
    arr: MoneyTotal = Field(description="Current ARR (today, UTC), all products, in currency units with 2 decimals.")
    health: CustomerHealth | None = Field(description="Latest health snapshot, or null when none was taken.")
    stage: Stage = Field(
        description="First that holds: churned, prospect, renew (open renewal due within 90 days, or already past "
        "due), land (first ARR < 90 days ago), expand (upsell or cross-sell in the last 90 days), adopt."
    )
    at_risk: bool = Field(
        description="SPEC §5's rule on the latest snapshot: band red, or yellow with an open renewal due within the "
        "next 90 days (today included). False without a snapshot."
    )
    next_renewal_due: date | None = Field(
        description="Due date of the customer's earliest open renewal, which may be past due (not closed yet); "
        "null without an open renewal."
    )
    churn_probability: FloatRatio | None = Field(
        description="Probability of churning within 90 days at the latest snapshot's score: the latest fitted churn "
        "model, else the band's default (CSROI_CHURN_DEFAULTS); six decimals; null without a scored snapshot."
    )
    revenue_at_risk: MoneyTotal | None = Field(
        description="arr × churn_probability (the unrounded probability), in currency units rounded to cents; null "
        "when churn_probability is null."
    )
    open_interventions: int = Field(description="The customer's interventions that are planned or in progress.")


# `sort` values: a field of the read view, ascending; with a leading `-`, descending.
WorklistSort = Literal[
    "arr",
    "-arr",
    "health",
    "-health",
    "churn_probability",
    "-churn_probability",
    "revenue_at_risk",
    "-revenue_at_risk",
    "next_renewal_due",
    "-next_renewal_due",
]
# The longest window `renewal_due_within_days` takes: ten years.
MAX_DUE_WITHIN_DAYS = 3650


class CustomerListQuery(ListQuery):
    """Filters and sort of `GET /v1/customers`: every condition given must hold (they run in SQL, so every page
    is full)."""

    segment: Filter | None = Field(None, description="Only customers with this segment.", examples=["mid_market"])
    region: Filter | None = Field(None, description="Only customers with this region.")
    industry: Filter | None = Field(None, description="Only customers with this industry.")
    tier: Tier | None = Field(None, description="Only customers with this coverage tier.")
    csm: Filter | None = Field(None, description="Only customers of this CSM (team member id).", examples=["csm-1"])
    band: Band | None = Field(None, description="Health band of the latest snapshot.")
    stage: Stage | None = Field(None, description="Only customers in this lifecycle stage today.", examples=["renew"])
    at_risk: QueryBool | None = Field(
        None,
        description="true: only customers at risk by SPEC §5's rule on their latest snapshot (red, or yellow with an "
        "open renewal due within 90 days); false: only the others.",
        examples=[True],
    )
    renewal_due_within_days: int | None = Field(
        None,
        ge=0,
        le=MAX_DUE_WITHIN_DAYS,
        description="Only customers with an open renewal due within this many days from today (0: today), open "
        "renewals already past due included; 0 to 3650.",
        examples=[90],
    )
    min_arr: NonNegativeMoney | None = Field(
        None,
        description="Only customers whose current ARR is at least this amount, in currency units.",
        examples=[10000],
    )
    has_open_intervention: QueryBool | None = Field(
        None,
        description="true: only customers with a planned or in-progress intervention; false: only those without.",
        examples=[False],
    )
    sort: WorklistSort | None = Field(
        None,
        description="Order of the list: arr, health (the latest score), churn_probability, revenue_at_risk or "
        "next_renewal_due, ascending; with a leading - descending (-revenue_at_risk: the largest first). Customers "
        "without the value (null) come last either way; ties in id order. Default: id order. A cursor belongs to the "
        "sort it was issued for.",
        examples=["-revenue_at_risk"],
    )


class TeamMemberIn(RecordIn):
    """A team member. `hourly_cost` is the loaded cost of one hour (salary, benefits, overhead)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Dana Lee",
                    "email": "dana@example.com",
                    "role": "csm",
                    "hourly_cost": 85.5,
                    "started_on": "2025-01-06",
                }
            ]
        }
    )

    name: Text | None = Field(None, description="Full name.")
    email: Email | None = Field(None, description="Work email address.")
    role: Role | None = Field(
        None, description="Role on the team; `csm` and `onboarding` members are counted by the staffing metric."
    )
    hourly_cost: NonNegativeMoney | None = Field(
        None,
        description="Loaded cost of one hour in currency units (2 decimals); prices intervention hours. "
        "Null: the CSROI_DEFAULT_HOURLY_COST setting applies.",
    )
    started_on: IsoDate | None = Field(None, description="First day employed; null means employed since always.")
    ended_on: IsoDate | None = Field(
        None, description="Last day employed (not before started_on); null while employed."
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> "TeamMemberIn":
        if self.started_on and self.ended_on and self.ended_on < self.started_on:
            raise ValueError("ended_on is before started_on")
        return self


class TeamMemberBatchItem(TeamMemberIn):
    """A team member in a batch: `id` is required."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "csm-1", "name": "Dana Lee", "role": "csm", "hourly_cost": 85.5}]}
    )

    id: RecordId = Field(description="Your id for the team member; a known id updates that member.")


class TeamMemberBatchIn(StrictIn):
    """`POST /v1/team-members/batch` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "team_members": [
                        {"id": "csm-1", "name": "Dana Lee", "role": "csm", "hourly_cost": 85.5},
                        {"id": "onboarding-1", "name": "Sam Roe", "role": "onboarding", "started_on": "2025-03-01"},
                    ]
                }
            ]
        }
    )

    team_members: BatchItems[TeamMemberBatchItem] = Field(
        description="1 to 10,000 team members (CSROI_MAX_BATCH_ITEMS; more is a 413), all or "
        "nothing; the last item with an id wins."
    )


class TeamMemberOut(BaseModel):
    """A team member as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The team member's id.")
    name: str | None = Field(description="Full name, or null.")
    email: str | None = Field(description="Work email, or null.")
    role: str | None = Field(
        description="csm, onboarding, renewals, support, account_manager, manager or other; or null."
    )
    hourly_cost: NonNegativeMoney | None = Field(
        description="Loaded hourly cost in currency units (2 decimals); null: the default hourly cost applies."
    )
    started_on: date | None = Field(description="First day employed, or null (employed since always).")
    ended_on: date | None = Field(description="Last day employed, or null (still employed).")
    created_at: datetime = Field(description="When the record was first stored (UTC).")
    updated_at: datetime = Field(description="When the record was last written (UTC).")


class TeamMemberListQuery(ListQuery):
    """Filters of `GET /v1/team-members`."""

    role: Role | None = Field(None, description="Only members with this role.", examples=["csm"])
    active_on: IsoDate | None = Field(None, description="Only members employed on this date.")


class ErasureOut(BaseModel):
    """What `DELETE /v1/customers/{id}` removed (SPEC §11)."""

    customer: str = Field(description="The erased customer's id (the audit log keeps only its SHA-256).")
    revenue_events: int = Field(description="Revenue events deleted.")
    ledger_changes: int = Field(description="Derived ARR changes deleted (the ledger rebuilt without the customer).")
    ledger_months: int = Field(description="Derived monthly ARR rows deleted.")
    usage_events: int = Field(description="Usage events deleted.")
    usage_days: int = Field(
        description="Daily usage rollup rows deleted (raw events' rollup and daily aggregates, every facet)."
    )
    renewals: int = Field(description="Renewals deleted.")
    interventions: int = Field(description="Interventions deleted.")
    health_snapshots: int = Field(description="Health snapshots deleted.")
    experiment_assignments: int = Field(description="Experiment assignments deleted.")
    costs_unlinked: int = Field(
        description="Cost records kept (their amount still counts) but no longer linked to the customer or to its "
        "interventions."
    )
