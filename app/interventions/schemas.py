"""Intervention bodies and read views (SPEC §5)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.batch import BatchItems
from app.errors import worded
from app.money import Money, NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import (
    DecimalText,
    Filter,
    IsoDate,
    JsonInt,
    LongText,
    Number,
    Points,
    QueryIn,
    Ratio,
    RecordIn,
    RoundedJson,
    StrictIn,
    Text,
    json_number,
    omit_null,
)
from app.types import Framework, InterventionStatus, RecordId, RoiMethod, Situation

# The SPEC's types (onboarding_call, training, qbr, win_back, health_check, executive_alignment,
# adoption_campaign, expansion_review) or another word of your own.
_SNAKE = worded(
    r"^[a-z][a-z0-9_]*$",
    "this name is lowercase letters, digits and _ (no spaces), starting with a letter, e.g. health_check",
)
InterventionType = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=_SNAKE)]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_SNAKE)]
_HOURS_TEXT = worded(
    r"^ *0*([0-9]{1,5}(\.[0-9]{1,2}0*)?|100000(\.0+)?) *$", "hours are 0 to 100000 with at most two decimals, e.g. 8.5"
)
Hours = Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=2), DecimalText(_HOURS_TEXT, places=2)]
# A metric's value as a person reads it off a report. Bounded: 1e400 is a valid decimal, but the answer's JSON
# number cannot hold it and would silently show null instead of what was sent.
_METRIC_TEXT = worded(
    r"^ *-?0*([0-9]{1,15}(\.[0-9]+)?|1000000000000000(\.0+)?) *$",
    "a metric value is a decimal string within ±10^15, such as 42.5 (no exponent)",
)
MetricValue = Annotated[Decimal, Field(ge=-(10**15), le=10**15), DecimalText(_METRIC_TEXT)]
_CHANGE_TEXT = worded(
    r"^ *-?0*([0-9]{1,9}(\.[0-9]{1,4}0*)?|1000000000(\.0+)?) *$",
    "a change is a decimal string within ±10^9, at most four decimals, such as -12.5 (no exponent)",
)
Change = Annotated[
    Number, Field(ge=-1_000_000_000, le=1_000_000_000, decimal_places=4), DecimalText(_CHANGE_TEXT, places=4)
]


# The expected metrics that are not usage kinds (SPEC §5); every other metric names a usage event kind.
SPECIAL_METRICS = frozenset({"arr", "health_score", "renewal"})
# How a usage metric's events become one value on a day (SPEC §10 "level-type outcomes").
OutcomeAggregate = Literal["sum", "count", "avg", "last"]


class ExpectedIn(StrictIn):
    """What the intervention should change: `health_score`, `arr`, `renewal` or a usage kind (its 30-day aggregate)."""

    metric: MetricName = Field(
        description="What is measured: health_score, arr, renewal, or a usage event kind (its `aggregate` over the 30 "
        "days ending each measured day), e.g. login."
    )
    change: Change = Field(
        description="The change that counts as met, in `unit` (negative for a decrease), up to four decimals."
    )
    unit: Literal["points", "percent", "absolute"] = Field(
        description="points (health_score only), percent of the before value (10 = +10 %), or absolute units."
    )
    measure_after_days: JsonInt = Field(ge=1, le=730, description="Days after started_on when the outcome is measured.")
    aggregate: OutcomeAggregate | None = Field(
        None,
        description="Usage kinds only: how the kind's events become the value of a day. sum of values or count of "
        "events in the 30 days ending that day, avg of those values (null without any), or last: the latest value "
        "up to that day, however old (a level such as seats holds until a new value is sent). Omitted: last for the "
        "kinds in CSROI_LEVEL_KINDS (default seats, active_users), sum for the others; the stored expectation then "
        "names the aggregate used.",
    )

    @model_validator(mode="after")
    def _points_are_for_health(self) -> "ExpectedIn":
        if self.unit == "points" and self.metric != "health_score":
            raise ValueError("unit `points` is for metric health_score; use percent or absolute")
        if self.aggregate is not None and self.metric in SPECIAL_METRICS:
            raise ValueError(f"aggregate is for usage kinds; {self.metric} has one value per day")
        return self


class InterventionFields(StrictIn):
    """What every intervention body states, new (POST) or as a record (PUT and batch)."""

    customer: RecordId = Field(description="Customer id; an unknown one is created with only its id.")
    type: InterventionType = Field(
        description="What is done: onboarding_call, training, qbr, win_back, health_check, executive_alignment, "
        "adoption_campaign, expansion_review, or your own lowercase_word."
    )
    framework: Framework = Field(description="The behavioural lever it relies on; ROI and recommendations group by it.")
    owner: RecordId | None = Field(None, description="Team member id; their hourly_cost prices `hours`.")
    reason: LongText = Field(description="Why it is done, 1 to 2000 characters.")
    planned_on: IsoDate | None = Field(None, description="Day it is planned for, or null.")
    hours: Hours = Field(
        Decimal(0), description="Hours spent, up to 2 decimals; priced at the owner's hourly cost into `cost`."
    )
    direct_cost: NonNegativeMoney = Field(
        Decimal(0), description="Out-of-pocket cost (travel, gifts…) in currency units (2 decimals); added to `cost`."
    )
    expected: ExpectedIn = Field(description="The expected outcome, measured measure_after_days after the start.")
    at_risk: StrictBool | None = Field(
        None, description="true or false to set it explicitly; otherwise derived from health and renewals."
    )
    attribution_days: JsonInt = Field(
        90,
        ge=1,
        le=730,
        description="Days after the start during which ARR kept or added is credited to it (default 90).",
    )
    override_holdout: StrictBool = Field(
        False,
        description="Record it even though the customer is in the holdout of an experiment of this play (otherwise "
        "a 409); counted as contamination in the experiment's result.",
    )


class InterventionIn(InterventionFields):
    """A new intervention; `status` in_progress starts it at once (context captured on `started_on`)."""

    id: RecordId | None = Field(None, description="Your id; one is generated when omitted.")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": "cus-0001",
                    "type": "health_check",
                    "framework": "loss_aversion",
                    "owner": "csm-1",
                    "reason": "Logins halved since January and the renewal is due in June.",
                    "status": "in_progress",
                    "started_on": "2026-03-02",
                    "hours": 6,
                    "direct_cost": 250,
                    "expected": {"metric": "health_score", "change": 10, "unit": "points", "measure_after_days": 60},
                },
                {
                    "customer": "cus-0002",
                    "type": "adoption_campaign",
                    "framework": "habit_formation",
                    "reason": "Only one feature in use after onboarding.",
                    "planned_on": "2026-04-01",
                    "expected": {"metric": "feature_used", "change": 25, "unit": "percent", "measure_after_days": 45},
                },
            ]
        }
    )

    status: Literal["planned", "in_progress"] = Field(
        "planned", description="planned (default), or in_progress to start it now (context captured at once)."
    )
    started_on: IsoDate | None = Field(None, description="With status in_progress; default today.")

    @model_validator(mode="after")
    def _start_date_only_when_started(self) -> "InterventionIn":
        if self.started_on is not None and self.status != "in_progress":
            raise ValueError("started_on goes with status in_progress (or POST …/start later)")
        return self


class InterventionRecordIn(RecordIn, InterventionFields):
    """`PUT /v1/interventions/{id}`: the whole intervention as your CRM has it (SPEC §11: interventions are records).

    A new id is created (an unknown customer becomes a stub); a known one is updated. The status may only move
    along the lifecycle (planned → in_progress → completed; planned or in_progress → cancelled), applying the same
    moves as the transition routes; any other change of status is a 409, and so is changing what is fixed once
    started (customer, started_on, attribution_days, at_risk).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": "cus-0001",
                    "type": "qbr",
                    "framework": "social_proof",
                    "reason": "Quarterly review with the sponsor.",
                    "status": "in_progress",
                    "started_on": "2026-03-02",
                    "hours": 4,
                    "expected": {"metric": "arr", "change": 10, "unit": "percent", "measure_after_days": 90},
                },
                {
                    "customer": "cus-0001",
                    "type": "expansion_review",
                    "framework": "commitment_escalation",
                    "reason": "Every seat in use for two months.",
                    "planned_on": "2026-04-15",
                    "expected": {
                        "metric": "seats",
                        "change": 10,
                        "unit": "absolute",
                        "measure_after_days": 90,
                        "aggregate": "last",
                    },
                },
            ]
        }
    )

    status: InterventionStatus = Field(
        "planned", description="planned (default), in_progress, completed or cancelled; moves only along the lifecycle."
    )
    started_on: IsoDate | None = Field(
        None, description="Day it started (in_progress or completed; default today when it starts now)."
    )
    completed_on: IsoDate | None = Field(None, description="Day it completed (status completed; default today).")
    cancelled_on: IsoDate | None = Field(None, description="Day it was cancelled (status cancelled; default today).")

    @model_validator(mode="after")
    def _dates_match_the_status(self) -> "InterventionRecordIn":
        if self.started_on is not None and self.status not in ("in_progress", "completed"):
            raise ValueError("started_on goes with status in_progress or completed")
        if self.completed_on is not None and self.status != "completed":
            raise ValueError("completed_on goes with status completed")
        if self.cancelled_on is not None and self.status != "cancelled":
            raise ValueError("cancelled_on goes with status cancelled")
        return self


class InterventionBatchItem(InterventionRecordIn):
    """An intervention in a batch: `id` is required."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "iv-crm-1",
                    "customer": "cus-0001",
                    "type": "qbr",
                    "framework": "social_proof",
                    "reason": "Quarterly review.",
                    "expected": {"metric": "arr", "change": 10, "unit": "percent", "measure_after_days": 90},
                }
            ]
        }
    )

    id: RecordId = Field(description="Your id for the intervention; a known id updates it.")


class InterventionBatchIn(StrictIn):
    """`POST /v1/interventions/batch` body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "interventions": [
                        {
                            "id": "iv-crm-1",
                            "customer": "cus-0001",
                            "type": "qbr",
                            "framework": "social_proof",
                            "reason": "Quarterly review.",
                            "expected": {"metric": "arr", "change": 10, "unit": "percent", "measure_after_days": 90},
                        }
                    ]
                }
            ]
        }
    )

    interventions: BatchItems[InterventionBatchItem] = Field(
        description="1 to 10,000 interventions (more is a 413), all or nothing; a repeated id updates the first."
    )


class InterventionPatch(StrictIn):
    """Editable fields; lifecycle moves go through start, complete and cancel."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"hours": 8.5, "direct_cost": 400, "planned_on": "2026-04-15"}]}
    )

    # Omitted is None here, but these fields cannot be cleared: the document shows no null for them
    # (`omit_null`) and an explicit null is a 422 naming the field. owner and planned_on may be cleared.
    type: InterventionType | None = Field(None, description="New type; omitted keeps it.", json_schema_extra=omit_null)
    framework: Framework | None = Field(
        None, description="New framework; omitted keeps it.", json_schema_extra=omit_null
    )
    owner: RecordId | None = Field(None, description="New owner (team member id); omitted keeps it, null clears it.")
    reason: LongText | None = Field(None, description="New reason; omitted keeps it.", json_schema_extra=omit_null)
    planned_on: IsoDate | None = Field(None, description="New planned day; omitted keeps it, null clears it.")
    hours: Hours | None = Field(
        None, description="Hours spent so far (replaces the stored value).", json_schema_extra=omit_null
    )
    direct_cost: NonNegativeMoney | None = Field(
        None, description="Direct cost in currency units (replaces the stored value).", json_schema_extra=omit_null
    )
    expected: ExpectedIn | None = Field(
        None, description="New expected outcome (the whole object).", json_schema_extra=omit_null
    )
    attribution_days: Annotated[int, Field(ge=1, le=730), BeforeValidator(json_number)] | None = Field(
        None, description="New attribution window in days.", json_schema_extra=omit_null
    )

    @field_validator("type", "framework", "reason", "hours", "direct_cost", "expected", "attribution_days")
    @classmethod
    def _not_cleared(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be cleared: omit the field to keep its value")
        return value


class TransitionIn(StrictIn):
    """`POST …/start|complete|cancel`: the date of that move (default today) and an optional note."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"note": "Kick-off call with the sponsor held."}]})

    started_on: IsoDate | None = Field(None, description="For start: the day it started (default today).")
    completed_on: IsoDate | None = Field(
        None, description="For complete: the day it completed (default today; not before started_on)."
    )
    cancelled_on: IsoDate | None = Field(None, description="For cancel: the day it was cancelled (default today).")
    note: Text | None = Field(None, description="Free text about the move, up to 500 characters.")


class OutcomeOverrideIn(StrictIn):
    """A manual outcome: a note, and optionally the figures and whether it was met."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"note": "Sponsor confirmed adoption in the QBR.", "met": True, "before": 42, "after": 55}]
        }
    )

    note: LongText = Field(description="Why the outcome is set by hand, 1 to 2000 characters.")
    met: StrictBool | None = Field(
        None, description="Whether the expected change was reached (true or false, not 0 or 1); null when unknown."
    )
    before: MetricValue | None = Field(
        None, description="The metric's value at the start, in its own unit, within ±10^15; null when unknown."
    )
    after: MetricValue | None = Field(
        None, description="The metric's value at measurement, in its own unit, within ±10^15; null when unknown."
    )


class ImpactOverrideIn(StrictIn):
    """A manual impact with its reason; the intervention then reports `attribution: manual`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"note": "Finance attributes the save to the exec call.", "retained_arr": 24000, "expanded_arr": 2400}
            ]
        }
    )

    note: LongText = Field(description="Why the impact is set by hand, 1 to 2000 characters.")
    retained_arr: NonNegativeMoney = Field(
        Decimal(0), description="ARR credited as kept, in currency units (2 decimals); default 0."
    )
    expanded_arr: NonNegativeMoney = Field(
        Decimal(0), description="ARR credited as added, in currency units (2 decimals); default 0."
    )


class OutcomeOut(BaseModel):
    """Expected vs actual: measured on `started_on + measure_after_days`."""

    measured_on: date | None = Field(description="Day measured (started_on + measure_after_days); null if not yet.")
    before: Number | None = Field(description="The metric's value at the start, in its own unit; null when unknown.")
    after: Number | None = Field(description="The metric's value on measured_on; null when unknown.")
    change: Number | None = Field(
        description="after − before in the expected unit (points, percent of before, or absolute); null when unknown."
    )
    met: bool | None = Field(description="Whether change reached the expected change; null when not measurable.")
    source: Literal["measured", "manual"] = Field(description="measured by csroi, or manual (set with PUT …/outcome).")
    note: str | None = Field(None, description="The manual override's note; null when measured.")


class ImpactOut(BaseModel):
    """Revenue credited to the intervention (SPEC §5)."""

    retained_arr: Money = Field(
        description="ARR kept (at-risk interventions only): min(ARR at the start, ARR on the window's last day), "
        "0 if the customer churned, split evenly across its episode and capped once a year; currency units."
    )
    expanded_arr: Money = Field(description="Upsell and cross-sell ARR booked inside the window, in currency units.")
    attributed_revenue: Money = Field(description="retained_arr + expanded_arr, in currency units.")
    attribution: Literal["computed", "manual"] = Field(description="computed by csroi, or manual (PUT …/impact).")
    final: bool = Field(description="True once the attribution window has ended; before that the figures may grow.")
    window_start: date | None = Field(
        description="First day of the attribution window (the start); null if not started."
    )
    window_end: date | None = Field(
        description="First day after the window: start + attribution_days; null if not started."
    )
    episode: list[str] = Field(default_factory=list, description="At-risk interventions sharing its retained ARR.")
    note: str | None = Field(None, description="The manual override's note; null when computed.")
    incremental_retained_arr: Money | None = Field(
        None,
        description="Churn revenue prevented against a counterfactual (SPEC §9): its share of a × (p − c), a the ARR "
        "at start, p the control churn rate, c 1 if the customer churned; negative when it churned; 0 when not at "
        "risk; capped once per rescue year; currency units. Null for a manual impact.",
    )
    incremental_expanded_arr: Money | None = Field(
        None,
        description="Credited expansion minus its share of a × e, e the controls' expansion per starting ARR; "
        "currency units. Null for a manual impact.",
    )
    incremental_revenue: Money | None = Field(
        None, description="incremental_retained_arr + incremental_expanded_arr, in currency units."
    )
    roi_incremental: Number | None = Field(
        None, description="(incremental_revenue − cost) / cost; null without a cost or for a manual impact."
    )
    method: RoiMethod | None = Field(
        None,
        description="Where the counterfactual came from: holdout (its experiment's holdout arm), matched (peers in "
        "the same band × tier with no intervention, pooled by start month), or model (churn probability at start).",
    )
    control_customers: int | None = Field(
        None, description="Distinct customers in the control pool it used (0 under model); null for a manual impact."
    )


class InterventionOut(BaseModel):
    """An intervention with its computed context, outcome, impact, cost and ROI."""

    id: str = Field(description="The intervention's id.")
    customer: str = Field(description="Customer id.")
    type: str = Field(description="Intervention type, e.g. health_check.")
    framework: str = Field(description="Behavioural framework, e.g. loss_aversion.")
    owner: str | None = Field(description="Owner's team member id, or null.")
    reason: str = Field(description="Why it is done.")
    status: InterventionStatus = Field(
        description="planned → in_progress → completed; planned or in_progress → cancelled."
    )
    planned_on: date | None = Field(description="Planned day, or null.")
    started_on: date | None = Field(description="Day it started, or null while planned.")
    completed_on: date | None = Field(description="Day it completed, or null.")
    cancelled_on: date | None = Field(description="Day it was cancelled, or null.")
    hours: Number = Field(description="Hours spent.")
    direct_cost: Money = Field(description="Out-of-pocket cost in currency units (2 decimals).")
    expected: dict[str, Any] = Field(
        description="The expected outcome: metric, change, unit, measure_after_days, and for a usage kind the "
        "aggregate it is measured by."
    )
    attribution_days: int = Field(description="Length of the attribution window in days.")
    override_holdout: bool = Field(
        False,
        description="True when it was recorded for a customer in an experiment's holdout on purpose "
        "(override_holdout on create): it contaminates that experiment and is counted in its result.",
    )
    at_risk: bool | None = Field(
        description="Whether it counts as a rescue (earns retained ARR): set explicitly, or red band, or yellow "
        "with a renewal due within 90 days at the start; null while planned without an explicit value."
    )
    context: RoundedJson | None = Field(
        description="Captured once at the start: health score, band, weakest_components, arr, next_renewal_due, "
        "days_to_renewal, situation, at_risk, at_risk_source; null while planned."
    )
    outcome: OutcomeOut | None = Field(description="Expected vs actual once measurable; null before.")
    impact: ImpactOut | None = Field(description="Revenue credited to it; null before the start unless set by hand.")
    cost: Money = Field(
        description="hours × the owner's hourly cost (else the default) + direct_cost + linked cost records, in "
        "currency units (2 decimals)."
    )
    roi: Annotated[Ratio, Field(description="(retained + expanded − cost) / cost")] | None = Field(
        description="ROI = (retained_arr + expanded_arr − cost) / cost as a plain fraction (3.0 = 300 %); null "
        "at zero cost or without an impact."
    )
    created_at: datetime = Field(description="When the record was first stored (UTC).")
    updated_at: datetime = Field(description="When the record was last written (UTC).")


class InterventionListQuery(ListQuery):
    """Filters of `GET /v1/interventions`."""

    customer: Filter | None = Field(None, description="Only this customer's interventions (customer id).")
    status: InterventionStatus | None = Field(
        None, description="Only interventions with this status.", examples=["in_progress"]
    )
    type: Filter | None = Field(None, description="Only interventions of this type.")
    framework: Framework | None = Field(None, description="Only interventions with this framework.")
    owner: Filter | None = Field(None, description="Only interventions owned by this team member (id).")
    started_from: IsoDate | None = Field(
        None, description="Only interventions started on or after this day.", examples=["2026-01-01"]
    )
    started_to: IsoDate | None = Field(None, description="Only interventions started on or before this day.")


class Evidence(BaseModel):
    """What the company's own history says about one candidate."""

    interventions: int = Field(description="Past interventions with this framework and type in the same situation.")
    measured: int = Field(description="Of those, the ones with a known outcome.")
    met: int = Field(description="Of those measured, the ones whose expected change was reached.")
    outcome_rate: Number | None = Field(
        description="met / measured as a fraction (0.6 = 60 %); null when none measured."
    )
    avg_health_lift: Points | None = Field(
        description="Mean health change against same-band peers without an intervention, in score "
        "points (two decimals); null without data."
    )


class Candidate(BaseModel):
    """A framework and intervention type, with its rank score and evidence."""

    framework: str = Field(description="The framework recommended.")
    type: str = Field(description="The intervention type recommended.")
    score: Number = Field(
        description="Rank score: the smoothed outcome rate (met + 0.5 × 5) / (measured + 5), 0..1; higher first."
    )
    source: Literal["history", "playbook"] = Field(
        description="history: this company ran it in the same situation before; playbook: from the situation's "
        "default playbook, with no history yet."
    )
    evidence: Evidence = Field(description="The counts behind the score.")


class RecommendationOut(BaseModel):
    """The customer's situation, why, and ranked candidates."""

    customer: str = Field(description="Customer id.")
    as_of: date = Field(description="The day judged.")
    situation: Situation = Field(description="at_risk, onboarding, low_adoption or expansion: the first that holds.")
    reasons: list[str] = Field(description="Why that situation, in words (band, renewal due, adoption…).")
    recommendations: list[Candidate] = Field(description="Candidates ranked best first.")


class RecommendationQuery(QueryIn):
    """`?as_of=` (default today); unknown parameters are refused."""

    as_of: IsoDate | None = Field(
        None, description="Day to judge the customer on; default today, UTC.", examples=["2026-03-31"]
    )
