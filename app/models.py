"""Every table, imported so `Base.metadata` is complete for Alembic and the tests."""

from app.customers.models import Customer, TeamMember
from app.db import Base
from app.health.models import ChurnModel, HealthModel, HealthSnapshot
from app.interventions.models import Intervention
from app.keys.models import ApiKey
from app.ledger.models import ArrChange, RevenueEvent
from app.usage.models import UsageEvent

__all__ = [
    "ApiKey",
    "ArrChange",
    "Base",
    "ChurnModel",
    "Customer",
    "HealthModel",
    "HealthSnapshot",
    "Intervention",
    "RevenueEvent",
    "TeamMember",
    "UsageEvent",
]
