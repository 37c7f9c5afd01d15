"""Experiment bodies, read views, the do-not-contact list and the intention-to-treat result (SPEC §9)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator, model_validator

from app.errors import worded
from app.money import MoneyTotal, NonNegativeMoney
from app.pagination import ListQuery
from app.schemas import (
    NO_NUL,
    DecimalText,
    IsoDate,
    JsonInt,
    Label,
    Number,
    Points,
    QueryIn,
    Ratio,
    RecordIn,
    StrictIn,
)
from app.types import Arm, Band, ExperimentStatus, Framework, Stage, StratumKey, Tier

# 0.05 to 0.5 with at most six decimals (trailing zeros aside), as text: 0.05…, 0.1… to 0.4…, or 0.5.
_SHARE_TEXT = worded(
    r"^ *0*\.(0[5-9][0-9]{0,4}|[1-4][0-9]{0,5}|5)0* *$",
    "a holdout share is a decimal string from 0.05 to 0.5 with at most six decimals, such as 0.2",
)
HoldoutShare = Annotated[
    Number, Field(ge=Decimal("0.05"), le=Decimal("0.5"), decimal_places=6), DecimalText(_SHARE_TEXT, places=6)
]
# The same words as an intervention's type: the play is matched against interventions by type and framework.
_SNAKE = worded(
    r"^[a-z][a-z0-9_]*$",
    "this name is lowercase letters, digits and _ (no spaces), starting with a letter, e.g. health_check",
)
PlayType = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=_SNAKE)]
DEFAULT_STRATA: list[StratumKey] = ["band", "tier"]
Hypothesis = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=NO_NUL)]


class PlayIn(StrictIn):
    """The play under test: interventions of this type and framework are the treatment."""

    type: PlayType = Field(
        description="The intervention type under test, e.g. win_back: 1 to 50 lowercase letters, digits and _. "
        "An intervention belongs to the experiment only when its type and framework both match the play."
    )
    framework: Framework = Field(
        description="The behavioural framework of the play; for a holdout customer, an intervention of this type "
        "and framework is refused (409) during the experiment unless `override_holdout` is sent."
    )


class EligibilityIn(StrictIn):
    """Who may enroll, on the day of an `assign` call; every condition given must hold (none: every paying customer).

    `band` and `at_risk` read the customer's latest health snapshot on or before that day (at risk: red, or
    yellow with an open renewal due within 90 days, SPEC §5); `stage` is the SPEC §3 lifecycle stage on that day;
    `min_arr` is in currency units.
    """

    band: Band | None = Field(
        None,
        description="Only customers whose latest health snapshot on or before the enrollment day has this band; a "
        "customer without a snapshot has no band and never matches. Omitted or null: any band.",
    )
    segment: Label | None = Field(
        None, description="Only customers with exactly this segment. Omitted or null: any segment."
    )
    tier: Tier | None = Field(None, description="Only customers of this tier. Omitted or null: any tier.")
    stage: Stage | None = Field(
        None,
        description="Only customers in this lifecycle stage (SPEC §3) on the enrollment day. Omitted or null: any "
        "stage.",
    )
    at_risk: StrictBool | None = Field(
        None,
        description="true: only customers at risk on the enrollment day (latest snapshot red, or yellow with an "
        "open renewal due within 90 days; no snapshot is not at risk); false: only those not at risk. Omitted or "
        "null: both.",
    )
    min_arr: NonNegativeMoney | None = Field(
        None,
        description="Only customers whose ARR on the enrollment day is at least this, in currency units (2 "
        "decimals). Omitted or null: any paying customer (ARR above 0).",
    )


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

    name: Label = Field(description="A short human name, 1 to 100 characters; may change at any time.")
    hypothesis: Hypothesis | None = Field(
        None,
        description="What the play should achieve, in words, up to 2000 characters; null when not given. May "
        "change at any time.",
    )
    play: PlayIn = Field(description="The play under test; fixed once customers are enrolled (a change is a 409).")
    eligibility: EligibilityIn = Field(
        default_factory=EligibilityIn,
        description="Who may enroll, judged on the day of each `assign` call (default {}: every paying customer). "
        "May change at any time; a change applies to later `assign` calls only.",
    )
    holdout_share: HoldoutShare = Field(
        Decimal("0.2"),
        description="The share of each stratum of newly enrolled customers held out, a plain fraction from "
        "0.05 to 0.5 with up to 6 decimals (default 0.2 = 20 %): ⌊share × n + ½⌋ of a stratum's n. Fixed once "
        "customers are enrolled.",
    )
    stratify_by: list[StratumKey] = Field(
        default=DEFAULT_STRATA,
        max_length=5,
        description="The attributes whose combinations form the strata, each at most once (default "
        '["band", "tier"]; [] for a single stratum); band and at_risk are read on the enrollment day. Each '
        "stratum of newly enrolled customers is drawn apart. Fixed once customers are enrolled.",
    )
    starts_on: IsoDate = Field(
        description="First day customers may be enrolled, YYYY-MM-DD (an `assign` before it is a 409). Fixed once "
        "customers are enrolled."
    )
    ends_on: IsoDate = Field(
        description="Last day customers may be enrolled and the holdout is guarded (inclusive; not before "
        "starts_on). May change at any time."
    )
    window_days: JsonInt = Field(
        90,
        ge=1,
        le=730,
        description="Days each customer is followed, from its own enrollment day: 1 to 730 (default 90); it churned "
        "when its ARR is 0 on the window's last day. Fixed once customers are enrolled.",
    )

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

    type: str = Field(description="The intervention type under test, e.g. win_back.")
    framework: str = Field(description="The behavioural framework of the play, e.g. loss_aversion.")


class ArmCounts(BaseModel):
    """How many customers each arm holds."""

    treatment: int = Field(0, description="Customers enrolled in the treatment arm: the play may be run on them.")
    holdout: int = Field(0, description="Customers enrolled in the holdout arm: the do-not-contact list for the play.")


class ExperimentOut(BaseModel):
    """An experiment as stored, with how many customers each arm holds."""

    id: str = Field(description="The experiment's id, as given in the path of its PUT.")
    name: str = Field(description="Its human name.")
    hypothesis: str | None = Field(description="What the play should achieve, in words; null when none was given.")
    play: PlayOut = Field(description="The play under test: interventions of this type and framework.")
    eligibility: dict[str, Any] = Field(
        description='The eligibility conditions given, and only those, e.g. {"at_risk": true, "min_arr": 1000} '
        "(min_arr in currency units); {} means every paying customer."
    )
    holdout_share: Ratio = Field(
        description="The share of each stratum of newly enrolled customers held out, a plain fraction (0.2 = 20 %)."
    )
    stratify_by: list[str] = Field(
        description="The attributes forming the strata, in the order of the stratum labels; [] means one stratum."
    )
    starts_on: date = Field(description="First day customers may be enrolled.")
    ends_on: date = Field(description="Last day customers may be enrolled and the holdout is guarded (inclusive).")
    window_days: int = Field(description="Days each customer is followed, from its enrollment day.")
    stopped_on: date | None = Field(
        description="The day it was stopped: from then on no enrollment and no holdout guard; null while not stopped."
    )
    enrolled: ArmCounts = Field(description="Customers enrolled so far, per arm.")
    created_at: datetime = Field(description="When the record was first stored (UTC).")
    updated_at: datetime = Field(description="When the record was last written (UTC).")


class ExperimentListQuery(ListQuery):
    """`GET /v1/experiments`: experiments in id order."""

    framework: Framework | None = Field(
        None, description="Only experiments whose play has this framework.", examples=["loss_aversion"]
    )


class AssignQuery(QueryIn):
    """`?as_of=`: the enrollment day (default today)."""

    as_of: IsoDate | None = Field(
        None,
        description="The enrollment day, YYYY-MM-DD (default today, UTC): eligibility is judged on it and it is the "
        "new customers' enrolled_on. Outside starts_on..ends_on, or on or after a stop, it is a 409.",
    )


class StopQuery(QueryIn):
    """`?on=`: the day the experiment stops (default today); interventions starting on or after it are free."""

    on: IsoDate | None = Field(
        None,
        description="The day it stops, YYYY-MM-DD (default today, UTC; not before starts_on): from that day no "
        "enrollment, and interventions of the play starting on or after it are neither refused nor counted.",
    )


class StratumResult(BaseModel):
    """One stratum of one `assign` call: its new customers and the ⌊share × n + ½⌋ held out."""

    stratum: str = Field(
        description="The stratum label, e.g. band=red|tier=high_touch (none where a value is missing; all without "
        "strata)."
    )
    customers: int = Field(description="Customers of this stratum newly enrolled by this call (n).")
    holdout: int = Field(
        description="Of those, held out: ⌊holdout_share × n + ½⌋, the first in the draw order (SHA-256 of the "
        "experiment and customer ids)."
    )
    treatment: int = Field(description="Of those, treated: n − holdout.")


class AssignResult(BaseModel):
    """What an `assign` call enrolled: only customers not enrolled before; earlier assignments never move."""

    experiment: str = Field(description="The experiment's id.")
    as_of: date = Field(description="The enrollment day used: `as_of` as sent, else today (UTC).")
    eligible: int = Field(description="Customers eligible on as_of: already_enrolled + enrolled.")
    already_enrolled: int = Field(
        description="Eligible customers enrolled by an earlier call: they keep their arm and are not drawn again."
    )
    enrolled: int = Field(description="Customers newly enrolled by this call: holdout + treatment.")
    holdout: int = Field(description="Of the newly enrolled, held out (the sum over strata).")
    treatment: int = Field(description="Of the newly enrolled, treated (the sum over strata).")
    strata: list[StratumResult] = Field(
        description="The draw in each stratum of the newly enrolled, in label order; [] when nobody new was eligible."
    )


class AssignmentOut(BaseModel):
    """One enrolled customer: the do-not-contact list when `arm` is holdout."""

    customer: str = Field(description="Customer id.")
    arm: Arm = Field(
        description="holdout: do not run the play on this customer until ends_on (or the stop); treatment: the "
        "play may be run. It never changes."
    )
    enrolled_on: date = Field(description="The day of the `assign` call that enrolled it; its window starts here.")
    stratum: str = Field(
        description="The stratum it was drawn in, e.g. band=red|tier=high_touch, with values as on enrolled_on "
        "(all without strata)."
    )


class AssignmentListQuery(ListQuery):
    """`GET /v1/experiments/{id}/assignments`: in customer id order; `arm=holdout` is the do-not-contact list."""

    arm: Arm | None = Field(
        None, description="Only customers of this arm; holdout is the do-not-contact list.", examples=["holdout"]
    )


class ResultQuery(QueryIn):
    """`?as_of=` (default today) and the bootstrap `seed` (default 0: the same data gives the same interval)."""

    as_of: IsoDate | None = Field(
        None,
        description="The day to compute the result for, YYYY-MM-DD (default today, UTC): customers enrolled by then "
        "count, and a window still open is read on this day.",
        examples=["2026-09-30"],
    )
    seed: int = Field(
        0,
        ge=0,
        le=2**32 - 1,
        description="Seed of the ROI bootstrap, 0 to 4294967295 (default 0): the same data and seed give the same "
        "roi_low and roi_high.",
        examples=[0],
    )


class ArmResult(BaseModel):
    """One arm, intention to treat: every assigned customer counts, treated or not."""

    customers: int = Field(
        description="Customers of this arm enrolled on or before as_of, treated or not (intention to treat)."
    )
    starting_arr: MoneyTotal = Field(
        description="Σ each customer's ARR on its enrollment day, in currency units (2 decimals)."
    )
    churned_customers: int = Field(
        description="Customers whose ARR is 0 on their window's last day (on as_of while the window is open)."
    )
    churned_arr: MoneyTotal = Field(
        description="Σ the starting ARR of the churned customers, in currency units (2 decimals)."
    )
    churn_rate: Ratio | None = Field(
        description="Logo churn rate: churned_customers / customers, a plain fraction (0.18 = 18 %); null when the "
        "arm is empty."
    )
    churned_arr_rate: Ratio | None = Field(
        description="ARR-weighted churn rate: churned_arr / starting_arr, a plain fraction; null when starting_arr "
        "is 0."
    )
    grr: Ratio | None = Field(
        description="Gross revenue retention: Σ min(ARR at end, ARR at start) / Σ ARR at start, a plain fraction "
        "(at most 1); null when starting_arr is 0."
    )
    nrr: Ratio | None = Field(
        description="Net revenue retention: Σ ARR at end / Σ ARR at start, a plain fraction (1.05 = 105 %); null "
        "when starting_arr is 0."
    )
    avg_health_delta: Points | None = Field(
        description="Mean health change in score points (0..100 scale, two decimals): point-in-time health on the "
        "window's last day (on as_of while open) − on the enrollment day, over customers with both scores; null when "
        "none has."
    )
    interventions: int = Field(
        description="Interventions of the play in this arm: same type and framework, not cancelled, started from "
        "the customer's enrollment day to ends_on (and as_of), before any stop."
    )
    cost: MoneyTotal = Field(
        description="Their cost in currency units (2 decimals): hours × the owner's hourly cost (else the default) "
        "+ direct cost + linked cost records."
    )
    open_windows: int = Field(
        description="Customers whose window is still open on as_of: their figures are read on as_of, not final."
    )


class DifferenceOut(BaseModel):
    """Treatment − holdout, its 95 % interval and two-sided p-value (tests named in `meta.tests`)."""

    estimate: Number = Field(
        description="Treatment − holdout, in the figure's unit: a plain fraction for churn_rate and grr, score "
        "points for avg_health_delta (a negative churn_rate difference means fewer churned under the play)."
    )
    low: Number = Field(description="Lower end of the 95 % interval: estimate − 1.96 × standard error, same unit.")
    high: Number = Field(description="Upper end of the 95 % interval: estimate + 1.96 × standard error, same unit.")
    p_value: Number = Field(
        description="Two-sided p-value of no difference, 0 to 1 (normal approximation): below 0.05 is significant "
        "at the 5 % level."
    )


class Differences(BaseModel):
    """Treatment − holdout of churn rate, GRR and health delta; null when an arm is too small."""

    churn_rate: DifferenceOut | None = Field(
        description="Of the logo churn rates: pooled two-proportion z-test, unpooled Wald interval; null when an "
        "arm is empty."
    )
    grr: DifferenceOut | None = Field(
        description="Of GRR: ratio estimators with delta-method standard errors; null when an arm has fewer than 2 "
        "customers."
    )
    avg_health_delta: DifferenceOut | None = Field(
        description="Of the mean health change, in score points: Welch standard error; null when an arm has fewer "
        "than 2 customers with both health scores."
    )


class ResultMeta(BaseModel):
    """How the result was computed."""

    tests: dict[str, str] = Field(
        description="The method behind each difference and the ROI interval, by name: churn_rate, grr, "
        "avg_health_delta, roi."
    )
    seed: int = Field(description="The seed of the ROI bootstrap (the `seed` parameter).")
    resamples: int = Field(description="Bootstrap resamples drawn for roi_low and roi_high (1,000).")
    currency: str = Field(description="The currency of every money figure (CSROI_CURRENCY, e.g. USD).")
    health: str = Field(description="How the health change was read, in words.")
    windows: str = Field(description="How each customer's window and churn were read, in words.")


class ExperimentResultOut(BaseModel):
    """The intention-to-treat result of an experiment as of a day."""

    experiment: str = Field(description="The experiment's id.")
    as_of: date = Field(description="The day the result is computed for: `as_of` as sent, else today (UTC).")
    status: ExperimentStatus = Field(
        description="running while a window is open (or nobody is enrolled); ready when every window has closed; "
        "underpowered instead of ready when an arm has fewer than 30 customers or minimum_detectable_effect is "
        "above 0.10 (or null)."
    )
    arms: dict[Arm, ArmResult] = Field(
        description="The figures of each arm, keyed treatment and holdout: every assigned customer counts in its "
        "arm, treated or not."
    )
    difference: Differences = Field(
        description="Treatment − holdout of churn rate, GRR and health change, each with a 95 % interval and a "
        "two-sided p-value."
    )
    incremental_retained_arr: MoneyTotal | None = Field(
        description="ARR the play kept, in currency units (to the cent): holdout churned_arr_rate × treatment "
        "starting_arr − treatment churned_arr; negative when the treated arm lost more; null when the holdout has "
        "no starting ARR."
    )
    roi: Ratio | None = Field(
        description="(incremental_retained_arr − treatment cost) / treatment cost, a plain fraction (2.0 = 200 %); "
        "null when incremental_retained_arr is null or the treatment cost is 0."
    )
    roi_low: Ratio | None = Field(
        description="2.5th percentile of the ROI over 1,000 bootstrap resamples of customers within each arm, "
        "seeded by `seed`; it need not be below roi. Null when an arm has fewer than 10 customers or no resample "
        "has a ROI."
    )
    roi_high: Ratio | None = Field(
        description="97.5th percentile of the same bootstrap; it need not be above roi. Null as roi_low."
    )
    minimum_detectable_effect: Ratio | None = Field(
        description="The smallest churn-rate difference (a plain fraction) detectable at 80 % power and 5 % "
        "two-sided significance: (z₀.₉₇₅ + z₀.₈) × √(p(1 − p)(1/n_t + 1/n_h)), p the holdout churn rate; null "
        "when an arm is empty."
    )
    contaminated: int = Field(
        description="Holdout customers with an intervention of the play during the experiment anyway (sent with "
        "override_holdout, or a planned one started later); they stay in the holdout."
    )
    meta: ResultMeta = Field(
        description="How it was computed: the tests, the bootstrap's seed and resamples, the currency, how health "
        "and windows were read."
    )
