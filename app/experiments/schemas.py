"""Experiment bodies, read views, the do-not-contact list and the intention-to-treat result (SPEC §9)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.errors import worded
from app.money import MoneyTotal, NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import IsoDate, Label, Number, QueryIn, Ratio, RecordIn, StrictIn
from app.types import Arm, Band, ExperimentStatus, Framework, Stage, StratumKey, Tier

# The same words as an intervention's type: the play is matched against interventions by type and framework.
_SNAKE = worded(
    r"^[a-z][a-z0-9_]*$",
    "this name is lowercase letters, digits and _ (no spaces), starting with a letter, e.g. health_check",
)
PlayType = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=_SNAKE)]
DEFAULT_STRATA: list[StratumKey] = ["band", "tier"]


class PlayIn(StrictIn):
    """The play under test: interventions of this type and framework are the treatment."""

    type: PlayType
    framework: Framework


class EligibilityIn(StrictIn):
    """Who may enroll, on the day of an `assign` call; every condition given must hold (none: every paying customer).

    `band` and `at_risk` read the customer's latest health snapshot on or before that day (at risk: red, or
    yellow with an open renewal due within 90 days, SPEC §5); `stage` is the SPEC §3 lifecycle stage on that day;
    `min_arr` is in currency units.
    """

    band: Band | None = None
    segment: Label | None = None
    tier: Tier | None = None
    stage: Stage | None = None
    at_risk: bool | None = None
    min_arr: NonNegativeMoney | None = None


class ExperimentIn(RecordIn):
    """`PUT /v1/experiments/{id}`: the whole experiment. Once customers are enrolled its design (play, holdout share,
    strata, window, start) is fixed; name, hypothesis, eligibility and `ends_on` may still change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Loss-aversion save play",
                    "hypothesis": "A loss-framed call cuts churn among at-risk customers",
                    "play": {"type": "win_back", "framework": "loss_aversion"},
                    "eligibility": {"at_risk": True},
                    "holdout_share": 0.2,
                    "stratify_by": ["band", "tier"],
                    "starts_on": "2026-01-01",
                    "ends_on": "2026-06-30",
                    "window_days": 90,
                }
            ]
        }
    )

    name: Label
    hypothesis: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    play: PlayIn
    eligibility: EligibilityIn = Field(default_factory=EligibilityIn)
    holdout_share: Annotated[Number, Field(ge=Decimal("0.05"), le=Decimal("0.5"), decimal_places=6)] = Decimal("0.2")
    stratify_by: list[StratumKey] = Field(
        default=DEFAULT_STRATA, max_length=5, description="Each stratum of newly enrolled customers is drawn apart."
    )
    starts_on: IsoDate
    ends_on: IsoDate
    window_days: int = Field(90, ge=1, le=730, description="Each customer's window, from its enrollment day.")

    @field_validator("stratify_by")
    @classmethod
    def _no_repeats(cls, value: list[StratumKey]) -> list[StratumKey]:
        if len(set(value)) != len(value):
            raise ValueError("stratify_by names each attribute at most once")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> "ExperimentIn":
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class PlayOut(BaseModel):
    """The play under test."""

    type: str
    framework: str


class ArmCounts(BaseModel):
    """How many customers each arm holds."""

    treatment: int = 0
    holdout: int = 0


class ExperimentOut(BaseModel):
    """An experiment as stored, with how many customers each arm holds."""

    id: str
    name: str
    hypothesis: str | None
    play: PlayOut
    eligibility: dict[str, Any]
    holdout_share: Ratio
    stratify_by: list[str]
    starts_on: date
    ends_on: date
    window_days: int
    stopped_on: date | None
    enrolled: ArmCounts
    created_at: datetime
    updated_at: datetime


class ExperimentListQuery(ListQuery):
    """`GET /v1/experiments`: experiments in id order."""

    framework: Framework | None = None


class AssignQuery(QueryIn):
    """`?as_of=`: the enrollment day (default today)."""

    as_of: IsoDate | None = None


class StopQuery(QueryIn):
    """`?on=`: the day the experiment stops (default today); interventions starting on or after it are free."""

    on: IsoDate | None = None


class StratumResult(BaseModel):
    """One stratum of one `assign` call: its new customers and the ⌊share × n + ½⌋ held out."""

    stratum: str
    customers: int
    holdout: int
    treatment: int


class AssignResult(BaseModel):
    """What an `assign` call enrolled: only customers not enrolled before; earlier assignments never move."""

    experiment: str
    as_of: date
    eligible: int
    already_enrolled: int
    enrolled: int
    holdout: int
    treatment: int
    strata: list[StratumResult]


class AssignmentOut(BaseModel):
    """One enrolled customer: the do-not-contact list when `arm` is holdout."""

    customer: str
    arm: Arm
    enrolled_on: date
    stratum: str


class AssignmentListQuery(ListQuery):
    """`GET /v1/experiments/{id}/assignments`: in customer id order; `arm=holdout` is the do-not-contact list."""

    arm: Arm | None = None


class ResultQuery(QueryIn):
    """`?as_of=` (default today) and the bootstrap `seed` (default 0: the same data gives the same interval)."""

    as_of: IsoDate | None = None
    seed: int = Field(0, ge=0, le=2**32 - 1)


class ArmResult(BaseModel):
    """One arm, intention to treat: every assigned customer counts, treated or not."""

    customers: int
    starting_arr: MoneyTotal
    churned_customers: int
    churned_arr: MoneyTotal
    churn_rate: Annotated[Ratio, Field(description="churned customers / customers (logo rate)")] | None
    churned_arr_rate: Annotated[Ratio, Field(description="churned ARR / starting ARR")] | None
    grr: Annotated[Ratio, Field(description="Σ min(ARR at end, ARR at start) / Σ ARR at start")] | None
    nrr: Annotated[Ratio, Field(description="Σ ARR at end / Σ ARR at start")] | None
    avg_health_delta: Annotated[Number, Field(description="mean health change over the windows")] | None
    interventions: int
    cost: MoneyTotal
    open_windows: int


class DifferenceOut(BaseModel):
    """Treatment − holdout, its 95 % interval and two-sided p-value (tests named in `meta.tests`)."""

    estimate: Number
    low: Number
    high: Number
    p_value: Number


class Differences(BaseModel):
    """Treatment − holdout of churn rate, GRR and health delta; null when an arm is too small."""

    churn_rate: DifferenceOut | None
    grr: DifferenceOut | None
    avg_health_delta: DifferenceOut | None


class ResultMeta(BaseModel):
    """How the result was computed."""

    tests: dict[str, str]
    seed: int
    resamples: int
    currency: str
    health: str
    windows: str


class ExperimentResultOut(BaseModel):
    """The intention-to-treat result of an experiment as of a day."""

    experiment: str
    as_of: date
    status: ExperimentStatus
    arms: dict[Arm, ArmResult]
    difference: Differences
    incremental_retained_arr: (
        Annotated[
            MoneyTotal, Field(description="holdout churned_arr_rate × treatment starting_arr − treatment churned_arr")
        ]
        | None
    )
    roi: Annotated[Ratio, Field(description="(incremental_retained_arr − treatment cost) / treatment cost")] | None
    roi_low: Ratio | None
    roi_high: Ratio | None
    minimum_detectable_effect: Annotated[Ratio, Field(description="on churn rate, 80 % power, α 0.05")] | None
    contaminated: Annotated[int, Field(description="holdout customers with an intervention of the play")]
    meta: ResultMeta
