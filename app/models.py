"""Every table, imported so `Base.metadata` is complete for Alembic and the tests."""

from app.costs.models import Cost
from app.customers.models import Customer, TeamMember
from app.db import Base
from app.health.models import ChurnModel, HealthModel, HealthSnapshot
from app.interventions.models import Intervention
from app.keys.models import ApiKey
from app.ledger.models import ArrChange, RevenueEvent
from app.renewals.models import Renewal
from app.scorecard.models import ClosedMonth, Target
from app.usage.models import UsageEvent

__all__ = [
    "ApiKey",
    "ArrChange",
    "Base",
    "ChurnModel",
    "ClosedMonth",
    "Cost",
    "Customer",
    "HealthModel",
    "HealthSnapshot",
    "Intervention",
    "Renewal",
    "RevenueEvent",
    "Target",
    "TeamMember",
    "UsageEvent",
]
