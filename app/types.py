"""Every enum and id type, defined once: the tables (CHECK constraints) and the API schemas both import them.

Enums are `Literal` types (the OpenAPI document shows them inline as `enum`); a table turns one into a CHECK
constraint with `typing.get_args`. This module imports no feature and no API schema.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal, Protocol, get_args

from fastapi import Path
from pydantic import StringConstraints

from app.errors import worded

# --- ids --------------------------------------------------------------------------------------------------------

# CRM ids travel in URL paths, so no slashes, spaces or URL syntax; everything CRMs actually use fits.
ID_PATTERN = worded(
    r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]*$",
    "an id is 1 to 255 characters: letters, digits and . _ : @ + - (no spaces or slashes), starting with a letter "
    "or digit, e.g. acme-42",
)
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=ID_PATTERN)]
# The same id as a path parameter (`/v1/customers/{customer_id}`, ...).
IdPath = Annotated[
    str,
    Path(
        max_length=255,
        pattern=ID_PATTERN,
        description="The record's id, as your CRM sent it: 1 to 255 letters, digits and . _ : @ + - (no spaces).",
        examples=["cus-0001"],
    ),
]

# --- customers and the team -------------------------------------------------------------------------------------

Tier = Literal["high_touch", "low_touch", "tech_touch"]
TIERS: tuple[Tier, ...] = get_args(Tier)
Role = Literal["csm", "onboarding", "renewals", "support", "account_manager", "manager", "other"]
Stage = Literal["churned", "prospect", "renew", "land", "expand", "adopt"]

# --- revenue ----------------------------------------------------------------------------------------------------

MovementType = Literal["new", "reactivation", "upsell", "cross_sell", "downsell", "churn"]
RenewalStatus = Literal["open", "renewed", "churned"]

# --- costs ------------------------------------------------------------------------------------------------------

Team = Literal[
    "customer_success",
    "onboarding",
    "renewals",
    "support",
    "account_management",
    "sales",
    "marketing",
    "services",
    "training",
    "tools",
    "other",
]
Motion = Literal["acquire", "expand", "retain"]
MOTIONS: tuple[Motion, ...] = get_args(Motion)
Category = Literal["salary", "tools", "services", "travel", "other"]

# --- usage and health -------------------------------------------------------------------------------------------

# A usage event kind: login, feature_used, active_users, seats, survey_response, … or any word.
_KIND_WORDS = "an event kind is letters, digits and _ . : - (no spaces), starting with a letter or digit, e.g. login"
UsageKind = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=worded(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$", _KIND_WORDS))
]
Aggregate = Literal["count", "sum", "avg", "last", "distinct"]


class UsageComponent(Protocol):
    """What usage reads need of a health component (SPEC §6): the health feature's `ComponentIn` is one. Usage reads
    take this shape, not the health schema, so the usage feature does not depend on the health feature."""

    @property
    def kind(self) -> str: ...
    @property
    def where(self) -> Mapping[str, str] | None: ...
    @property
    def aggregate(self) -> Aggregate: ...
    @property
    def window_days(self) -> int: ...
    # Last: below this line `property` names the attribute in the class body, not the builtin.
    @property
    def property(self) -> str | None: ...


Band = Literal["red", "yellow", "green"]
# How a churn probability was found: the company's fitted model, or the default curve.
ChurnMethod = Literal["fitted", "default"]

# Event values are exact: stored as integer millionths. SQLite keeps NUMERIC as a float (ENGINEERING.md
# pitfall 8), while a BigInteger sums exactly on both databases; six decimals cover minutes, scores and ratios.
VALUE_SCALE = 1_000_000


def to_micros(value: Decimal) -> int:
    """An exact event value to integer millionths."""
    return int(value * VALUE_SCALE)


def from_micros(micros: int | Decimal | None) -> Decimal | None:
    """Integer millionths (or a SQL SUM of them) back to an exact Decimal."""
    return None if micros is None else Decimal(int(micros)) / VALUE_SCALE


# --- interventions ----------------------------------------------------------------------------------------------

Framework = Literal["loss_aversion", "commitment_escalation", "habit_formation", "social_proof", "other"]
InterventionStatus = Literal["planned", "in_progress", "completed", "cancelled"]
# An intervention still to do or under way: what a customer's `open_interventions` counts (SPEC §12).
OPEN_INTERVENTION: tuple[InterventionStatus, ...] = ("planned", "in_progress")
Situation = Literal["at_risk", "onboarding", "low_adoption", "expansion"]

# --- experiments (SPEC §9) --------------------------------------------------------------------------------------

Arm = Literal["treatment", "holdout"]
# What an experiment may stratify by: a customer's attribute, or its band and at-risk flag on the enrollment day.
StratumKey = Literal["band", "tier", "segment", "stage", "at_risk"]
ExperimentStatus = Literal["running", "ready", "underpowered"]
# Where an incremental ROI figure's counterfactual came from (SPEC §9); mixed: a row whose units differ.
RoiMethod = Literal["holdout", "matched", "model", "mixed"]

# --- metrics ----------------------------------------------------------------------------------------------------

Interval = Literal["month", "quarter", "year"]
CustomerGroup = Literal["segment", "region", "industry", "tier", "csm"]
InterventionGroup = Literal["type", "framework", "owner"]
Trend = Literal["improving", "worsening", "flat"]
# `?format=`: `csv` answers text/csv with the same rows.
ResponseFormat = Literal["json", "csv"]

# --- scorecard --------------------------------------------------------------------------------------------------

Quadrant = Literal["financial", "customer", "process", "people"]
Direction = Literal["higher_is_better", "lower_is_better"]
TargetStatus = Literal["on_track", "off_track"]
# How a scorecard figure is rounded: cents, six places or a whole count.
FigureKind = Literal["money", "number", "count", "fte"]

# --- webhooks and the worker (SPEC §11) -------------------------------------------------------------------------

WebhookEventType = Literal[
    "health.band_changed",
    "customer.at_risk",
    "renewal.due",
    "intervention.outcome_measured",
    "revenue.churned",
    "revenue.expanded",
    "experiment.ready",
    "scorecard.closed",
]
WEBHOOK_EVENT_TYPES: tuple[WebhookEventType, ...] = get_args(WebhookEventType)
# pending: waiting for its next attempt; delivered: a 2xx answered; failed: no 2xx within 24 h of attempts.
DeliveryStatus = Literal["pending", "delivered", "failed"]
JobStatus = Literal["running", "succeeded", "failed"]
# schedule: the worker ran the job's slot; manual: `csroi worker --once`; poll: a webhook delivery pass with work.
JobTrigger = Literal["schedule", "manual", "poll"]
