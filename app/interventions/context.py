"""What an intervention knew when it started (SPEC §5 context), and the cost records linked to it.

The context also records the customer's situation (at_risk, onboarding, low_adoption, expansion), which the
recommendations learn from.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import risk
from app.db import in_values
from app.health import service as health_service
from app.ledger import service as ledger_service
from app.models import Cost, Renewal
from app.money import from_cents

WEAKEST = 3
# Components over these kinds measure adoption and engagement; one scoring below LOW_SCORE is low adoption.
ADOPTION_KINDS = {"login", "feature_used", "milestone_completed", "active_users"}
LOW_SCORE = 40.0
ONBOARDING_DAYS = 90


def capture(session: Session, customer_id: str, started_on: date, explicit_at_risk: bool | None) -> dict[str, Any]:
    """Health, weakest components, ARR and the next renewal as of the start date; `at_risk` per SPEC §5.

    At risk: the red band, or the yellow band with a renewal due within 90 days; an explicit value wins.
    """
    arr_cents = ledger_service.total_arr(session, customer_id, started_on)
    health = _health(session, customer_id, started_on)
    renewal = _next_renewal(session, customer_id, started_on)
    days_to_renewal = (renewal - started_on).days if renewal else None
    band = health.get("band")
    derived = risk.at_risk(band, days_to_renewal)
    at_risk = explicit_at_risk if explicit_at_risk is not None else derived
    situation, reasons = _situation(
        session, customer_id, started_on, at_risk=at_risk, health=health, days_to_renewal=days_to_renewal
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
        "at_risk": at_risk,
        "at_risk_source": "explicit" if explicit_at_risk is not None else "derived",
        "situation": situation,
        "situation_reasons": reasons,
    }


def _health(session: Session, customer_id: str, as_of: date) -> dict[str, Any]:
    """Score, band and the weakest scored components on `as_of` (point in time: events up to that day)."""
    spec = health_service.model_on(session, as_of)  # the version in force on the start day (SPEC §10)
    health = health_service.health_on(session, customer_id, as_of, spec=spec)
    scored = sorted((c for c in health.components if c.score is not None), key=lambda c: (c.score, c.name))
    kinds = {c.name: c.kind for c in spec.model.components}
    low_adoption = [
        c.name for c in scored if c.score is not None and c.score < LOW_SCORE and kinds.get(c.name) in ADOPTION_KINDS
    ]
    return {
        "score": health.score,
        "band": health.band,
        "model_version": spec.version,
        "weakest": [{"name": c.name, "score": c.score} for c in scored[:WEAKEST]],
        "low_adoption": low_adoption,
    }


def _situation(
    session: Session,
    customer_id: str,
    as_of: date,
    *,
    at_risk: bool,
    health: dict[str, Any],
    days_to_renewal: int | None,
) -> tuple[str, list[str]]:
    """The customer's situation, first that holds: at_risk, onboarding, low_adoption, expansion.

    Recorded in the context so that recommendations can learn from interventions run in the same situation.
    """
    band = health.get("band")
    if at_risk:
        due = f", renewal due in {days_to_renewal} days" if days_to_renewal is not None else ""
        return "at_risk", [f"health band {band}{due}" if band else "marked at risk"]
    first_paid = ledger_service.first_paid(session, customer_id, as_of)
    if first_paid is not None and first_paid <= as_of < first_paid + timedelta(days=ONBOARDING_DAYS):
        return "onboarding", [f"first paid on {first_paid}, {(as_of - first_paid).days} days ago"]
    if health.get("low_adoption"):
        return "low_adoption", [f"{name} scores below {LOW_SCORE:g}" for name in health["low_adoption"]]
    return "expansion", [f"health band {band}" if band else "no health data: treated as steady"]


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
        .where(in_values(session, Cost.intervention_id, intervention_ids))
        .group_by(Cost.intervention_id)
    )
    return {iid: amount for iid, amount in rows if iid is not None}
