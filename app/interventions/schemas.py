"""Intervention bodies and read views (SPEC §5)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.errors import worded
from app.money import Money, NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import IsoDate, Number, QueryIn, Ratio, StrictIn, Text
from app.types import Framework, InterventionStatus, RecordId, Situation

# The SPEC's types (onboarding_call, training, qbr, win_back, health_check, executive_alignment,
# adoption_campaign, expansion_review) or another word of your own.
_SNAKE = worded(
    r"^[a-z][a-z0-9_]*$",
    "this name is lowercase letters, digits and _ (no spaces), starting with a letter, e.g. health_check",
)
InterventionType = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=_SNAKE)]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_SNAKE)]
Hours = Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=2)]


class ExpectedIn(StrictIn):
    """What the intervention should change: `health_score`, `arr`, `renewal` or a usage kind (30-day sum)."""

    metric: MetricName
    change: Annotated[Number, Field(ge=-1_000_000_000, le=1_000_000_000, decimal_places=4)]
    unit: Literal["points", "percent", "absolute"]
    measure_after_days: int = Field(ge=1, le=730)

    @model_validator(mode="after")
    def _points_are_for_health(self) -> "ExpectedIn":
        if self.unit == "points" and self.metric != "health_score":
            raise ValueError("unit `points` is for metric health_score; use percent or absolute")
        return self


class InterventionIn(StrictIn):
    """A new intervention; `status` in_progress starts it at once (context captured on `started_on`)."""

    id: RecordId | None = Field(None, description="Your id; one is generated when omitted.")
    customer: RecordId
    type: InterventionType
    framework: Framework
    owner: RecordId | None = Field(None, description="Team member id; their hourly_cost prices `hours`.")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    status: Literal["planned", "in_progress"] = "planned"
    planned_on: IsoDate | None = None
    started_on: IsoDate | None = Field(None, description="With status in_progress; default today.")
    hours: Hours = Decimal(0)
    direct_cost: NonNegativeMoney = Decimal(0)
    expected: ExpectedIn
    at_risk: bool | None = Field(None, description="Set explicitly; otherwise derived from health and renewals.")
    attribution_days: int = Field(90, ge=1, le=730)
    override_holdout: bool = Field(
        False,
        description="Record it even though the customer is in the holdout of an experiment of this play (otherwise "
        "a 409); counted as contamination in the experiment's result.",
    )

    @model_validator(mode="after")
    def _start_date_only_when_started(self) -> "InterventionIn":
        if self.started_on is not None and self.status != "in_progress":
            raise ValueError("started_on goes with status in_progress (or POST …/start later)")
        return self


class InterventionPatch(StrictIn):
    """Editable fields; lifecycle moves go through start, complete and cancel."""

    type: InterventionType | None = None
    framework: Framework | None = None
    owner: RecordId | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] | None = None
    planned_on: IsoDate | None = None
    hours: Hours | None = None
    direct_cost: NonNegativeMoney | None = None
    expected: ExpectedIn | None = None
    attribution_days: int | None = Field(None, ge=1, le=730)


class TransitionIn(StrictIn):
    """`POST …/start|complete|cancel`: the date of that move (default today) and an optional note."""

    started_on: IsoDate | None = None
    completed_on: IsoDate | None = None
    cancelled_on: IsoDate | None = None
    note: Text | None = None


class OutcomeOverrideIn(StrictIn):
    """A manual outcome: a note, and optionally the figures and whether it was met."""

    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    met: bool | None = None
    before: Decimal | None = None
    after: Decimal | None = None


class ImpactOverrideIn(StrictIn):
    """A manual impact with its reason; the intervention then reports `attribution: manual`."""

    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    retained_arr: NonNegativeMoney = Decimal(0)
    expanded_arr: NonNegativeMoney = Decimal(0)


class OutcomeOut(BaseModel):
    """Expected vs actual: measured on `started_on + measure_after_days`."""

    measured_on: date | None
    before: Number | None
    after: Number | None
    change: Number | None
    met: bool | None
    source: Literal["measured", "manual"]
    note: str | None = None


class ImpactOut(BaseModel):
    """Revenue credited to the intervention (SPEC §5)."""

    retained_arr: Money
    expanded_arr: Money
    attributed_revenue: Money
    attribution: Literal["computed", "manual"]
    final: bool
    window_start: date | None
    window_end: date | None
    episode: list[str] = Field(default_factory=list, description="At-risk interventions sharing its retained ARR.")
    note: str | None = None


class InterventionOut(BaseModel):
    """An intervention with its computed context, outcome, impact, cost and ROI."""

    id: str
    customer: str
    type: str
    framework: str
    owner: str | None
    reason: str
    status: InterventionStatus
    planned_on: date | None
    started_on: date | None
    completed_on: date | None
    cancelled_on: date | None
    hours: Number
    direct_cost: Money
    expected: dict[str, Any]
    attribution_days: int
    at_risk: bool | None
    context: dict[str, Any] | None
    outcome: OutcomeOut | None
    impact: ImpactOut | None
    cost: Money
    roi: Annotated[Ratio, Field(description="(retained + expanded − cost) / cost")] | None
    created_at: datetime
    updated_at: datetime


class InterventionListQuery(ListQuery):
    """Filters of `GET /v1/interventions`."""

    customer: str | None = None
    status: InterventionStatus | None = None
    type: str | None = None
    framework: Framework | None = None
    owner: str | None = None
    started_from: IsoDate | None = None
    started_to: IsoDate | None = None


class Evidence(BaseModel):
    """What the company's own history says about one candidate."""

    interventions: int
    measured: int
    met: int
    outcome_rate: Number | None
    avg_health_lift: Number | None


class Candidate(BaseModel):
    """A framework and intervention type, with its rank score and evidence."""

    framework: str
    type: str
    score: Number
    source: Literal["history", "playbook"]
    evidence: Evidence


class RecommendationOut(BaseModel):
    """The customer's situation, why, and ranked candidates."""

    customer: str
    as_of: date
    situation: Situation
    reasons: list[str]
    recommendations: list[Candidate]


class RecommendationQuery(QueryIn):
    """`?as_of=` (default today); unknown parameters are refused."""

    as_of: date | None = None
