"""The outbox (SPEC §11): events written in the transaction of the change, only when wanted, set-based."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.models import ArrChange, WebhookDelivery, WebhookEvent
from app.webhooks import delivery
from app.webhooks import service as webhooks
from tests.builders import clear_ledger, make_customers, make_event, make_webhook, post_revenue, revenue

KINDS = ("churn", "upsell", "cross_sell")


def events(session: Session) -> list[WebhookEvent]:
    return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def churn_batch(customers: list[str]) -> list[Any]:
    return [revenue(c, "2026-01-01", 1000) for c in customers] + [revenue(c, "2026-03-01", 0) for c in customers]


class TestWithoutSubscriptions:
    def test_a_churn_writes_nothing_and_costs_one_read(self, session: Session, statements: list[str]) -> None:
        make_customers(session, ["a", "b"])
        statements.clear()
        post_revenue(session, *churn_batch(["a", "b"]))
        touching = [s for s in statements if "webhook" in s]
        assert len(touching) == 1
        assert touching[0].lstrip().upper().startswith("SELECT")
        assert events(session) == []

    def test_a_subscription_to_other_types_writes_nothing(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_customers(session, ["a"])
        post_revenue(session, *churn_batch(["a"]))
        assert events(session) == []


class TestRevenueEvents:
    def test_one_churn_event_per_customer_and_day_whatever_the_products(self, session: Session) -> None:
        make_webhook(session, events=["revenue.churned"])
        make_customers(session, ["acme"], name="Acme Inc")
        post_revenue(
            session,
            revenue("acme", "2026-01-01", "1200.50", product="core"),
            revenue("acme", "2026-01-01", 300, product="addon"),
            revenue("acme", "2026-05-01", 0, product="core"),
            revenue("acme", "2026-05-01", 0, product="addon"),
        )
        [row] = events(session)
        assert (row.type, row.customer_id) == ("revenue.churned", "acme")
        # 1,200.50 + 300 lost on 2026-05-01, in one event.
        assert json.loads(row.data) == {
            "customer": "acme",
            "customer_name": "Acme Inc",
            "effective_date": "2026-05-01",
            "churned_arr": 1500.50,
        }
        assert row.dedupe_key == "revenue.churned:acme:2026-05-01:150050"
        assert row.key.startswith("evt_")
        assert len(row.key) == 36
        assert row.dispatched is False

    def test_an_expansion_sums_upsell_and_cross_sell_of_the_day(self, session: Session) -> None:
        make_webhook(session, events=["revenue.expanded", "revenue.churned"])
        make_customers(session, ["acme"])
        post_revenue(session, revenue("acme", "2026-01-01", 1000, product="core"))
        post_revenue(
            session,
            revenue("acme", "2026-04-01", 1250, product="core"),
            revenue("acme", "2026-04-01", "99.99", product="addon"),
        )
        [row] = events(session)  # the first batch was a new customer: neither churn nor expansion
        # core 1,000 → 1,250 is an upsell of 250; addon 0 → 99.99 a cross-sell: 349.99 in all.
        data = json.loads(row.data)
        assert (row.type, data["expanded_arr"], data["upsell_arr"], data["cross_sell_arr"]) == (
            "revenue.expanded",
            250 + 99.99,
            250.00,
            99.99,
        )

    def test_a_downsell_or_a_new_customer_is_no_event(self, session: Session) -> None:
        make_webhook(session, events=["revenue.expanded", "revenue.churned"])
        make_customers(session, ["acme"])
        post_revenue(session, revenue("acme", "2026-01-01", 1000), revenue("acme", "2026-02-01", 400))
        assert events(session) == []

    def test_a_churn_before_the_batch_is_not_announced_by_a_later_event(self, session: Session) -> None:
        """A churn from before the subscription existed is not announced by a later, unrelated event."""
        make_customers(session, ["acme"])
        post_revenue(session, revenue("acme", "2025-01-01", 100), revenue("acme", "2025-06-01", 0))
        make_webhook(session, events=["revenue.churned"])
        post_revenue(session, revenue("acme", "2026-01-01", 200), revenue("acme", "2026-02-01", 0))
        [row] = events(session)
        assert json.loads(row.data)["effective_date"] == "2026-02-01"

    def test_a_back_dated_event_that_turns_a_later_downsell_into_a_churn_announces_it(self, session: Session) -> None:
        make_webhook(session, events=["revenue.churned"])
        make_customers(session, ["acme"])
        post_revenue(
            session,
            revenue("acme", "2026-01-01", 100, product="core"),
            revenue("acme", "2026-01-01", 50, product="addon"),
            revenue("acme", "2026-03-01", 0, product="core"),  # a downsell: addon still pays
        )
        assert events(session) == []
        post_revenue(session, revenue("acme", "2026-02-01", 0, product="addon"))  # addon ended earlier after all
        # Now February is a downsell (core still pays) and March, where core ends, the churn: 100 lost.
        [row] = events(session)
        data = json.loads(row.data)
        assert (data["effective_date"], data["churned_arr"]) == ("2026-03-01", 100)

    def test_the_same_churn_posted_again_under_new_ids_is_sent_once(self, session: Session) -> None:
        make_webhook(session, events=["revenue.churned"])
        make_customers(session, ["acme"])
        post_revenue(session, revenue("acme", "2026-01-01", 100), revenue("acme", "2026-02-01", 0))
        post_revenue(session, revenue("acme", "2026-02-01", 0))  # a CRM re-sending it: last received wins, same
        assert len(events(session)) == 1

    def test_one_insert_for_a_whole_batch(self, session: Session, statements: list[str]) -> None:
        make_webhook(session, events=["revenue.churned"])
        customers = [f"c{n}" for n in range(300)]
        make_customers(session, customers)
        post_revenue(session, *[revenue(c, "2026-01-01", 100) for c in customers])
        statements.clear()
        post_revenue(session, *[revenue(c, "2026-03-01", 0) for c in customers])
        assert len(events(session)) == 300
        inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO WEBHOOK_EVENT")]
        assert len(inserts) == 1

    def test_the_statements_do_not_grow_with_the_batch(self, session: Session, statements: list[str]) -> None:
        make_webhook(session, events=["revenue.churned"])
        counts = []
        for size in (10, 400):
            customers = [f"s{size}-{n}" for n in range(size)]
            make_customers(session, customers)
            post_revenue(session, *[revenue(c, "2026-01-01", 100) for c in customers])
            statements.clear()
            post_revenue(session, *[revenue(c, "2026-03-01", 0) for c in customers])
            counts.append(len([s for s in statements if "webhook" in s]))
        assert counts[0] == counts[1] == 2  # which types are wanted; the INSERT … SELECT

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        steps=st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 5), st.sampled_from([0, 100, 250, 900])),
            min_size=1,
            max_size=12,
        )
    )
    def test_every_churn_and_expansion_in_the_ledger_was_announced_once_with_its_amount(
        self, session: Session, steps: list[tuple[int, int, int]]
    ) -> None:
        """Whatever order events arrive in, each churn and expansion day the ledger ends with was announced, with the
        amount it ends with, and no announcement repeats another."""
        clear_ledger(session)
        session.execute(delete(WebhookEvent))
        make_webhook(session, id="all", events=["revenue.churned", "revenue.expanded"])
        make_customers(session, ["x"])
        for product, month, arr in steps:
            post_revenue(session, revenue("x", f"2026-{month + 1:02}-01", arr, product=f"p{product}"))
        days: dict[tuple[str, date], int] = {}
        for change in session.scalars(select(ArrChange).where(ArrChange.movement_type.in_(KINDS))):
            kind = "revenue.churned" if change.movement_type == "churn" else "revenue.expanded"
            days[(kind, change.effective_date)] = days.get((kind, change.effective_date), 0) + abs(change.delta_cents)
        expected = {f"{kind}:x:{day}:{cents}" for (kind, day), cents in days.items()}
        keys = [row.dedupe_key for row in events(session)]
        assert len(keys) == len(set(keys))
        assert expected <= set(keys)


class TestEmit:
    def test_python_events_are_written_once_per_dedupe_key(self, session: Session) -> None:
        make_webhook(session, events=["scorecard.closed"])
        assert make_event(session, type="scorecard.closed", data={"month": "2026-10"}, dedupe_key="k") == 1
        assert make_event(session, type="scorecard.closed", data={"month": "2026-10"}, dedupe_key="k") == 0
        assert make_event(session, type="scorecard.closed", data={"month": "2026-10"}) == 1
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 2

    def test_decimals_and_dates_become_json(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due"])
        make_event(session, type="renewal.due", data={"arr": Decimal("12.50"), "due": date(2026, 12, 1)})
        [row] = events(session)
        assert json.loads(row.data) == {"arr": 12.5, "due": "2026-12-01"}

    def test_wanted_reads_the_subscriptions(self, session: Session) -> None:
        make_webhook(session, events=["renewal.due", "customer.at_risk"])
        assert webhooks.wanted(session, ["renewal.due", "revenue.churned"]) == {"renewal.due"}
        assert webhooks.wanted(session, []) == set()


class TestBody:
    def test_the_body_is_id_type_created_and_data_with_the_currency_first(self) -> None:
        created = datetime(2026, 11, 30, 9, 15, 0, 123456, tzinfo=UTC)
        body = delivery.event_body(
            "evt_1", "revenue.churned", created, '{"customer": "a", "churned_arr": 10.00}', "EUR"
        )
        assert body == (
            b'{"id":"evt_1","type":"revenue.churned","created":"2026-11-30T09:15:00.123456Z",'
            b'"data":{"currency":"EUR","customer": "a", "churned_arr": 10.00}}'
        )
        assert json.loads(body)["data"]["churned_arr"] == 10.0

    def test_empty_data_still_carries_the_currency(self) -> None:
        body = delivery.event_body("evt_1", "scorecard.closed", datetime(2026, 1, 1, tzinfo=UTC), "{ }", "USD")
        assert json.loads(body)["data"] == {"currency": "USD"}


class TestFanOut:
    def test_each_event_goes_to_every_subscription_wanting_its_type(self, session: Session) -> None:
        make_webhook(session, id="a", events=["revenue.churned"])
        make_webhook(session, id="b", events=["revenue.churned", "renewal.due"])
        make_webhook(session, id="c", events=["renewal.due"])
        make_event(session, type="revenue.churned")
        make_event(session, type="renewal.due")
        assert delivery.dispatch(session) == 2
        rows = session.execute(select(WebhookDelivery.webhook_id, WebhookEvent.type).join(WebhookEvent))
        pairs = sorted(tuple(row) for row in rows)
        assert pairs == [("a", "revenue.churned"), ("b", "renewal.due"), ("b", "revenue.churned"), ("c", "renewal.due")]
        assert delivery.dispatch(session) == 0
