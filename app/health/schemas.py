"""Health model bodies, health score views and query parameters (SPEC §6)."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from app.errors import worded
from app.pagination import ListQuery
from app.schemas import NO_NUL, FloatRatio, IsoDate, JsonFloat, JsonInt, QueryIn, Score, StrictIn
from app.types import Aggregate, Band, UsageKind

_NAME = worded(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", "a name is letters, digits and _ . - (no spaces), starting with a letter or digit"
)
_PROPERTY_NAME = worded(r"^[A-Za-z0-9_\-]+$", "a property name is letters, digits, _ and - (no spaces or dots)")
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_NAME)]
PropertyName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_PROPERTY_NAME)]
PropertyValue = Annotated[str, StringConstraints(max_length=255, pattern=NO_NUL)]


def _property_names_patterned(schema: dict[str, Any]) -> None:
    """Name the key pattern in `propertyNames`: Pydantic puts it in `patternProperties` only, which leaves a key
    that does not match it unconstrained in JSON Schema, while the service refuses such a key."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "object":
            branch.setdefault("propertyNames", {})["pattern"] = _PROPERTY_NAME


class ComponentIn(StrictIn):
    """One health component: an aggregate of one kind of event over a window, scored linearly from bad to good."""

    name: Name = Field(description="Component name, unique in the model, e.g. `logins`.")
    weight: JsonFloat = Field(gt=0, description="Relative weight; weights are renormalised over components with data.")
    kind: UsageKind = Field(description="The usage event kind it reads, e.g. `login`.")
    where: dict[PropertyName, PropertyValue] | None = Field(
        None,
        description="Equality filters on event properties (string values), e.g. {'survey': 'nps'}.",
        json_schema_extra=_property_names_patterned,
    )
    aggregate: Aggregate = Field(
        description="How the window's events become one raw value: count, sum / avg / last of `value`, or distinct "
        "values of `property`."
    )
    property: PropertyName | None = Field(None, description="The property counted by `distinct`.")
    window_days: JsonInt = Field(ge=1, le=3660, description="Days ending with as_of: as_of - window_days < d ≤ as_of.")
    per_seat: StrictBool = Field(False, description="Divide by the latest `seats` value up to as_of.")
    bad: JsonFloat = Field(description="Raw value scoring 0.")
    good: JsonFloat = Field(description="Raw value scoring 100; bad > good means lower is better.")

    @model_validator(mode="after")
    def _consistent(self) -> "ComponentIn":
        if self.bad == self.good:
            raise ValueError("bad and good must differ")
        if self.aggregate == "distinct" and self.property is None:
            raise ValueError("a distinct aggregate needs `property`")
        if self.aggregate != "distinct" and self.property is not None:
            raise ValueError("`property` is only read by the distinct aggregate")
        return self


class BandsIn(StrictIn):
    """Band thresholds: red < red_below ≤ yellow < green_from ≤ green."""

    red_below: JsonFloat = Field(40, ge=0, le=100, description="Scores below this are red (0..100, default 40).")
    green_from: JsonFloat = Field(
        70, ge=0, le=100, description="Scores from this up are green (0..100, default 70); in between is yellow."
    )

    @model_validator(mode="after")
    def _ordered(self) -> "BandsIn":
        if self.red_below > self.green_from:
            raise ValueError("red_below must not exceed green_from")
        return self


class HealthModelIn(StrictIn):
    """`PUT /v1/health-model` body: the components, optional bands and optional first day of the next version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "components": [
                        {
                            "name": "logins",
                            "weight": 2,
                            "kind": "login",
                            "aggregate": "count",
                            "window_days": 30,
                            "per_seat": True,
                            "bad": 0,
                            "good": 20,
                        },
                        {
                            "name": "nps",
                            "weight": 1,
                            "kind": "survey_response",
                            "where": {"survey": "nps"},
                            "aggregate": "last",
                            "window_days": 180,
                            "bad": 0,
                            "good": 10,
                        },
                    ],
                    "bands": {"red_below": 40, "green_from": 70},
                }
            ]
        }
    )

    components: list[ComponentIn] = Field(
        min_length=1, max_length=50, description="1 to 50 components; the score is their weighted mean."
    )
    bands: BandsIn = Field(default_factory=BandsIn, description="Band thresholds; default red below 40, green from 70.")
    effective_from: IsoDate | None = Field(
        None,
        description="The first day (UTC) this version scores; default the day it is stored. A version is in force "
        "on a day d when it is the highest version with effective_from <= d. A past day restates history on "
        "purpose: point-in-time reads and replays of the days from it on then use this version (stored snapshots "
        "stay until re-run), and the audit log records a `health_model.backdate`. A future day schedules it.",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> "HealthModelIn":
        names = [c.name for c in self.components]
        if len(names) != len(set(names)):
            raise ValueError("component names must be unique")
        return self


class HealthModelOut(HealthModelIn):
    """A health model version; `default` when no model was stored yet and the built-in one applies."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=None)

    version: int = Field(
        description="Model version: 1 is the built-in default; each PUT stores the next (the first stored is 2)."
    )
    default: bool = Field(description="True for the built-in default (version 1), which is stored nowhere.")
    created_at: datetime | None = Field(description="When this version was stored (UTC); null for the default.")
    effective_from: date | None = Field(
        description="The first day it scores (its PUT's day, or the day the PUT gave); null for the default, which "
        "is in force before the first stored version."
    )
    in_force_until: date | None = Field(
        description="The last day it is the version in force: the day before a later version took over; null while "
        "none has. Before effective_from when a later version was stored with an earlier or equal effective_from: "
        "then it never scores a day."
    )
    backdated: bool = Field(
        description="True when effective_from is before the day it was stored: it restated the days in between."
    )


class ComponentOut(BaseModel):
    """One component of a customer's score: raw value, its 0..100 score, weight, and points in the total."""

    name: str = Field(description="Component name from the health model.")
    weight: FloatRatio = Field(description="The component's weight in the model, as configured (not renormalised).")
    raw: FloatRatio | None = Field(
        description="The aggregate over the window (per seat when per_seat), six decimals; an empty window is 0 for "
        "count, sum and distinct. Null without data: no such event ever, no value in the window for avg and last, or "
        "no seats."
    )
    score: Score | None = Field(
        description="raw scored linearly from bad (0) to good (100), clamped to 0..100, two decimals; null without "
        "data."
    )
    contribution: Score | None = Field(
        description="Points it adds to the score: weight × score / Σ weights with data, two decimals; "
        "contributions sum to the score (to rounding). Null without data."
    )


class CustomerHealthOut(BaseModel):
    """A customer's health on `as_of`, from the events up to that day."""

    customer: str = Field(description="Customer id.")
    as_of: date = Field(description="The day computed, from the events up to it.")
    score: Score | None = Field(
        description="Health score 0..100: the weighted mean of component scores, two decimals; null without data."
    )
    band: Band | None = Field(description="red, yellow or green by the model's thresholds; null without a score.")
    coverage: FloatRatio = Field(
        description="Share of the model's weight that had data, 0..1 (0.5 = half the weight scored)."
    )
    model_version: int = Field(
        description="Health model version used (1: the built-in default): the one in force on as_of, or the one asked "
        "for."
    )
    components: list[ComponentOut] = Field(description="Each component's raw value, score, weight and contribution.")
    change_30d: Score | None = Field(
        description="score minus the score 30 days before as_of, both by model_version (so a model change is not "
        "a change in the customer), in points (two decimals); null when either is missing."
    )
    churn_probability: FloatRatio | None = Field(
        description="Probability of churn within 90 days as a fraction 0..1 (0.25 = 25 %), six decimals, from the "
        "fitted model or the band defaults; null without a score."
    )


# A stored model version, as a query parameter (a PostgreSQL integer column bounds it).
ModelVersion = Annotated[int, Field(ge=1, le=2**31 - 1)]
_MODEL_VERSION = "A health model version to use instead of the one in force on the day; an unknown one is a 422."


class HealthQuery(QueryIn):
    """`?as_of=&model_version=` of the health read; unknown parameters are refused."""

    as_of: IsoDate | None = Field(
        None, description="Day to compute health for (UTC); default today.", examples=["2026-03-31"]
    )
    model_version: ModelVersion | None = Field(
        None,
        description=_MODEL_VERSION + " Both the score and the score 30 days before (change_30d) use it; without it "
        "both use the version in force on as_of.",
    )


class HealthModelQuery(QueryIn):
    """`?as_of=` of the health model read."""

    as_of: IsoDate | None = Field(
        None, description="The day whose model in force is answered (UTC); default today.", examples=["2026-03-31"]
    )


class HealthModelListQuery(ListQuery):
    """Cursor pages of `GET /v1/health-models`, oldest version first."""


class HealthHistoryQuery(ListQuery):
    """`?start=&end=` of the health history (snapshots, oldest first)."""

    start: IsoDate | None = Field(None, description="First snapshot day (inclusive).", examples=["2026-01-01"])
    end: IsoDate | None = Field(None, description="Last snapshot day (inclusive).", examples=["2026-03-31"])

    @model_validator(mode="after")
    def _ordered(self) -> "HealthHistoryQuery":
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self


class HealthSnapshotOut(BaseModel):
    """A stored daily health snapshot."""

    model_config = ConfigDict(from_attributes=True)

    snapshot_date: date = Field(description="The day the snapshot scores.")
    score: Score | None = Field(description="Health score 0..100 that day, two decimals; null without data.")
    band: Band | None = Field(description="red, yellow or green; null without a score.")
    coverage: FloatRatio = Field(description="Share of the model's weight that had data, 0..1.")
    model_version: int = Field(
        description="Health model version used (1: the built-in default): the one in force on the day unless the "
        "snapshot run asked for another."
    )
    components: list[ComponentOut] = Field(description="Each component's raw value, score, weight and contribution.")


class SnapshotQuery(QueryIn):
    """`?date=` of a snapshot run."""

    date: IsoDate = Field(
        description="Day to score every customer for; a snapshot already stored for that day is replaced.",
        examples=["2026-03-31"],
    )
    model_version: ModelVersion | None = Field(
        None, description=_MODEL_VERSION + " The snapshots record the version used."
    )


class SnapshotResult(BaseModel):
    """What a snapshot run stored."""

    date: Annotated[date, Field(description="The day scored.")]
    customers: int = Field(description="Snapshots stored: one per customer.")
    model_version: int = Field(
        description="Health model version used (1: the built-in default): the one in force on the day unless the "
        "snapshot run asked for another."
    )
