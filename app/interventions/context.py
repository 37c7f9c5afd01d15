"""What an intervention knew when it started (SPEC §5 context), and the cost records linked to it."""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.costs.models import Cost
from app.health import service as health_service
from app.ledger import service as ledger_service
from app.money import from_cents
from app.renewals.models import Renewal

RENEWAL_HORIZON_DAYS = 90


def capture(session: Session, customer_id: str, started_on: date, explicit_at_risk: bool | None) -> dict[str, Any]:
    """Health, weakest components, ARR and the next renewal as of the start date; `at_risk` per SPEC §5.

    At risk: the red band, or the yellow band with a renewal due within 90 days; an explicit value wins.
    """
    arr_cents = sum(ledger_service.arr_by_product(session, customer_id, started_on).values())
    health = _health(session, customer_id, started_on)
    renewal = _next_renewal(session, customer_id, started_on)
    days_to_renewal = (renewal - started_on).days if renewal else None
    band = health.get("band")
    derived = band == "red" or (
        band == "yellow" and days_to_renewal is not None and days_to_renewal <= RENEWAL_HORIZON_DAYS
    )
    return {
        "as_of": started_on.isoformat(),
        "health_score": health.get("score"),
        "health_model_version": health.get("model_version"),
        "band": band,
        "weakest_components": health.get("weakest", []),
        "arr": float(from_cents(arr_cents) or Decimal(0)),
        "next_renewal_due": renewal.isoformat() if renewal else None,
        "days_to_renewal": days_to_renewal,
        "at_risk": explicit_at_risk if explicit_at_risk is not None else derived,
        "at_risk_source": "explicit" if explicit_at_risk is not None else "derived",
    }


WEAKEST = 3


def _health(session: Session, customer_id: str, as_of: date) -> dict[str, Any]:
    """Score, band and the weakest scored components on `as_of` (point in time: events up to that day)."""
    spec = health_service.current_model(session)
    health = health_service.compute_health(session, as_of=as_of, customers=[customer_id], spec=spec)[customer_id]
    scored = sorted((c for c in health.components if c.score is not None), key=lambda c: (c.score, c.name))
    return {
        "score": health.score,
        "band": health.band,
        "model_version": spec.version,
        "weakest": [{"name": c.name, "score": c.score} for c in scored[:WEAKEST]],
    }


def _next_renewal(session: Session, customer_id: str, as_of: date) -> date | None:
    """Due date of the customer's next open renewal on or after `as_of`."""
    return session.scalar(
        select(func.min(Renewal.due_date)).where(
            Renewal.customer_id == customer_id, Renewal.status == "open", Renewal.due_date >= as_of
        )
    )


def linked_costs(session: Session, intervention_ids: set[str]) -> dict[str, Decimal]:
    """Σ of cost records linked to each intervention."""
    if not intervention_ids:
        return {}
    rows = session.execute(
        select(Cost.intervention_id, func.sum(Cost.amount))
        .where(Cost.intervention_id.in_(sorted(intervention_ids)))
        .group_by(Cost.intervention_id)
    )
    return {iid: amount for iid, amount in rows if iid is not None}
