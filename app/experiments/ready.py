"""`experiment.ready` (SPEC §11): once an experiment's result is final, a webhook event carrying it.

Final means no window can open or stay open any more: enrollment is over (the experiment was stopped, or its
`ends_on` has passed) and every enrolled customer's window has closed. The result's status then stays `ready` (or
`underpowered`, which the event says). Sent once per experiment (a dedupe key); the daily `experiments.ready` job
calls this, and computes the result only for experiments not yet announced.
"""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.experiments import result
from app.models import Experiment, ExperimentAssignment
from app.types import WebhookEventType
from app.webhooks import service as webhooks

EXPERIMENT_READY: WebhookEventType = "experiment.ready"


def emit_ready(session: Session, *, today: date, default_hourly: Decimal, currency: str) -> int:
    """Write experiment.ready for every experiment whose result became final by `today`; how many."""
    if not webhooks.wanted(session, [EXPERIMENT_READY]):
        return 0
    finished = session.execute(
        select(Experiment.id, Experiment.window_days, func.max(ExperimentAssignment.enrolled_on))
        .join(ExperimentAssignment, ExperimentAssignment.experiment_id == Experiment.id)
        .where(or_(Experiment.stopped_on.is_not(None), Experiment.ends_on < today))
        .group_by(Experiment.id, Experiment.window_days)
        .order_by(Experiment.id)
    ).all()
    closed = [eid for eid, window, last in finished if last + timedelta(days=window) <= today]
    keys = {eid: f"{EXPERIMENT_READY}:{eid}" for eid in closed}
    sent = webhooks.emitted(session, keys.values())
    events = []
    for experiment_id in (eid for eid in closed if keys[eid] not in sent):
        outcome = result.experiment_result(
            session, experiment_id, as_of=today, seed=0, default_hourly=default_hourly, currency=currency
        )
        name = session.scalar(select(Experiment.name).where(Experiment.id == experiment_id))
        data = {"name": name, **outcome.model_dump(mode="json", exclude={"meta"})}
        events.append(webhooks.Emitted(data, dedupe_key=keys[experiment_id]))
    return webhooks.emit(session, EXPERIMENT_READY, events)
