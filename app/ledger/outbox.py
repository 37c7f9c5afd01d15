"""The ledger's webhook events (SPEC §11): `revenue.churned` and `revenue.expanded` from the movements of a batch.

Set-based: one `INSERT … SELECT` per batch, never a statement per event (the batch's (customer, date) pairs travel
as one array or JSON parameter), and nothing at all but one read of the subscriptions when none wants either type.

Which movements a batch caused: an event dated d can change a customer's movements on d and after it (a back-dated
event can turn a later downsell into a churn), so the customer's churns and expansions dated on or after its
earliest new event are examined, and each one not yet announced is sent. A churn is one event per customer and day
however many products ended (its amount: the ARR lost); an expansion is one event per customer and day (upsell plus
cross-sell). The dedupe key (type, customer, day, amount) keeps a movement that is already announced from being sent
again: re-posting events under new ids, or a later event of the same customer, sends nothing twice; a movement whose
amount a correction changed is sent again with its new amount.
"""

import json
from collections.abc import Iterable
from datetime import date

from sqlalchemy import Date, FromClause, String, bindparam, case, func, literal, literal_column, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.models import ArrChange, Customer
from app.webhooks import service as webhooks

CHURNED, EXPANDED = "revenue.churned", "revenue.expanded"
EXPANSION = ("upsell", "cross_sell")


def emit_movement_events(session: Session, customer_dates: Iterable[tuple[str, date]]) -> int:
    """Write the churn and expansion events that new events at these (customer, effective date) pairs may have
    caused; how many were written."""
    wanted = webhooks.wanted(session, [CHURNED, EXPANDED])
    earliest: dict[str, date] = {}
    for customer, day in customer_dates:
        earliest[customer] = min(day, earliest.get(customer, day))
    pairs = sorted(earliest.items())
    if not wanted or not pairs:
        return 0
    kinds = (["churn"] if CHURNED in wanted else []) + (list(EXPANSION) if EXPANDED in wanted else [])
    return webhooks.emit_select(session, _events(session, _pairs(session, pairs), kinds))


def _pairs(session: Session, pairs: list[tuple[str, date]]) -> FromClause:
    """(customer, earliest date) pairs as a table (customer_id, effective_date) from one parameter, whatever their
    number."""
    if session.get_bind().dialect.name == "postgresql":
        customers = bindparam("webhook_customers", [c for c, _ in pairs], type_=ARRAY(String))
        days = bindparam("webhook_days", [d for _, d in pairs], type_=ARRAY(Date))
        return func.unnest(customers, days).table_valued("customer_id", "effective_date").render_derived("batch_pairs")
    text = json.dumps([[c, d.isoformat()] for c, d in pairs])
    each = func.json_each(bindparam("webhook_pairs", text)).table_valued("value").alias("batch_json")
    return select(
        func.json_extract(each.c.value, "$[0]").label("customer_id"),
        func.json_extract(each.c.value, "$[1]").label("effective_date"),
    ).subquery("batch_pairs")


def _events(session: Session, pairs: FromClause, kinds: list[str]) -> webhooks.EventRows:
    """The event rows (type, customer_id, dedupe_key, data) of the customers' movements on or after their pair's date:
    one per customer, day and kind."""
    a = ArrChange
    # Inline literals: PostgreSQL matches a grouped expression in SELECT only when it is the same text.
    churned = a.movement_type == literal_column("'churn'")
    event_type = case((churned, literal(CHURNED)), else_=literal(EXPANDED))
    lost = func.sum(-a.delta_cents)
    gained = func.sum(a.delta_cents)
    amount = case((churned, lost), else_=gained)
    day = webhooks.date_text(session, a.effective_date)
    colon = literal(":")
    dedupe = event_type + colon + a.customer_id + colon + day + colon + sql_cast(amount, String)
    money = webhooks.money
    name = func.max(Customer.name)
    churn_data = webhooks.json_object(
        session,
        {"customer": a.customer_id, "customer_name": name, "effective_date": a.effective_date,
         "churned_arr": money(session, lost)},
    )  # fmt: skip
    expansion_data = webhooks.json_object(
        session,
        {
            "customer": a.customer_id,
            "customer_name": name,
            "effective_date": a.effective_date,
            "expanded_arr": money(session, gained),
            "upsell_arr": money(session, func.sum(case((a.movement_type == "upsell", a.delta_cents), else_=0))),
            "cross_sell_arr": money(session, func.sum(case((a.movement_type == "cross_sell", a.delta_cents), else_=0))),
        },
    )
    return (
        select(
            event_type.label("type"),
            a.customer_id.label("customer_id"),
            dedupe.label("dedupe_key"),
            case((churned, churn_data), else_=expansion_data).label("data"),
        )
        .select_from(pairs)
        .join(a, (a.customer_id == pairs.c.customer_id) & (a.effective_date >= pairs.c.effective_date))
        .join(Customer, Customer.id == a.customer_id)
        .where(a.movement_type.in_(kinds))
        .group_by(a.customer_id, a.effective_date, churned)
    )
