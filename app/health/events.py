"""Health's webhook events (SPEC §11), written when a day's snapshot is stored.

- `health.band_changed`: a customer's band on the day differs from its band in its previous snapshot.
- `customer.at_risk`: a customer at risk on the day by SPEC §5's rule (red, or yellow with an open renewal due within
  90 days) that was not at risk at its previous snapshot (or had none).

Sent only for the newest snapshot day: a backfill of past days (`csroi health snapshot --date … --until …`) replays
history without alerting anyone about old changes. Each event has a dedupe key of customer and day, so storing a
day's snapshot again sends nothing twice. Set-based: one `INSERT … SELECT` per event type.
"""

from datetime import date
from typing import Any

from sqlalchemy import Integer, and_, exists, func, literal, literal_column, not_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from app import risk
from app.ledger import service as ledger
from app.models import Customer, HealthSnapshot, Renewal
from app.webhooks import service as webhooks

BAND_CHANGED, AT_RISK = "health.band_changed", "customer.at_risk"


def emit_snapshot_events(session: Session, day: date) -> int:
    """Write the band changes and new at-risk customers of `day`'s stored snapshot; how many events."""
    wanted = webhooks.wanted(session, [BAND_CHANGED, AT_RISK])
    if not wanted:
        return 0
    newest = session.scalar(select(func.max(HealthSnapshot.snapshot_date)))
    if newest is None or newest > day:
        return 0
    return sum(webhooks.emit_select(session, _events(session, day, kind)) for kind in sorted(wanted))


def _plus_days(session: Session, day: webhooks.SqlValue, days: int) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        later: ColumnElement[Any] = day + literal_column(str(int(days)))
        return later
    return func.date(day, f"+{int(days)} days")


def _at_risk(session: Session, band: webhooks.SqlValue, customer: webhooks.SqlValue, on: Any) -> ColumnElement[Any]:
    """SPEC §5's rule as SQL: red, or yellow with an open renewal due from `on` to 90 days after it."""
    on_column = literal(on, HealthSnapshot.snapshot_date.type) if isinstance(on, date) else on
    renewal_soon = exists().where(
        Renewal.customer_id == customer,
        Renewal.status == "open",
        Renewal.due_date >= on_column,
        Renewal.due_date <= _plus_days(session, on_column, risk.RENEWAL_HORIZON_DAYS),
    )
    return risk.at_risk_sql(band, renewal_soon)


def _events(session: Session, day: date, kind: str) -> webhooks.EventRows:
    """The event rows (type, customer_id, dedupe_key, data) of one kind for `day`."""
    now = aliased(HealthSnapshot, name="now_snapshot")
    before = aliased(HealthSnapshot, name="before_snapshot")
    previous_day = (
        select(HealthSnapshot.customer_id, func.max(HealthSnapshot.snapshot_date).label("day"))
        .where(HealthSnapshot.snapshot_date < day)
        .group_by(HealthSnapshot.customer_id)
        .subquery("previous_day")
    )
    arr = ledger.arr_as_of(day).subquery("arr")
    at_risk_now = _at_risk(session, now.band, now.customer_id, day)
    if kind == BAND_CHANGED:
        condition = and_(now.band.is_not(None), before.band.is_not(None), now.band != before.band)
    else:
        at_risk_before = and_(
            before.band.is_not(None), _at_risk(session, before.band, before.customer_id, before.snapshot_date)
        )
        condition = and_(at_risk_now, not_(at_risk_before))
    data = webhooks.json_object(
        session,
        {
            "customer": now.customer_id,
            "customer_name": Customer.name,
            "date": now.snapshot_date,
            "band": now.band,
            "score": now.score,
            "previous_band": before.band,
            "previous_score": before.score,
            "previous_date": before.snapshot_date,
            "at_risk": webhooks.boolean(session, at_risk_now),
            "arr": webhooks.money(session, func.coalesce(arr.c.arr_cents, sql_cast(literal(0), Integer))),
            "model_version": now.model_version,
        },
    )
    dedupe = literal(f"{kind}:") + now.customer_id + literal(f":{day.isoformat()}")
    return (
        select(
            literal(kind).label("type"),
            now.customer_id.label("customer_id"),
            dedupe.label("dedupe_key"),
            data.label("data"),
        )
        .join(Customer, Customer.id == now.customer_id)
        .outerjoin(previous_day, previous_day.c.customer_id == now.customer_id)
        .outerjoin(before, and_(before.customer_id == now.customer_id, before.snapshot_date == previous_day.c.day))
        .outerjoin(arr, arr.c.customer_id == now.customer_id)
        .where(now.snapshot_date == day, condition)
    )
