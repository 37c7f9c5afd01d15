"""Settings, read from the environment (prefix CSROI_, plus DATABASE_URL)."""

import re
from datetime import time
from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.types import TIERS

DEFAULT_CSM_RATIOS = {"high_touch": 25, "low_touch": 100, "tech_touch": 500}
# Usage kinds whose value is a level (seats held, users active that day) rather than an amount that adds up: an
# intervention's expected change of one is measured on its `last` value, not on a 30-day sum (SPEC §10).
DEFAULT_LEVEL_KINDS = ("seats", "active_users")
_KIND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")


def parse_level_kinds(value: object) -> list[str]:
    """`seats,active_users` (or a list) to usage kind names; a name that is no event kind stops the service."""
    kinds = _split_csv(value)
    if not isinstance(kinds, list):
        raise ValueError("CSROI_LEVEL_KINDS must look like seats,active_users")
    for kind in kinds:
        if not isinstance(kind, str) or not _KIND.fullmatch(kind) or len(kind) > 100:
            raise ValueError(f"CSROI_LEVEL_KINDS: {kind!r} is not a usage event kind (letters, digits and _ . : -)")
    return kinds


def parse_csm_ratios(value: object) -> dict[str, int]:
    """`high_touch=25,low_touch=100` (or a mapping) to customers per CSM by tier; tiers left out keep the default.

    Raises ValueError (a settings error at start-up) for an unknown tier or a ratio that is not a positive integer.
    """
    if isinstance(value, str):
        pairs: list[tuple[str, object]] = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            tier, sep, number = part.partition("=")
            if not sep:
                raise ValueError(f"CSROI_CSM_RATIOS: {part!r} is not tier=customers_per_csm")
            pairs.append((tier.strip(), number.strip()))
        value = dict(pairs)
    if not isinstance(value, dict):
        raise ValueError("CSROI_CSM_RATIOS must look like high_touch=25,low_touch=100,tech_touch=500")
    ratios = dict(DEFAULT_CSM_RATIOS)
    for tier, number in value.items():
        if tier not in TIERS:
            raise ValueError(f"CSROI_CSM_RATIOS: unknown tier {tier!r} (expected one of {', '.join(TIERS)})")
        try:
            ratio = int(str(number))
        except ValueError:
            raise ValueError(f"CSROI_CSM_RATIOS: {tier}={number!r} is not a whole number") from None
        if ratio <= 0:
            raise ValueError(f"CSROI_CSM_RATIOS: {tier} must be a positive number of customers per CSM")
        ratios[tier] = ratio
    return ratios


def parse_usage_store(value: object) -> str:
    """`sql`, `raw` or a ClickHouse DSN (clickhouse://…, clickhouses://…, chdb://PATH); anything else stops the
    service at start."""
    text = str(value).strip()
    if text in ("", "sql", "raw") or re.match(r"^(clickhouse|clickhouses|chdb)://\S*$", text):
        return text or "sql"
    raise ValueError(f"CSROI_USAGE_STORE: {text!r} is not sql, raw, or a clickhouse:// or chdb:// DSN")


def parse_default_tier(value: object) -> str:
    """A tier name for customers without one (SPEC §13 staffing); anything else stops the service at start."""
    tier = str(value).strip()
    if tier not in TIERS:
        raise ValueError(f"CSROI_DEFAULT_TIER: {tier!r} is not a tier (expected one of {', '.join(TIERS)})")
    return tier


def parse_currency(value: object) -> str:
    """An ISO 4217 code such as USD or EUR (any case); anything else stops the service at start.

    Every answer that carries money names this currency (SPEC §11), so it must be a code a reader can look up.
    """
    code = str(value).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"CSROI_CURRENCY: {value!r} is not a three-letter ISO 4217 code such as USD or EUR")
    return code


# PostgreSQL memory units (case-sensitive there too) and work_mem's bounds in kB: 64kB .. 2147483647kB.
WORK_MEM_PATTERN = re.compile(r"^(\d{1,10})(kB|MB|GB)$")
WORK_MEM_KB = {"kB": 1, "MB": 1024, "GB": 1024 * 1024}
WORK_MEM_MIN_KB, WORK_MEM_MAX_KB = 64, 2_147_483_647


def parse_work_mem(value: object) -> str | None:
    """`64MB`, `512kB`, `1GB` as PostgreSQL understands them; empty (or None) turns the setting off.

    Raises ValueError (a settings error at start-up) for anything else, so no other text can reach the SQL.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    match = WORK_MEM_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"CSROI_METRICS_WORK_MEM: {text!r} is not a size like 64MB, 512kB or 1GB")
    kilobytes = int(match.group(1)) * WORK_MEM_KB[match.group(2)]
    if not WORK_MEM_MIN_KB <= kilobytes <= WORK_MEM_MAX_KB:
        raise ValueError(f"CSROI_METRICS_WORK_MEM: {text} is outside PostgreSQL's range (64kB to about 2048GB)")
    return text


def parse_optional_secret(value: object) -> object:
    """A secret without the spaces around it; an empty one (`CSROI_STRIPE_WEBHOOK_SECRET=` in a .env file) is none."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def parse_unset_empty(value: object) -> object:
    """An empty value (`CSROI_EVENTS_RETENTION_DAYS=` in a .env file) is unset."""
    return None if isinstance(value, str) and not value.strip() else value


def parse_notice_days(value: object) -> list[int]:
    """`90,30` (or a list) to the distinct renewal-notice thresholds in days, largest first (SPEC §11 renewal.due)."""
    parts = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or not parts:
        raise ValueError("CSROI_RENEWAL_NOTICE_DAYS must be whole days before the due date, e.g. 90,30")
    days = set()
    for part in parts:
        try:
            number = int(str(part))
        except ValueError:
            raise ValueError(f"CSROI_RENEWAL_NOTICE_DAYS: {part!r} is not a whole number of days") from None
        if not 1 <= number <= 3650:
            raise ValueError(f"CSROI_RENEWAL_NOTICE_DAYS: {number} is not between 1 and 3650 days")
        days.add(number)
    return sorted(days, reverse=True)


def parse_daily_at(value: object) -> time:
    """`HH:MM` (UTC) for the worker's daily jobs; anything else stops the worker and the service at start."""
    if isinstance(value, time):
        return value
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", str(value).strip())
    if match is None:
        raise ValueError(f"CSROI_WORKER_DAILY_AT: {value!r} is not a time of day HH:MM (UTC), e.g. 02:00")
    return time(int(match.group(1)), int(match.group(2)))


def _split_csv(value: object) -> object:
    """Accept `a,b,c` from the environment as well as a JSON list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of the service; the README documents each one."""

    model_config = SettingsConfigDict(env_prefix="CSROI_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./csroi.db",
        validation_alias=AliasChoices("DATABASE_URL", "CSROI_DATABASE_URL"),
    )
    # The one reporting currency of every money amount (SPEC §2); answers name it in `meta.currency` (§11).
    currency: str = "USD"
    migrate_on_start: bool = True
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cs_teams: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["customer_success", "onboarding", "renewals"]
    )
    default_hourly_cost: Decimal = Decimal("75")
    gross_margin: Decimal = Decimal("0.8")
    max_body_bytes: int = 10 * 1024 * 1024
    max_batch_items: int = 10_000
    # Churn probability per health band until enough churns exist to fit on (SPEC §6); README explains them.
    churn_defaults: dict[str, float] = Field(default_factory=lambda: {"red": 0.30, "yellow": 0.10, "green": 0.03})
    churn_min_churns: int = 30
    # Usage kinds an intervention's expected change measures by their latest value by default (SPEC §10).
    level_kinds: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_LEVEL_KINDS))
    # Matched controls (SPEC §9): a pool of control customers is used for incremental ROI from this many customers.
    min_controls: int = Field(30, ge=1)
    # Customers one CSM can cover, per tier (SPEC §7 staffing model); env form `high_touch=25,low_touch=100`.
    csm_ratios: Annotated[dict[str, int], NoDecode] = Field(default_factory=lambda: dict(DEFAULT_CSM_RATIOS))
    # The tier the staffing model staffs customers without a tier as (SPEC §13): they still need a CSM.
    default_tier: str = "low_touch"
    # work_mem for the read transaction of metric routes on PostgreSQL (SET LOCAL); empty: the server's value.
    metrics_work_mem: str | None = "64MB"
    # Signing secret of the Stripe webhook endpoint (`whsec_...`); unset: POST /v1/integrations/stripe answers 404.
    stripe_webhook_secret: SecretStr | None = None
    # The worker (SPEC §11): its daily jobs run at this UTC time; webhooks.deliver polls the outbox this often.
    worker_daily_at: Annotated[time, NoDecode] = time(2, 0)
    webhook_poll_seconds: float = Field(2.0, ge=0.1, le=5.0)
    # Webhook URLs resolving to loopback or private addresses are refused unless this is true (SSRF, SPEC §11).
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    webhook_concurrency: int = Field(8, ge=1, le=64)
    # renewal.due is sent once per renewal and threshold: this many days before its due date.
    renewal_notice_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [90, 30])
    # Job runs older than this are deleted by the jobs.prune job (webhook delivery passes add one run each).
    job_history_days: int = Field(30, ge=1, le=3650)
    # Finished webhook deliveries (and their attempts) older than this are deleted by the jobs.prune job, and the
    # events they carried with them (an event with a dedupe key keeps its key, so it is never sent twice).
    webhook_history_days: int = Field(30, ge=2, le=3650)
    # Where usage lives and health reads it (SPEC §14): `sql` (default) the daily rollup in this database, `raw` the
    # raw events in this database (the reference path), or a ClickHouse DSN (`clickhouse://…`, `chdb://PATH`).
    usage_store: str = "sql"
    # Raw usage events older than this many days are not stored at ingest and are deleted by the worker's
    # usage.retention job, whole UTC months at a time (SPEC §14); unset keeps every event. Health reads the rollup.
    events_retention_days: int | None = Field(None, ge=1, le=36_500)
    log_level: str = "INFO"
    # None: JSON lines for machines (stderr not a terminal), readable lines for a person at a terminal.
    log_json: bool | None = None

    _split = field_validator("cors_origins", "cs_teams", mode="before")(_split_csv)
    _ratios = field_validator("csm_ratios", mode="before")(parse_csm_ratios)
    _level_kinds = field_validator("level_kinds", mode="before")(parse_level_kinds)
    _default_tier = field_validator("default_tier", mode="before")(parse_default_tier)
    _work_mem = field_validator("metrics_work_mem", mode="before")(parse_work_mem)
    _currency = field_validator("currency", mode="before")(parse_currency)
    _stripe_secret = field_validator("stripe_webhook_secret", mode="before")(parse_optional_secret)
    _notice_days = field_validator("renewal_notice_days", mode="before")(parse_notice_days)
    _daily_at = field_validator("worker_daily_at", mode="before")(parse_daily_at)
    _usage_store = field_validator("usage_store", mode="before")(parse_usage_store)
    _retention = field_validator("events_retention_days", mode="before")(parse_unset_empty)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


def get_app_settings(request: Request) -> Settings:
    """The settings of the app serving the request (`create_app(settings)` stores them on `app.state`)."""
    settings: Settings = request.app.state.settings
    return settings


# A route's settings; services take the values they need as arguments, never by reading the environment.
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
