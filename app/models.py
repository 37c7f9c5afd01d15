"""Every table, imported so `Base.metadata` is complete for Alembic and the tests."""

from app.customers.models import Customer, TeamMember
from app.db import Base
from app.interventions.models import Intervention
from app.keys.models import ApiKey
from app.ledger.models import ArrChange, RevenueEvent

__all__ = ["ApiKey", "ArrChange", "Base", "Customer", "Intervention", "RevenueEvent", "TeamMember"]
