"""Every table, imported so `Base.metadata` is complete for Alembic and the tests."""

from app.costs.models import Cost
from app.customers.models import Customer, TeamMember
from app.db import Base
from app.keys.models import ApiKey
from app.renewals.models import Renewal

__all__ = ["ApiKey", "Base", "Cost", "Customer", "Renewal", "TeamMember"]
