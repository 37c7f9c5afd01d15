"""Health model bodies, health score views and query parameters (SPEC §6)."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.errors import worded
from app.pagination import ListQuery
from app.schemas import IsoDate, QueryIn, StrictIn
from app.types import Aggregate, Band, UsageKind

_NAME = worded(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", "a name is letters, digits and _ . - (no spaces), starting with a letter or digit"
)
_PROPERTY_NAME = worded(r"^[A-Za-z0-9_\-]+$", "a property name is letters, digits, _ and - (no spaces or dots)")
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_NAME)]
PropertyName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_PROPERTY_NAME)]
PropertyValue = Annotated[str, StringConstraints(max_length=255)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class ComponentIn(StrictIn):
    """One health component: an aggregate of one kind of event over a window, scored linearly from bad to good."""

    name: Name
    weight: Finite = Field(gt=0, description="Relative weight; weights are renormalised over components with data.")
    kind: UsageKind = Field(description="The usage event kind it reads, e.g. `login`.")
    where: dict[PropertyName, PropertyValue] | None = Field(
        None, description="Equality filters on event properties (string values), e.g. {'survey': 'nps'}."
    )
    aggregate: Aggregate
    property: PropertyName | None = Field(None, description="The property counted by `distinct`.")
    window_days: int = Field(ge=1, le=3660, description="Days ending with as_of: as_of - window_days < d ≤ as_of.")
    per_seat: bool = Field(False, description="Divide by the latest `seats` value up to as_of.")
    bad: Finite = Field(description="Raw value scoring 0.")
    good: Finite = Field(description="Raw value scoring 100; bad > good means lower is better.")

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

    red_below: Finite = Field(40, ge=0, le=100)
    green_from: Finite = Field(70, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> "BandsIn":
        if self.red_below > self.green_from:
            raise ValueError("red_below must not exceed green_from")
        return self


class HealthModelIn(StrictIn):
    """`PUT /v1/health-model` body: the components and optional bands of the next model version."""

    components: list[ComponentIn] = Field(min_length=1, max_length=50)
    bands: BandsIn = Field(default_factory=BandsIn)

    @model_validator(mode="after")
    def _unique_names(self) -> "HealthModelIn":
        names = [c.name for c in self.components]
        if len(names) != len(set(names)):
            raise ValueError("component names must be unique")
        return self


class HealthModelOut(HealthModelIn):
    """A health model version; `default` when no model was stored yet and the built-in one applies."""

    model_config = ConfigDict(extra="ignore")

    version: int
    default: bool
    created_at: datetime | None


class ComponentOut(BaseModel):
    """One component of a customer's score: raw value, its 0..100 score, weight, and points in the total."""

    name: str
    weight: float
    raw: float | None
    score: float | None
    contribution: float | None


class CustomerHealthOut(BaseModel):
    """A customer's health on `as_of`, from the events up to that day."""

    customer: str
    as_of: date
    score: float | None
    band: Band | None
    coverage: float
    model_version: int
    components: list[ComponentOut]
    change_30d: float | None
    churn_probability: float | None


class HealthQuery(QueryIn):
    """`?as_of=` of the health read; unknown parameters are refused."""

    as_of: IsoDate | None = Field(None, description="Day to compute health for (UTC); default today.")


class HealthHistoryQuery(ListQuery):
    """`?start=&end=` of the health history (snapshots, oldest first)."""

    start: IsoDate | None = None
    end: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "HealthHistoryQuery":
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self


class HealthSnapshotOut(BaseModel):
    """A stored daily health snapshot."""

    model_config = ConfigDict(from_attributes=True)

    snapshot_date: date
    score: float | None
    band: Band | None
    coverage: float
    model_version: int
    components: list[ComponentOut]


class SnapshotQuery(QueryIn):
    """`?date=` of a snapshot run."""

    date: IsoDate


class SnapshotResult(BaseModel):
    """What a snapshot run stored."""

    date: date
    customers: int
    model_version: int
