"""Churn probability (SPEC §6): a logistic fit on the company's own snapshots, per-band defaults until then."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ArrChange, ChurnModel, HealthSnapshot

CHURN_HORIZON_DAYS = 90


@dataclass(frozen=True)
class ChurnFit:
    """P(churn within 90 days) = 1 / (1 + exp(-(intercept + coefficient * score)))."""

    intercept: float
    coefficient: float
    examples: int
    churns: int


def fit_churn(pairs: Sequence[tuple[float, bool]], *, min_churns: int) -> ChurnFit | None:
    """A logistic regression of churned-within-90-days on score; None with fewer than `min_churns` churns."""
    churns = sum(1 for _, churned in pairs if churned)
    if churns < min_churns or churns == len(pairs):
        return None  # too few churns (or no survivors) to say anything better than the defaults
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - heavy import, only when fitting

    model = LogisticRegression()
    model.fit([[score] for score, _ in pairs], [int(churned) for _, churned in pairs])
    return ChurnFit(float(model.intercept_[0]), float(model.coef_[0][0]), len(pairs), churns)


def labelled_snapshots(
    session: Session, churn_dates: Mapping[str, Sequence[date]], *, today: date
) -> list[tuple[float, bool]]:
    """(score, churned within 90 days) for every scored snapshot whose 90-day outcome is already known."""
    stmt = select(HealthSnapshot.customer_id, HealthSnapshot.snapshot_date, HealthSnapshot.score).where(
        HealthSnapshot.score.is_not(None),
        HealthSnapshot.snapshot_date <= today - timedelta(days=CHURN_HORIZON_DAYS),
    )
    pairs: list[tuple[float, bool]] = []
    for customer_id, day, score in session.execute(stmt):
        if score is None:
            continue
        horizon = day + timedelta(days=CHURN_HORIZON_DAYS)
        churned = any(day < churned_on <= horizon for churned_on in churn_dates.get(customer_id, ()))
        pairs.append((float(score), churned))
    return pairs


def churn_dates(session: Session) -> dict[str, list[date]]:
    """Each customer's dates where its total ARR fell to 0: the ledger's churn movements (SPEC §3)."""
    # A churn is customer-level (total > 0 -> 0) but stored per product: one customer leaving two products
    # on one day is two rows and one churn, hence DISTINCT.
    stmt = (
        select(ArrChange.customer_id, ArrChange.effective_date)
        .where(ArrChange.movement_type == "churn")
        .distinct()
        .order_by(ArrChange.customer_id, ArrChange.effective_date)
    )
    dates: dict[str, list[date]] = {}
    for customer_id, day in session.execute(stmt):
        dates.setdefault(customer_id, []).append(day)
    return dates


def refit(session: Session, *, today: date, min_churns: int) -> ChurnModel | None:
    """Fit on the stored snapshots and churns; store and return the model, or None if too few churns."""
    fit = fit_churn(labelled_snapshots(session, churn_dates(session), today=today), min_churns=min_churns)
    if fit is None:
        return None
    row = ChurnModel(intercept=fit.intercept, coefficient=fit.coefficient, examples=fit.examples, churns=fit.churns)
    session.add(row)
    session.flush()
    return row
