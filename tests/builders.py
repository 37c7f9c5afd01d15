"""One builder per table: keyword-only, sensible defaults, written through the service functions the API uses.

Every builder flushes (the services do) and none commits: a test that reads through the HTTP client commits its
session first. Ids default to fresh ones (`fresh_id`); pass `id=` when the test names the row.

Table: builder (through).
- customer: `make_customer`, `make_customers` (customers.service.upsert_customers)
- team_member: `make_team_member` (customers.service.upsert_team_members)
- revenue_event: `revenue` + `post_revenue` (ledger.ingest.ingest_revenue_events); arr_change and arr_month follow;
  `clear_ledger` empties all three
- renewal: `make_renewal` (renewals.service.upsert_renewals)
- cost: `make_cost` (costs.service.upsert_costs)
- usage_event: `usage_event` + `post_usage` (usage.service.ingest_usage_events)
- health_model: `make_health_model` (health.service.put_health_model)
- health_snapshot: `make_snapshot`, a row as health.service.snapshot_health stores it (no service writes one row)
- churn_model: `make_churn_model`, a fit as health.churn.refit stores it (refit needs a whole history)
- intervention: `make_intervention`, `move_intervention` (interventions.service.create_intervention, .transition)
- experiment: `make_experiment` (experiments.service.put_experiment)
- experiment_assignment: `assign` (experiments.service.assign)
- target: `make_target` (scorecard.service.put_target)
- closed_month: `make_closed_month` (scorecard.service.close_month)
- api_key: `make_api_key` (keys.service.create_key)
- webhook, webhook_topic: `make_webhook` (webhooks.subscriptions.put_webhook)
- webhook_event: `make_event` (webhooks.service.emit); webhook_delivery and webhook_attempt come from the worker's
  `app.webhooks.delivery` functions
- job_run: `make_job_run` (jobs.service.start_run, .finish_run)
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.config import Settings
from app.costs import service as costs_service
from app.costs.schemas import CostBatchItem
from app.customers import service as customers_service
from app.customers.schemas import CustomerBatchItem, TeamMemberBatchItem
from app.db import utcnow
from app.experiments import service as experiments_service
from app.experiments.schemas import AssignResult, ExperimentIn, ExperimentOut
from app.health import service as health_service
from app.health.schemas import HealthModelIn, HealthModelOut
from app.interventions import service as interventions_service
from app.interventions.schemas import InterventionIn, TransitionIn
from app.jobs import service as jobs_service
from app.keys import service as keys_service
from app.keys.service import Scope
from app.ledger import ingest
from app.ledger.schemas import EventBatchResult, RevenueEventIn
from app.models import ArrChange, ArrMonth, ChurnModel, HealthSnapshot, Intervention, RevenueEvent
from app.renewals import service as renewals_service
from app.renewals.schemas import RenewalBatchItem
from app.scorecard import service as scorecard_service
from app.scorecard.schemas import ScorecardOut, TargetIn, TargetOut
from app.usage import service as usage_service
from app.usage.schemas import EventBatchResult as UsageBatchResult
from app.usage.schemas import UsageEventIn
from app.webhooks import service as webhooks_service
from app.webhooks import subscriptions
from app.webhooks.schemas import WebhookIn, WebhookOut

Amount = int | float | str | Decimal

_counter = iter(range(1, 10**9))


def fresh_id(prefix: str) -> str:
    """An id no other builder call has returned in this run."""
    return f"{prefix}{next(_counter)}"


def _day(day: str | date) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


# customer, team_member


def make_customer(session: Session, *, id: str, **fields: object) -> None:
    """Upsert one customer (segment, tier, csm, ... as keywords)."""
    customers_service.upsert_customers(session, [CustomerBatchItem.model_validate({"id": id, **fields})])


def make_customers(session: Session, ids: Sequence[str], **fields: object) -> None:
    """Upsert several customers sharing the same fields (none by default)."""
    items = [CustomerBatchItem.model_validate({"id": cid, **fields}) for cid in ids]
    customers_service.upsert_customers(session, items)


def make_team_member(session: Session, *, id: str, role: str | None = "csm", **fields: object) -> None:
    """Upsert one team member (hourly_cost, started_on, ended_on, ... as keywords)."""
    item = TeamMemberBatchItem.model_validate({"id": id, "role": role, **fields})
    customers_service.upsert_team_members(session, [item])


# revenue_event (the ledger: arr_change and arr_month are rebuilt from it)


def revenue(customer: str, day: str, arr: Amount, *, product: str = "core", id: str | None = None) -> RevenueEventIn:
    """A revenue event with a fresh id unless one is given."""
    return RevenueEventIn(
        id=id or fresh_id("ev"),
        customer=customer,
        product=product,
        effective_date=date.fromisoformat(day),
        arr=Decimal(str(arr)),
    )


def post_revenue(session: Session, *events: RevenueEventIn) -> EventBatchResult:
    """Ingest events as one batch."""
    return ingest.ingest_revenue_events(session, list(events))


def clear_ledger(session: Session) -> None:
    """Empty revenue_event, arr_change and arr_month: each Hypothesis example starts on an empty ledger."""
    for table in (ArrMonth, ArrChange, RevenueEvent):
        session.execute(delete(table))


# renewal


def make_renewal(
    session: Session,
    *,
    customer: str,
    due_date: str,
    arr_up_for_renewal: Amount = 1000,
    status: str = "open",
    id: str | None = None,
    **fields: object,
) -> str:
    """Upsert one renewal (booked_arr, closed_on as keywords); returns its id."""
    rid = id or fresh_id("r")
    item = RenewalBatchItem.model_validate(
        {
            "id": rid,
            "customer": customer,
            "due_date": due_date,
            "arr_up_for_renewal": arr_up_for_renewal,
            "status": status,
            **fields,
        }
    )
    renewals_service.upsert_renewals(session, [item])
    return rid


# cost


def make_cost(
    session: Session,
    *,
    month: str,
    amount: Amount,
    team: str = "customer_success",
    category: str = "salary",
    id: str | None = None,
    **fields: object,
) -> str:
    """Upsert one cost (customer, motion, team_member, intervention as keywords); returns its id."""
    cid = id or fresh_id("k")
    item = CostBatchItem.model_validate(
        {"id": cid, "month": month, "amount": amount, "team": team, "category": category, **fields}
    )
    costs_service.upsert_costs(session, [item])
    return cid


# usage_event


def usage_event(
    customer: str,
    kind: str,
    occurred_at: str | datetime,
    *,
    value: Amount = 1,
    id: str | None = None,
    **properties: Any,
) -> UsageEventIn:
    """A usage event with a fresh id unless one is given; a bare day means midnight UTC."""
    at = occurred_at if isinstance(occurred_at, datetime) else datetime.fromisoformat(occurred_at)
    return UsageEventIn(
        id=id or fresh_id("u"),
        customer=customer,
        kind=kind,
        occurred_at=at if at.tzinfo else at.replace(tzinfo=UTC),
        value=Decimal(str(value)),
        properties=properties,
    )


def post_usage(session: Session, *events: UsageEventIn) -> UsageBatchResult:
    """Ingest usage events as one batch."""
    return usage_service.ingest_usage_events(session, list(events))


# health_model, health_snapshot, churn_model


# In force for every day a test reads unless told otherwise: tests score days long before the day they run.
MODEL_EFFECTIVE_FROM = date(2000, 1, 1)


def make_health_model(
    session: Session,
    *,
    components: Sequence[Mapping[str, Any]],
    bands: Mapping[str, Any] | None = None,
    effective_from: str | date | None = MODEL_EFFECTIVE_FROM,
    today: str | date | None = None,
) -> HealthModelOut:
    """Store the next health model version, in force from `effective_from` (None: from `today`, default the real
    today, as a PUT without one)."""
    body: dict[str, Any] = {"components": list(components)}
    if bands is not None:
        body["bands"] = dict(bands)
    if effective_from is not None:
        body["effective_from"] = str(effective_from)
    stored_on = _day(today) if today is not None else utcnow().date()
    return health_service.put_health_model(session, HealthModelIn.model_validate(body), today=stored_on)


def make_snapshot(
    session: Session,
    *,
    customer: str,
    day: str | date,
    score: float | None = 50.0,
    band: str | None = None,
    coverage: float = 1.0,
    model_version: int = 1,
    components: Sequence[Mapping[str, Any]] = (),
) -> None:
    """One stored health snapshot, as `health.service.snapshot_health` writes it (the customer must exist)."""
    session.add(
        HealthSnapshot(
            customer_id=customer,
            snapshot_date=_day(day),
            score=score,
            band=band,
            coverage=coverage,
            model_version=model_version,
            components=[dict(c) for c in components],
        )
    )
    session.flush()


def make_churn_model(
    session: Session, *, intercept: float, coefficient: float, examples: int = 500, churns: int = 40
) -> ChurnModel:
    """A fitted churn model, as `health.churn.refit` stores it."""
    row = ChurnModel(intercept=intercept, coefficient=coefficient, examples=examples, churns=churns)
    session.add(row)
    session.flush()
    return row


# intervention


def make_intervention(
    session: Session,
    *,
    customer: str,
    started_on: str | None = None,
    status: str = "in_progress",
    type: str = "health_check",
    framework: str = "loss_aversion",
    reason: str = "test",
    expected: Mapping[str, Any] | None = None,
    id: str | None = None,
    **fields: object,
) -> Intervention:
    """Create an intervention (started on `started_on`, or today, unless status is planned)."""
    body: dict[str, Any] = {
        "id": id or fresh_id("iv"),
        "customer": customer,
        "type": type,
        "framework": framework,
        "reason": reason,
        "status": status,
        "expected": expected or {"metric": "health_score", "change": 10, "unit": "points", "measure_after_days": 30},
        **fields,
    }
    if started_on is not None:
        body["started_on"] = started_on
    return interventions_service.create_intervention(session, InterventionIn.model_validate(body))


def move_intervention(
    session: Session, *, id: str, move: str, on: str | None = None, note: str | None = None
) -> Intervention:
    """Start, complete or cancel an intervention on the day `on` (default today)."""
    day = {"start": "started_on", "complete": "completed_on", "cancel": "cancelled_on"}[move]
    body = TransitionIn.model_validate({day: on, "note": note})
    return interventions_service.transition(session, id, move, body)


# experiment, experiment_assignment


def make_experiment(
    session: Session,
    *,
    id: str | None = None,
    play: Mapping[str, str] | None = None,
    starts_on: str = "2026-01-01",
    ends_on: str = "2026-12-31",
    **fields: object,
) -> ExperimentOut:
    """Create an experiment (a loss-aversion win_back play over 2026 unless told otherwise)."""
    body = {
        "name": "test experiment",
        "play": dict(play or {"type": "win_back", "framework": "loss_aversion"}),
        "starts_on": starts_on,
        "ends_on": ends_on,
        **fields,
    }
    view, _ = experiments_service.put_experiment(session, id or fresh_id("xp"), ExperimentIn.model_validate(body))
    return view


def assign(session: Session, *, experiment: str, as_of: str | date) -> AssignResult:
    """Enroll the customers eligible on `as_of`."""
    return experiments_service.assign(session, experiment, as_of=_day(as_of))


# target, closed_month


def make_target(session: Session, *, metric: str, value: Amount, direction: str = "higher_is_better") -> TargetOut:
    """Set the scorecard target of `metric`."""
    target, _ = scorecard_service.put_target(
        session, metric, TargetIn.model_validate({"value": value, "direction": direction})
    )
    return target


def make_closed_month(session: Session, *, month: str, settings: Settings | None = None) -> ScorecardOut:
    """Close `month` (it must have ended): its scorecard is frozen as it reads now."""
    return scorecard_service.close_month(session, month, settings=settings or Settings())


# api_key


def make_api_key(session: Session, *, scopes: Sequence[Scope] = (Scope.admin,), name: str = "test") -> str:
    """Create an API key; returns its secret."""
    return keys_service.create_key(session, name=name, scopes=list(scopes)).secret


# webhook, webhook_event, job_run


def make_webhook(
    session: Session,
    *,
    id: str | None = None,
    url: str = "http://127.0.0.1:9/hook",
    events: Sequence[str] = ("revenue.churned",),
    secret: str | None = None,
) -> WebhookOut:
    """Create or replace a subscription (private addresses allowed, as tests run their receivers locally); the view
    carries the generated secret when one was generated."""
    body = WebhookIn.model_validate({"url": url, "events": list(events), "secret": secret})
    view, _ = subscriptions.put_webhook(session, id or fresh_id("wh"), body, allow_private=True)
    return view


def make_event(
    session: Session,
    *,
    type: Any = "revenue.churned",
    data: Mapping[str, Any] | None = None,
    customer: str | None = None,
    dedupe_key: str | None = None,
) -> int:
    """Write one outbox event (written only when a subscription wants its type); how many were written."""
    event = webhooks_service.Emitted(data or {"note": "test"}, customer_id=customer, dedupe_key=dedupe_key)
    return webhooks_service.emit(session, type, [event])


def make_job_run(
    session: Session,
    *,
    job: str = "health.snapshot",
    slot: datetime | None = None,
    started: datetime | None = None,
    finished: datetime | None = None,
    status: Any = "succeeded",
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> int:
    """A job run as the worker records it (running when `status` is running); its number."""
    start = started or datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    trigger = "schedule" if slot is not None else "manual"
    run_id = jobs_service.start_run(session, job, slot=slot, trigger=trigger, worker="test:1", now=start)
    assert run_id is not None
    if status != "running":
        jobs_service.finish_run(session, run_id, status=status, now=finished or start, result=result, error=error)
    return run_id
