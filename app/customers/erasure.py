"""Erasure (SPEC §11): a customer and every row about it, gone in one transaction.

Costs keep their amount (the money was spent) and lose their link to the customer and to its interventions;
everything else about the customer is deleted: its revenue events and the ledger derived from them (arr_change,
arr_month), usage events and their daily rollup, renewals, interventions, health snapshots and experiment
assignments. Metrics read afterwards are those of a book where the customer never existed. The audit log keeps
only a SHA-256 of its id.
"""

import hashlib
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete, or_, select, update
from sqlalchemy.orm import Session

from app import records
from app.audit import service as audit
from app.customers.schemas import ErasureOut
from app.models import (
    ArrChange,
    ArrMonth,
    Cost,
    Customer,
    ExperimentAssignment,
    HealthSnapshot,
    Intervention,
    Renewal,
    RevenueEvent,
)
from app.usage import service as usage


def id_digest(customer_id: str) -> str:
    """What the audit log keeps of an erased customer: the SHA-256 of its id, hex."""
    return hashlib.sha256(customer_id.encode()).hexdigest()


def erase_customer(session: Session, customer_id: str, *, actor: audit.Actor) -> ErasureOut:
    """Delete the customer and every row about it (NotFound when there is none), and record the erasure in the
    audit log under a digest of the id; the caller commits."""
    records.get_record(session, Customer, customer_id)
    interventions = list(session.scalars(select(Intervention.id).where(Intervention.customer_id == customer_id)))
    linked = Cost.customer_id == customer_id
    if interventions:
        linked = or_(linked, Cost.intervention_id.in_(interventions))
    unlinked = _count(session, update(Cost).where(linked).values(customer_id=None, intervention_id=None))

    def gone(model: Any) -> int:
        return _count(session, delete(model).where(model.customer_id == customer_id))

    counts = {
        "experiment_assignments": gone(ExperimentAssignment),
        "health_snapshots": gone(HealthSnapshot),
        "usage_events": usage.erase_events(session, customer_id),
        "usage_days": usage.erase_usage_rollup(session, customer_id),
        "renewals": gone(Renewal),
        "interventions": gone(Intervention),
        "ledger_months": gone(ArrMonth),
        "ledger_changes": gone(ArrChange),
        "revenue_events": gone(RevenueEvent),
    }
    session.execute(delete(Customer).where(Customer.id == customer_id))
    erased = ErasureOut(customer=customer_id, costs_unlinked=unlinked, **counts)
    obj = f"customer/sha256:{id_digest(customer_id)}"
    audit.record(session, actor, "customer.erase", obj, after=erased.model_dump(exclude={"customer"}))
    return erased


def _count(session: Session, statement: Executable) -> int:
    """Rows a DELETE or UPDATE touched."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)
