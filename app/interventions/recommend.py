"""Which intervention fits a customer now, ranked by what has worked in this company's own history.

The situation comes from the same context an intervention captures at start (app.interventions.context). Each
situation has a default playbook (framework and types, SPEC §3 frameworks); past interventions started in the
same situation (recorded in their context) rank the candidates by their
outcome rate, smoothed toward 50 % so that two lucky results do not outrank forty good ones, then by their
health lift over same-band peers.
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import formulas
from app.customers import service as customers_service
from app.interventions import context as context_capture
from app.interventions import service as interventions_service
from app.interventions.schemas import Candidate, Evidence, RecommendationOut
from app.models import Intervention
from app.types import Situation

PLAYBOOK: dict[str, list[tuple[str, str]]] = {
    "at_risk": [
        ("loss_aversion", "executive_alignment"),
        ("loss_aversion", "win_back"),
        ("loss_aversion", "health_check"),
    ],
    "onboarding": [("commitment_escalation", "onboarding_call"), ("commitment_escalation", "training")],
    "low_adoption": [("habit_formation", "adoption_campaign"), ("habit_formation", "training")],
    "expansion": [("social_proof", "expansion_review"), ("social_proof", "qbr")],
}
PRIOR_RATE, PRIOR_WEIGHT = Decimal("0.5"), Decimal(5)
HISTORY_LIMIT = 200


def _same_situation(row: Intervention, situation: Situation) -> bool:
    return (row.context or {}).get("situation") == situation


def _evidence(session: Session, situation: Situation, today: date) -> dict[tuple[str, str], Evidence]:
    """Outcome rate and health lift of past interventions per (framework, type), in this situation."""
    rows = [
        r
        for r in session.scalars(
            select(Intervention)
            .where(Intervention.started_on.is_not(None))
            .order_by(Intervention.started_on.desc())
            .limit(HISTORY_LIMIT)
        )
        if r.status != "cancelled" and _same_situation(r, situation)
    ]
    deltas = interventions_service.health_deltas(session, rows, today)
    grouped: dict[tuple[str, str], list[Intervention]] = defaultdict(list)
    for row in rows:
        grouped[(row.framework, row.type)].append(row)
    evidence = {}
    for key, members in grouped.items():
        outcomes = [
            o.get("met") for o in (m.outcome_override or m.outcome or {} for m in members) if o.get("met") is not None
        ]
        lifts = [lift for m in members if m.id in deltas and (lift := formulas.health_lift(*deltas[m.id])) is not None]
        met = sum(1 for o in outcomes if o)
        evidence[key] = Evidence(
            interventions=len(members),
            measured=len(outcomes),
            met=met,
            outcome_rate=Decimal(met) / len(outcomes) if outcomes else None,
            avg_health_lift=sum(lifts, Decimal(0)) / len(lifts) if lifts else None,
        )
    return evidence


def _rank_score(evidence: Evidence) -> Decimal:
    # Smoothed outcome rate: (met + prior × weight) / (measured + weight).
    return (Decimal(evidence.met) + PRIOR_RATE * PRIOR_WEIGHT) / (Decimal(evidence.measured) + PRIOR_WEIGHT)


def recommend(session: Session, customer_id: str, *, as_of: date, today: date) -> RecommendationOut:
    """Candidates for the customer's situation, best first, with the evidence behind each."""
    customers_service.get_customer(session, customer_id)
    context = context_capture.capture(session, customer_id, as_of, None)
    situation, reasons = context["situation"], context["situation_reasons"]
    history = _evidence(session, situation, today)
    candidates: dict[tuple[str, str], Any] = {key: ("history", ev) for key, ev in history.items()}
    empty = Evidence(interventions=0, measured=0, met=0, outcome_rate=None, avg_health_lift=None)
    for key in PLAYBOOK[situation]:
        candidates.setdefault(key, ("playbook", empty))
    ranked = sorted(
        candidates.items(),
        key=lambda item: (
            -_rank_score(item[1][1]),
            -(item[1][1].avg_health_lift or Decimal(0)),
            PLAYBOOK[situation].index(item[0]) if item[0] in PLAYBOOK[situation] else 99,
            item[0],
        ),
    )
    return RecommendationOut(
        customer=customer_id,
        as_of=as_of,
        situation=situation,
        reasons=reasons,
        recommendations=[
            Candidate(
                framework=f, type=t, score=_rank_score(ev).quantize(Decimal("0.0001")), source=source, evidence=ev
            )
            for (f, t), (source, ev) in ranked
        ],
    )
