"""Every table, imported so `Base.metadata` is complete for Alembic and the tests."""

from app.customers.models import Customer, TeamMember
from app.db import Base
from app.health.models import ChurnModel, HealthModel, HealthSnapshot
from app.keys.models import ApiKey
from app.usage.models import UsageEvent

__all__ = ["ApiKey", "Base", "ChurnModel", "Customer", "HealthModel", "HealthSnapshot", "TeamMember", "UsageEvent"]
