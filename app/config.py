"""Settings, read from the environment (prefix CSROI_, plus DATABASE_URL)."""

from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    log_level: str = "INFO"
    log_json: bool = True

    _split = field_validator("cors_origins", "cs_teams", mode="before")(_split_csv)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
