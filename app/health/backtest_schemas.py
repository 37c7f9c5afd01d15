"""The health backtest's query and the answers of the backtest and the suggestion (SPEC §10).

Apart from `schemas.py` to keep each under ~400 lines; the backtest reuses the model body (`HealthModelIn`).
"""

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.health.schemas import HealthModelIn
from app.schemas import IsoDate, QueryIn, Ratio
from app.types import ChurnMethod, ResponseFormat

MAX_RANGE_DAYS = 731  # two years of dates: 52 weekly dates of a 10,000-customer book is 520,000 pairs to label
MAX_HORIZON_DAYS = 730
Source = Literal["snapshots", "point_in_time"]

_START = "First day whose pairs are labelled (inclusive), YYYY-MM-DD."
_END = (
    "Last day whose pairs are labelled (inclusive), YYYY-MM-DD; end + horizon_days must be on or before today "
    "(a later day's outcome is not known yet). At most 731 days after start."
)
_HORIZON = "A pair is labelled churned when a churn movement follows within this many days (1..730, default 90)."
_VERSION = (
    "Score every pair point in time with this stored health model version (1: the built-in default) instead of "
    "reading the stored snapshots; the proposal of /suggest re-weights this version's components (default: the "
    "current model's)."
)


class BacktestRange(QueryIn):
    """`?start=&end=&horizon_days=&model_version=`: the dates to label; unknown parameters are refused."""

    start: IsoDate = Field(description=_START, examples=["2026-01-01"])
    end: IsoDate = Field(description=_END, examples=["2026-06-30"])
    horizon_days: int = Field(90, ge=1, le=MAX_HORIZON_DAYS, description=_HORIZON, examples=[90])
    model_version: int | None = Field(None, ge=1, description=_VERSION, examples=[2])

    @model_validator(mode="after")
    def _range(self) -> "BacktestRange":
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.end - self.start).days > MAX_RANGE_DAYS:
            raise ValueError(f"the range is limited to {MAX_RANGE_DAYS} days")
        return self


class BacktestQuery(BacktestRange):
    """The backtest's query: the range, and `format`."""

    format: ResponseFormat | None = Field(None, description="`csv` answers text/csv: the calibration rows.")


class CalibrationRow(BaseModel):
    """One group of pairs: how many churned, and the churn probability predicted for them against the rate seen."""

    group: str = Field(description="The band (red, yellow, green), or the decile 1..10 (1: the lowest scores).")
    pairs: int = Field(description="Scored pairs in the group.")
    churned: int = Field(description="Of those, the pairs labelled churned.")
    min_score: float | None = Field(description="Lowest score in the group (0..100); null when it is empty.")
    max_score: float | None = Field(description="Highest score in the group (0..100); null when it is empty.")
    predicted: Ratio | None = Field(
        description="Mean churn probability of the group's pairs, a fraction (0.1 = 10 %), from the fitted churn "
        "model or the band defaults; null when none has one."
    )
    observed: Ratio | None = Field(description="Observed churn rate = churned / pairs; null when the group is empty.")


class Calibration(BaseModel):
    """Predicted against observed churn, per band and per score decile."""

    bands: list[CalibrationRow] = Field(description="One row per band: red, yellow, green.")
    deciles: list[CalibrationRow] = Field(
        description="Ten equal-count groups of the pairs ordered by score (ties by date, then customer), lowest "
        "scores first; the first groups hold one pair more when the count does not divide by ten, and with fewer "
        "than ten pairs only the non-empty groups are listed."
    )


class ComponentBacktest(BaseModel):
    """How well one component's score alone ranked the pairs."""

    name: str = Field(description="Component name.")
    pairs: int = Field(description="Scored pairs where the component had data.")
    coverage: Ratio | None = Field(description="pairs / all scored pairs: the share where it had data; null if none.")
    auc: Ratio | None = Field(
        description="ROC AUC of the component's score (lower = riskier) over the pairs where it had data; null "
        "without both a churned and a retained pair there."
    )


class BacktestOut(BaseModel):
    """How well health scores foretold churn over a range of dates (SPEC §10)."""

    start: date = Field(description="The range's first day, as asked.")
    end: date = Field(description="The range's last day, as asked.")
    horizon_days: int = Field(description="The label's horizon in days.")
    source: Source = Field(
        description="snapshots: the stored snapshots dated in the range; point_in_time: scores computed from the "
        "events up to each date (the range had no snapshot, or model_version was given)."
    )
    dates: int = Field(
        description="Dates labelled: the snapshot days in the range, else the Mondays of the range (point in time)."
    )
    model_versions: list[int] = Field(description="Health model versions that scored the pairs.")
    pairs: int = Field(description="Scored (customer, date) pairs of customers paying on the date (ARR > 0).")
    customers: int = Field(description="Distinct customers among the pairs.")
    churns: int = Field(
        description="Distinct churn movements among the labels: one per customer and churn day (twice for a "
        "customer that churned twice), however many of its pairs precede it."
    )
    churned_pairs: int = Field(description="Pairs labelled churned.")
    unscored: int = Field(description="Pairs of paying customers without a score on the date, left out.")
    churn_rate: Ratio | None = Field(description="churned_pairs / pairs; null without pairs.")
    auc: Ratio | None = Field(
        description="ROC AUC of the score against the label, lower score = riskier: the share of (churned, "
        "retained) pairs of pairs in which the churned one scored lower, ties counting half (scikit-learn's "
        "roc_auc_score(label, -score)); 0.5 is chance, 1 perfect; null without both a churned and a retained pair."
    )
    brier: Ratio | None = Field(
        description="Brier score = mean of (churn probability − label)², label 1 churned and 0 retained, over the "
        "pairs with a probability; 0 is perfect; null without any."
    )
    lift: Ratio | None = Field(
        description="Red churn rate ÷ green churn rate: how many times likelier a red pair churned; null when no "
        "pair is red or green, or no green pair churned."
    )
    method: ChurnMethod = Field(
        description="fitted when a churn model is stored (its probabilities), else default (the band defaults)."
    )
    calibration: Calibration = Field(description="Predicted against observed churn per band and per score decile.")
    components: list[ComponentBacktest] = Field(description="Each component's coverage and AUC, in model order.")

    def calibration_rows(self) -> list[dict[str, Any]]:
        """The calibration as CSV rows: `kind` (band or decile), then the row's fields."""
        return [
            {"kind": kind, **row.model_dump(mode="python")}
            for kind, rows in (("band", self.calibration.bands), ("decile", self.calibration.deciles))
            for row in rows
        ]


CALIBRATION_COLUMNS = ["kind", *CalibrationRow.model_fields]


class SuggestedWeight(BaseModel):
    """One component of the proposal: its fitted coefficient and the weight it gets."""

    name: str = Field(description="Component name.")
    current_weight: float = Field(description="Its weight in the current model.")
    coefficient: float | None = Field(
        description="Fitted coefficient: the change in the log-odds of NOT churning within the horizon per 100 "
        "points of the component's score (positive: a higher score, fewer churns); null when it was not fitted."
    )
    weight: float = Field(
        description="Proposed weight: 100 × coefficient / Σ positive coefficients, in hundredths (the weights add "
        "up to exactly 100); 0 when the coefficient is not positive or was not fitted (see why)."
    )
    why: str | None = Field(description="Why the weight is 0; null when it is positive.")


class Split(BaseModel):
    """The dates and pairs of one side of the time split."""

    first: date = Field(description="Its first date.")
    last: date = Field(description="Its last date.")
    dates: int = Field(description="Dates in it.")
    pairs: int = Field(description="Scored pairs in it.")
    churns: int = Field(description="Distinct churn movements among its labels.")


class SuggestOut(BaseModel):
    """A proposed health model learned from the history; nothing is stored (an admin may PUT `model`)."""

    model_config = ConfigDict(protected_namespaces=())

    current_version: int = Field(description="The health model version whose components are re-weighted.")
    model: HealthModelIn = Field(
        description="The proposed PUT /v1/health-model body: the components with a positive weight and the "
        "proposed bands."
    )
    weights: list[SuggestedWeight] = Field(description="Every component of the current model, in its order.")
    bands_why: str = Field(description="How the proposed bands were chosen.")
    fit: Split = Field(description="The older 70 % of the dates: the regression is fitted on their pairs.")
    test: Split = Field(description="The newer 30 % of the dates: both models are compared on their pairs.")
    test_pairs: int = Field(description="Test pairs both models score (the two AUCs are over these).")
    current_auc: Ratio | None = Field(description="ROC AUC of the current scores on the test pairs.")
    proposed_auc: Ratio | None = Field(description="ROC AUC of the proposed model's scores on the test pairs.")
