"""Every table, one module per table; importing this package makes `Base.metadata` complete for Alembic.

Tables import only SQLAlchemy, `app.db`, `app.money` and `app.types`: never an API schema or a feature.
"""

from app.db import Base
from app.models.api_key import ApiKey
from app.models.arr_change import ArrChange
from app.models.arr_month import ArrMonth
from app.models.audit_entry import AuditEntry
from app.models.churn_model import ChurnModel
from app.models.closed_month import ClosedMonth
from app.models.cost import Cost
from app.models.customer import Customer
from app.models.experiment import Experiment
from app.models.experiment_assignment import ExperimentAssignment
from app.models.health_model import HealthModel
from app.models.health_snapshot import HealthSnapshot
from app.models.intervention import Intervention
from app.models.job_run import JobRun
from app.models.renewal import Renewal
from app.models.revenue_event import RevenueEvent
from app.models.target import Target
from app.models.team_member import TeamMember
from app.models.usage_daily import UsageDaily, UsageDailyValue, UsageFeed, UsageRollupFacet
from app.models.usage_event import VALUE_MICROS, UsageEvent
from app.models.webhook import Webhook, WebhookTopic
from app.models.webhook_delivery import WebhookAttempt, WebhookDelivery
from app.models.webhook_event import WebhookEvent

__all__ = [
    "VALUE_MICROS",
    "ApiKey",
    "ArrChange",
    "ArrMonth",
    "AuditEntry",
    "Base",
    "ChurnModel",
    "ClosedMonth",
    "Cost",
    "Customer",
    "Experiment",
    "ExperimentAssignment",
    "HealthModel",
    "HealthSnapshot",
    "Intervention",
    "JobRun",
    "Renewal",
    "RevenueEvent",
    "Target",
    "TeamMember",
    "UsageDaily",
    "UsageDailyValue",
    "UsageEvent",
    "UsageFeed",
    "UsageRollupFacet",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookTopic",
]
