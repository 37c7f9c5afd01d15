"""`renewal.due` (SPEC §11): a webhook event once per open renewal and notice threshold, from the daily job.

With thresholds 90 and 30 (`CSROI_RENEWAL_NOTICE_DAYS`), an open renewal due in 75 days gets its 90-day notice; 45
days later, due in 30, its 30-day notice. A renewal first seen already inside the 30 days (created late, or a new
subscription) gets only the 30-day notice: the nearest threshold it is within, never a stale one. Renewals already
past due get none. The dedupe key holds the renewal, the threshold and the due date: a renewal moved to a later date
is noticed again for its new date. Set-based: one `INSERT … SELECT` whatever the number of renewals.
"""

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import BigInteger, String, case, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from app.models import Customer, Renewal
from app.webhooks import service as webhooks

RENEWAL_DUE = "renewal.due"


def emit_due_notices(session: Session, *, today: date, thresholds: Sequence[int]) -> int:
    """Write the renewal.due events owed on `today`; how many (notices already sent are skipped)."""
    if not thresholds or not webhooks.wanted(session, [RENEWAL_DUE]):
        return 0
    return webhooks.emit_select(session, _notices(session, today, sorted(set(thresholds))))


def _notices(session: Session, today: date, ascending: list[int]) -> webhooks.EventRows:
    days_left = webhooks.days_from(session, today, Renewal.due_date)
    # The nearest threshold the renewal is within: the smallest one at or above the days left.
    threshold = case(*[(days_left <= t, webhooks.integer(t)) for t in ascending])
    dedupe = (
        literal(f"{RENEWAL_DUE}:")
        + Renewal.id
        + literal(":")
        + sql_cast(threshold, String)
        + literal(":")
        + webhooks.date_text(session, Renewal.due_date)
    )
    data = webhooks.json_object(
        session,
        {
            "renewal": Renewal.id,
            "customer": Renewal.customer_id,
            "customer_name": Customer.name,
            "due_date": Renewal.due_date,
            "days_until_due": days_left,
            "notice_days": threshold,
            "arr_up_for_renewal": webhooks.money(session, sql_cast(Renewal.arr_up_for_renewal, BigInteger)),
        },
    )
    return (
        select(
            literal(RENEWAL_DUE).label("type"),
            Renewal.customer_id.label("customer_id"),
            dedupe.label("dedupe_key"),
            data.label("data"),
        )
        .join(Customer, Customer.id == Renewal.customer_id)
        .where(
            Renewal.status == "open",
            Renewal.due_date >= today,
            Renewal.due_date <= today + timedelta(days=ascending[-1]),
        )
    )
