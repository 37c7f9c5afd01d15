"""Which intervention fits a customer now, ranked by what has worked in this company's own history.

The situation comes from the same context an intervention captures at start (app.interventions.context). Each
situation has a default playbook (framework and types, SPEC §3 frameworks); past interventions started in the
same situation (recorded in their context) rank the candidates by their
outcome rate, smoothed toward 50 % so that two lucky results do not outrank forty good ones, then by their
health lift over same-band peers.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, func, or_, select
from sqlalchemy.orm import Session

from app import formulas
from app.customers import service as customers_service
from app.interventions import context as context_capture
from app.interventions import lift as health_lift
from app.interventions import outcome as outcome_measure
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
HISTORY_LIMIT = 200  # the latest measured interventions per situation that the evidence reads


def _in_situation(situation: Situation) -> list[ColumnElement[bool]]:
    return [
        Intervention.started_on.is_not(None),
        Intervention.status != "cancelled",
        Intervention.context["situation"].as_string() == situation,
    ]


def _due_by(session: Session, today: date) -> ColumnElement[bool]:
    """started_on + measure_after_days ≤ today, in the database's own date arithmetic."""
    days = Intervention.expected["measure_after_days"].as_integer()
    if session.get_bind().dialect.name == "postgresql":
        due: ColumnElement[bool] = Intervention.started_on + days <= today
        return due
    return func.date(Intervention.started_on, func.printf("+%d days", days), type_=Date) <= today


def _evidence(session: Session, situation: Situation, today: date) -> dict[tuple[str, str], Evidence]:
    """Outcome rate and health lift per (framework, type) of the interventions started in this situation,
    however old: the latest HISTORY_LIMIT measured ones (a stored or manual outcome, or due by `today`)."""
    totals = {
        (framework, kind): count
        for framework, kind, count in session.execute(
            select(Intervention.framework, Intervention.type, func.count())
            .where(*_in_situation(situation))
            .group_by(Intervention.framework, Intervention.type)
        )
    }
    measured = or_(
        Intervention.outcome.is_not(None), Intervention.outcome_override.is_not(None), _due_by(session, today)
    )
    rows = list(
        session.scalars(
            select(Intervention)
            .where(*_in_situation(situation), measured)
            .order_by(Intervention.started_on.desc(), Intervention.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )
    due = outcome_measure.measure_many(session, [r for r in rows if r.outcome is None], today)
    deltas = health_lift.health_deltas(session, rows, today, bands={r.id: (r.context or {}).get("band") for r in rows})
    grouped: dict[tuple[str, str], list[Intervention]] = {key: [] for key in totals}
    for row in rows:
        grouped.setdefault((row.framework, row.type), []).append(row)
    evidence = {}
    for key, members in grouped.items():
        outcomes = [
            o.get("met")
            for o in (m.outcome_override or m.outcome or due.get(m.id) or {} for m in members)
            if o.get("met") is not None
        ]
        lifts = [lift for m in members if m.id in deltas and (lift := formulas.health_lift(*deltas[m.id])) is not None]
        met = sum(1 for o in outcomes if o)
        evidence[key] = Evidence(
            interventions=totals.get(key, len(members)),
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
