"""POST /v1/integrations/stripe: signed Stripe subscription events become revenue events (SPEC §11, Stripe in).

Payloads follow Stripe's documented Event and Subscription objects (tests/ledger/stripe_payloads.py); amounts are
in cents as Stripe sends them, and each expected ARR is worked out in the test.
"""

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.keys.service import Scope
from app.ledger.stripe_schemas import StripeEventIn
from app.models import Customer, RevenueEvent
from tests.ledger.stripe_payloads import SECRET, URL, event, item, post, price, signature, subscription, ts
from tests.statements import recorded


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, stripe_webhook_secret=SECRET)


def products(client: TestClient, customer: str, day: str) -> dict[str, float]:
    """The customer's ARR per product on `day`, as GET /v1/customers/{id}/arr answers it."""
    response = client.get(f"/v1/customers/{customer}/arr", params={"as_of": day})
    assert response.status_code == 200, response.text
    return response.json()["products"]


def movements(client: TestClient, customer: str) -> list[tuple[str, str, str | None, float]]:
    items = client.get("/v1/movements", params={"customer": customer}).json()["items"]
    return [(m["effective_date"], m["type"], m["product"], m["amount"]) for m in items]


def stored(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(RevenueEvent)) or 0


@pytest.fixture
def reader(app: FastAPI, make_key: Callable[..., str]) -> Iterator[TestClient]:
    """A client with an admin API key, for reading what the Stripe route wrote (`anonymous` posts without one)."""
    with TestClient(app, headers={"Authorization": f"Bearer {make_key(Scope.admin)}"}) as client:
        yield client


class TestArr:
    """One price shape per test: ARR = unit amount × quantity × periods per year / interval_count, in dollars."""

    def test_monthly(self, anonymous: TestClient, reader: TestClient) -> None:
        # $49.00 (4,900 cents) a month: 49 × 12 = 588.
        response = post(anonymous, event("created", subscription(item("si_1", price(unit_amount=4900)))))
        assert response.status_code == 200, response.text
        assert response.json()["revenue_events"] == [
            {
                "id": f"stripe:{ts('2026-01-01')}:evt_1:prod_core",
                "customer": "cus_1",
                "product": "prod_core",
                "effective_date": "2026-01-01",
                "arr": 49 * 12,
            }
        ]
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 588.0}
        assert products(reader, "cus_1", "2025-12-31") == {}

    def test_yearly(self, anonymous: TestClient, reader: TestClient) -> None:
        # $1,200.00 a year: 1,200 × 1.
        post(anonymous, event("created", subscription(item("si_1", price(unit_amount=120000, interval="year")))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 1200.0}

    def test_weekly(self, anonymous: TestClient, reader: TestClient) -> None:
        # $15.00 a week: 15 × 52 = 780.
        post(anonymous, event("created", subscription(item("si_1", price(unit_amount=1500, interval="week")))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 780.0}

    def test_every_three_months(self, anonymous: TestClient, reader: TestClient) -> None:
        # $300.00 every 3 months: 12 / 3 = 4 bills a year, 300 × 4 = 1,200.
        quarterly = price(unit_amount=30000, interval="month", interval_count=3)
        post(anonymous, event("created", subscription(item("si_1", quarterly))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 1200.0}

    def test_quantity_five(self, anonymous: TestClient, reader: TestClient) -> None:
        # 5 seats at $49.00 a month: 49 × 5 × 12 = 2,940.
        post(anonymous, event("created", subscription(item("si_1", price(unit_amount=4900), quantity=5))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 2940.0}

    def test_two_items_two_products(self, anonymous: TestClient, reader: TestClient) -> None:
        # core: 5 × $49 × 12 = 2,940; addon: 2 × $10 × 12 = 240; the customer's ARR 2,940 + 240 = 3,180.
        sub = subscription(
            item("si_1", price("prod_core", 4900), quantity=5), item("si_2", price("prod_addon", 1000), quantity=2)
        )
        post(anonymous, event("created", sub))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 2940.0, "prod_addon": 240.0}
        assert reader.get("/v1/customers/cus_1/arr?as_of=2026-01-01").json()["total"] == 2940 + 240
        assert movements(reader, "cus_1") == [("2026-01-01", "new", None, 3180.0)]

    def test_two_items_of_one_product_add_up(self, anonymous: TestClient, reader: TestClient) -> None:
        # Base seats 3 × $49 and a yearly $120 option on the same product: 3 × 49 × 12 + 120 = 1,884.
        sub = subscription(
            item("si_1", price("prod_core", 4900), quantity=3),
            item("si_2", price("prod_core", 12000, interval="year"), quantity=1),
        )
        body = post(anonymous, event("created", sub)).json()
        assert [e["arr"] for e in body["revenue_events"]] == [3 * 49 * 12 + 120]
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 1884.0}

    def test_unit_amount_decimal_is_exact_below_a_cent(self, anonymous: TestClient, reader: TestClient) -> None:
        # 1,000 units at 0.125 cents a month: 0.00125 × 1000 × 12 = $15.00.
        tiny = price(unit_amount=0, unit_amount_decimal="0.125")
        post(anonymous, event("created", subscription(item("si_1", tiny, quantity=1000))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 15.0}

    def test_metered_items_are_not_arr(self, anonymous: TestClient, reader: TestClient) -> None:
        # Metered usage bills what was used: no ARR. The licensed item: 2 × $49 × 12 = 1,176.
        metered = price("prod_api", 5, recurring={"interval": "month", "interval_count": 1, "usage_type": "metered"})
        sub = subscription(item("si_1", price(unit_amount=4900), quantity=2), item("si_2", metered, quantity=None))
        body = post(anonymous, event("created", sub)).json()
        assert {e["product"]: e["arr"] for e in body["revenue_events"]} == {"prod_core": 1176, "prod_api": 0}
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 1176.0}

    def test_only_the_fields_csroi_reads_are_needed(self, anonymous: TestClient, reader: TestClient) -> None:
        """Status (active), ids, `object` and `created` may be left out, as in a hand-made event."""
        line = {
            "price": {
                "product": "prod_core",
                "unit_amount": 4900,
                "currency": "usd",
                "recurring": {"interval": "month"},
            }
        }
        sub = {
            "customer": "cus_1",
            "current_period_start": ts("2026-01-01"),
            "items": {"data": [{**line, "quantity": 5}]},
        }
        body = {"id": "evt_min", "type": "customer.subscription.created", "data": {"object": sub}}
        assert post(anonymous, body).status_code == 200
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 5 * 49 * 12}

    def test_expanded_product_object(self, anonymous: TestClient, reader: TestClient) -> None:
        expanded = price(product={"id": "prod_core", "object": "product", "name": "Core"})  # type: ignore[arg-type]
        post(anonymous, event("created", subscription(item("si_1", expanded))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 588.0}


class TestCurrencies:
    @pytest.fixture
    def settings(self, database_url: str, request: pytest.FixtureRequest) -> Settings:
        return Settings(database_url=database_url, stripe_webhook_secret=SECRET, currency=request.param)

    @pytest.mark.parametrize("settings", ["JPY"], indirect=True)
    def test_zero_decimal_amounts_are_whole_units(self, anonymous: TestClient, reader: TestClient) -> None:
        # ¥5,000 a month is unit_amount 5000 (yen have no minor unit): 5,000 × 12 = ¥60,000.
        post(anonymous, event("created", subscription(item("si_1", price(unit_amount=5000, currency="jpy")))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 60000.0}

    @pytest.mark.parametrize("settings", ["KWD"], indirect=True)
    def test_three_decimal_amounts_are_thousandths(self, anonymous: TestClient, reader: TestClient) -> None:
        # KWD 5.120 a month is unit_amount 5120 (fils): 5.12 × 12 = KWD 61.44.
        post(anonymous, event("created", subscription(item("si_1", price(unit_amount=5120, currency="kwd")))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 61.44}

    @pytest.mark.parametrize("settings", ["EUR"], indirect=True)
    def test_the_reporting_currency_in_any_case(self, anonymous: TestClient, reader: TestClient) -> None:
        post(anonymous, event("created", subscription(item("si_1", price(unit_amount=4900, currency="eur")))))
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 588.0}


class TestLifecycle:
    def test_cancellation_ends_the_arr_on_the_day_it_ended(self, anonymous: TestClient, reader: TestClient) -> None:
        sub = subscription(item("si_1", price(unit_amount=4900), quantity=5))
        post(anonymous, event("created", sub))
        ended = ts("2026-03-15") + 3600  # 01:00 UTC on March 15
        gone = {**sub, "status": "canceled", "ended_at": ended, "canceled_at": ts("2026-03-10")}
        body = post(anonymous, event("deleted", gone, event_id="evt_2", created=ended)).json()
        assert [(e["effective_date"], e["arr"]) for e in body["revenue_events"]] == [("2026-03-15", 0)]
        assert products(reader, "cus_1", "2026-03-14") == {"prod_core": 2940.0}
        assert products(reader, "cus_1", "2026-03-15") == {}
        # The churn is the ARR it had: 5 × 49 × 12 = 2,940.
        assert movements(reader, "cus_1")[-1] == ("2026-03-15", "churn", None, 2940.0)

    def test_deletion_without_ended_at_uses_canceled_at(self, anonymous: TestClient, reader: TestClient) -> None:
        sub = subscription(item("si_1", price()))
        post(anonymous, event("created", sub))
        gone = {**sub, "status": "canceled", "canceled_at": ts("2026-02-20")}
        post(anonymous, event("deleted", gone, event_id="evt_2", created=ts("2026-02-20")))
        assert products(reader, "cus_1", "2026-02-20") == {}

    def test_an_item_removed_drops_its_product_to_zero(self, anonymous: TestClient, reader: TestClient) -> None:
        core, addon = item("si_1", price("prod_core", 4900), quantity=5), item("si_2", price("prod_addon", 1000), 2)
        post(anonymous, event("created", subscription(core, addon)))
        # The addon item is removed mid-period: Stripe's previous_attributes hold the items before the change.
        previous = {"items": {"object": "list", "data": [core, addon], "has_more": False}}
        updated = event("updated", subscription(core), event_id="evt_2", created=ts("2026-01-20"), previous=previous)
        body = post(anonymous, updated).json()
        assert {e["product"]: e["arr"] for e in body["revenue_events"]} == {"prod_core": 2940, "prod_addon": 0}
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 2940.0}
        # Dated at the current period's start (SPEC §11), the change restates the period: from its first day the
        # customer had core only (5 × 49 × 12 = 2,940), and the addon's 2 × 10 × 12 = 240 never counted.
        assert movements(reader, "cus_1") == [("2026-01-01", "new", None, 2940.0)]

    def test_removed_item_in_the_next_period_is_a_downsell(self, anonymous: TestClient, reader: TestClient) -> None:
        core, addon = item("si_1", price("prod_core", 4900), quantity=5), item("si_2", price("prod_addon", 1000), 2)
        post(anonymous, event("created", subscription(core, addon)))
        previous = {"items": {"object": "list", "data": [core, addon]}, "current_period_start": ts("2026-01-01")}
        renewed = subscription(core, period_start="2026-02-01")
        post(anonymous, event("updated", renewed, event_id="evt_2", created=ts("2026-02-01"), previous=previous))
        assert products(reader, "cus_1", "2026-02-01") == {"prod_core": 2940.0}
        assert movements(reader, "cus_1")[-1] == ("2026-02-01", "downsell", "prod_addon", 240.0)

    def test_quantity_up_at_renewal_is_an_upsell(self, anonymous: TestClient, reader: TestClient) -> None:
        post(anonymous, event("created", subscription(item("si_1", price(unit_amount=4900), quantity=5))))
        more = subscription(item("si_1", price(unit_amount=4900), quantity=8), period_start="2026-02-01")
        previous = {"items": {"object": "list", "data": [item("si_1", price(unit_amount=4900), quantity=5)]}}
        post(anonymous, event("updated", more, event_id="evt_2", created=ts("2026-02-01"), previous=previous))
        # 3 more seats: 3 × 49 × 12 = 1,764.
        assert movements(reader, "cus_1")[-1] == ("2026-02-01", "upsell", "prod_core", 1764.0)

    def test_a_trial_is_no_arr_until_it_converts(self, anonymous: TestClient, reader: TestClient) -> None:
        sub = subscription(item("si_1", price(unit_amount=4900)), status="trialing", period_start="2026-01-01")
        body = post(anonymous, event("created", sub)).json()
        assert [e["arr"] for e in body["revenue_events"]] == [0]
        assert reader.get("/v1/customers/cus_1").json()["stage"] == "prospect"
        converted = {**sub, "status": "active", "current_period_start": ts("2026-01-15")}
        post(anonymous, event("updated", converted, event_id="evt_2", previous={"status": "trialing"}))
        assert products(reader, "cus_1", "2026-01-14") == {}
        assert movements(reader, "cus_1") == [("2026-01-15", "new", None, 588.0)]

    @pytest.mark.parametrize("status", ["incomplete", "incomplete_expired", "unpaid", "paused", "canceled"])
    def test_statuses_that_bill_nothing_are_arr_zero(self, anonymous: TestClient, status: str) -> None:
        body = post(anonymous, event("created", subscription(item("si_1", price()), status=status))).json()
        assert [e["arr"] for e in body["revenue_events"]] == [0]

    def test_past_due_is_still_arr(self, anonymous: TestClient) -> None:
        body = post(anonymous, event("updated", subscription(item("si_1", price()), status="past_due"))).json()
        assert [e["arr"] for e in body["revenue_events"]] == [588]

    def test_item_level_periods_of_api_2025_03_31(self, anonymous: TestClient, reader: TestClient) -> None:
        """Since API version 2025-03-31 the period is on each item, not on the subscription."""
        line = item("si_1", price(), current_period_start=ts("2026-04-01"))
        post(anonymous, event("created", subscription(line, period_start=None)))
        assert products(reader, "cus_1", "2026-03-31") == {}
        assert products(reader, "cus_1", "2026-04-01") == {"prod_core": 588.0}


class TestCustomer:
    def test_metadata_names_the_csroi_customer(self, anonymous: TestClient, reader: TestClient) -> None:
        post(anonymous, event("created", subscription(item("si_1", price()), metadata={"csroi_customer": "acme"})))
        assert products(reader, "acme", "2026-01-01") == {"prod_core": 588.0}
        assert reader.get("/v1/customers/cus_1").status_code == 404

    def test_an_unknown_customer_becomes_a_stub(self, anonymous: TestClient, reader: TestClient) -> None:
        post(anonymous, event("created", subscription(item("si_1", price()), customer="cus_new")))
        assert reader.get("/v1/customers/cus_new").json()["name"] is None

    def test_metadata_added_later_moves_the_arr(self, anonymous: TestClient, reader: TestClient) -> None:
        sub = subscription(item("si_1", price()))
        post(anonymous, event("created", sub))
        mapped = {**sub, "metadata": {"csroi_customer": "acme"}, "current_period_start": ts("2026-02-01")}
        previous = {"metadata": {"csroi_customer": None}}
        post(anonymous, event("updated", mapped, event_id="evt_2", created=ts("2026-02-03"), previous=previous))
        assert products(reader, "cus_1", "2026-02-01") == {}
        assert products(reader, "acme", "2026-02-01") == {"prod_core": 588.0}
        assert movements(reader, "cus_1")[-1] == ("2026-02-01", "churn", None, 588.0)

    def test_a_metadata_id_csroi_cannot_hold_is_422(self, anonymous: TestClient, session: Session) -> None:
        response = post(
            anonymous, event("created", subscription(item("si_1", price()), metadata={"csroi_customer": "a b"}))
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "data", "object", "metadata", "csroi_customer"]
        assert stored(session) == 0


class TestRetriesAndOrder:
    def test_the_same_event_twice_is_a_duplicate(self, anonymous: TestClient, session: Session) -> None:
        sub = subscription(item("si_1", price("prod_core")), item("si_2", price("prod_addon", 1000)))
        first = post(anonymous, event("created", sub)).json()
        again = post(anonymous, event("created", sub)).json()
        assert (first["accepted"], first["duplicates"]) == (2, 0)
        assert (again["accepted"], again["duplicates"]) == (0, 2)
        assert stored(session) == 2

    def test_a_late_delivered_older_event_does_not_overwrite_a_newer_one(
        self, anonymous: TestClient, reader: TestClient
    ) -> None:
        # Two changes in one period (both dated its start): 5 seats at 10:00, 8 seats at 11:00. Stripe delivers the
        # later one first; the earlier one, retried afterwards, must not win as "received last".
        five = event("updated", subscription(item("si_1", price(), 5)), event_id="evt_a", created=ts("2026-01-10"))
        eight = event(
            "updated", subscription(item("si_1", price(), 8)), event_id="evt_b", created=ts("2026-01-10") + 3600
        )
        post(anonymous, eight)
        late = post(anonymous, five).json()
        assert (late["accepted"], late["duplicates"], late["superseded"]) == (0, 0, 1)
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 8 * 49 * 12}
        assert post(anonymous, five).json()["superseded"] == 1  # its retries stay skipped
        assert post(anonymous, eight).json()["duplicates"] == 1

    def test_events_in_order_the_later_wins(self, anonymous: TestClient, reader: TestClient) -> None:
        five = event("updated", subscription(item("si_1", price(), 5)), event_id="evt_a", created=ts("2026-01-10"))
        eight = event("updated", subscription(item("si_1", price(), 8)), event_id="evt_b", created=ts("2026-01-11"))
        post(anonymous, five)
        assert post(anonymous, eight).json()["accepted"] == 1
        assert products(reader, "cus_1", "2026-01-01") == {"prod_core": 8 * 49 * 12}


class TestSignature:
    def test_no_api_key_is_needed_and_none_is_enough(self, anonymous: TestClient, make_key: Any) -> None:
        payload = json.dumps(event("created", subscription(item("si_1", price()))))
        with_key = {"Authorization": f"Bearer {make_key(Scope.admin)}", "Content-Type": "application/json"}
        assert anonymous.post(URL, content=payload, headers=with_key).status_code == 400

    def test_a_bad_signature_is_400_and_writes_nothing(self, anonymous: TestClient, session: Session) -> None:
        response = post(anonymous, event("created", subscription(item("si_1", price()))), secret="whsec_other")
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == "https://csroi.dev/problems/bad-signature"
        assert stored(session) == 0
        assert session.get(Customer, "cus_1") is None

    def test_a_missing_signature_is_400(self, anonymous: TestClient) -> None:
        response = anonymous.post(URL, json=event("created", subscription(item("si_1", price()))))
        assert response.status_code == 400
        assert "Stripe-Signature header is missing" in response.json()["detail"]

    def test_a_signed_body_changed_in_transit_is_400(self, anonymous: TestClient, session: Session) -> None:
        payload = json.dumps(event("created", subscription(item("si_1", price(), 5))))
        header = signature(payload)
        tampered = payload.replace('"quantity": 5', '"quantity": 500')
        assert anonymous.post(URL, content=tampered, headers={"Stripe-Signature": header}).status_code == 400
        assert stored(session) == 0

    def test_a_body_that_is_not_utf8_is_400(self, anonymous: TestClient) -> None:
        assert anonymous.post(URL, content=b"\xff\xfe{}", headers={"Stripe-Signature": "t=1,v1=00"}).status_code == 400

    def test_the_body_is_verified_as_sent_not_as_reparsed(self, anonymous: TestClient) -> None:
        """Pretty-printed JSON with keys in another order verifies: the signature covers the raw bytes."""
        payload = json.dumps(event("created", subscription(item("si_1", price()))), indent=2, sort_keys=True)
        response = anonymous.post(URL, content=payload, headers={"Stripe-Signature": signature(payload)})
        assert response.status_code == 200, response.text

    def test_a_signature_over_300_seconds_old_is_400(self, anonymous: TestClient, session: Session) -> None:
        signed_at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        body = event("created", subscription(item("si_1", price())))
        with time_machine.travel(signed_at.timestamp() + 301, tick=False):
            response = post(anonymous, body, at=int(signed_at.timestamp()))
        assert response.status_code == 400
        assert "Timestamp outside the tolerance zone" in response.json()["detail"]
        assert stored(session) == 0

    def test_a_signature_300_seconds_old_still_verifies(self, anonymous: TestClient) -> None:
        signed_at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        body = event("created", subscription(item("si_1", price())))
        with time_machine.travel(signed_at.timestamp() + 300, tick=False):
            assert post(anonymous, body, at=int(signed_at.timestamp())).status_code == 200

    def test_a_signed_body_that_is_not_an_event_is_422(self, anonymous: TestClient) -> None:
        payload = "[1, 2"
        response = anonymous.post(URL, content=payload, headers={"Stripe-Signature": signature(payload)})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"][0] == "body"


class TestNotConfigured:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url)

    def test_without_a_secret_the_route_is_404_and_says_why(self, anonymous: TestClient, session: Session) -> None:
        response = post(anonymous, event("created", subscription(item("si_1", price()))))
        assert response.status_code == 404
        assert "CSROI_STRIPE_WEBHOOK_SECRET" in response.json()["detail"]
        assert stored(session) == 0

    def test_a_blank_secret_is_no_secret(self, database_url: str) -> None:
        assert Settings(database_url=database_url, stripe_webhook_secret="  ").stripe_webhook_secret is None


class TestRefusals:
    """What csroi cannot read exactly is a 422 naming the field, and nothing of the event is written."""

    def test_another_currency_is_422_and_writes_nothing(self, anonymous: TestClient, session: Session) -> None:
        sub = subscription(item("si_1", price()), item("si_2", price("prod_addon", 1000, currency="eur")))
        response = post(anonymous, event("created", sub))
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["loc"] == ["body", "data", "object", "items", "data", 1, "price", "currency"]
        assert "EUR is not CSROI_CURRENCY (USD)" in error["msg"]
        assert stored(session) == 0
        assert session.get(Customer, "cus_1") is None

    def test_a_tiered_price_is_422(self, anonymous: TestClient) -> None:
        tiered = price(unit_amount=None, billing_scheme="tiered")
        response = post(anonymous, event("created", subscription(item("si_1", tiered))))
        assert response.status_code == 422
        assert response.json()["errors"][0]["type"] == "tiered_price"

    def test_more_items_than_the_event_carries_is_422(self, anonymous: TestClient) -> None:
        sub = subscription(item("si_1", price()))
        sub["items"]["has_more"] = True
        response = post(anonymous, event("created", sub))
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "data", "object", "items", "has_more"]

    def test_a_subscription_without_items_list_is_422(self, anonymous: TestClient) -> None:
        sub = subscription(item("si_1", price()))
        del sub["items"]
        response = post(anonymous, event("created", sub))
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "data", "object", "items"]

    def test_an_arr_over_the_money_limit_is_422(self, anonymous: TestClient) -> None:
        # 10^9 seats at $999,999.99 a month is far above 10^12.
        huge = item("si_1", price(unit_amount=99999999), quantity=10**9)
        assert post(anonymous, event("created", subscription(huge))).json()["errors"][0]["type"] == "arr_too_large"


class TestCost:
    def test_statements_do_not_grow_with_the_items(self, anonymous: TestClient, engine: Engine) -> None:
        def statements(n: int, event_id: str) -> int:
            sub = subscription(*[item(f"si_{i}", price(f"p{i}", 100)) for i in range(n)], customer=f"cus_{n}")
            with recorded(engine) as sent:
                assert post(anonymous, event("created", sub, event_id=event_id)).status_code == 200
            return len(sent)

        assert statements(6, "evt_many") == statements(1, "evt_one")


class TestOtherEvents:
    def test_other_types_are_200_ignored_and_write_nothing(self, anonymous: TestClient, session: Session) -> None:
        response = post(anonymous, event("invoice.paid", {"id": "in_1", "object": "invoice", "amount_paid": 4900}))
        assert response.status_code == 200
        body = response.json()
        assert body["ignored"] is True
        assert "invoice.paid was ignored" in body["detail"]
        assert (body["accepted"], body["revenue_events"]) == (0, [])
        assert stored(session) == 0


class TestLimits:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url, stripe_webhook_secret=SECRET, max_body_bytes=2000)

    def test_a_body_over_the_limit_is_413(self, anonymous: TestClient) -> None:
        sub = subscription(*[item(f"si_{i}", price(f"prod_{i}")) for i in range(10)])
        response = post(anonymous, event("created", sub))
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")


def test_the_documented_example_verifies_and_posts(anonymous: TestClient, reader: TestClient) -> None:
    """The OpenAPI example (5 seats at $49.00 a month, for cus-0001), signed as Stripe would: 5 × 49 × 12 = 2,940."""
    example = StripeEventIn.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    assert post(anonymous, example).status_code == 200
    assert products(reader, "cus-0001", "2026-01-01") == {"prod_Platform": 2940.0}


# --- the input rules every body follows (tests/test_schemas.py), with signed bodies ------------------------------

EXAMPLE: dict[str, Any] = StripeEventIn.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
# Fields csroi does not read: ignored, never stored, so any text there is accepted (an unknown event type too).
NOT_READ = {
    ("object",),
    ("type",),
    ("data", "object", "items", "object"),
    ("data", "object", "items", "data", 0, "price", "id"),
}


def leaves(value: Any, kind: type, at: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where the values of exactly type `kind` are (`int` leaves out booleans)."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in leaves(item, kind, (*at, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in leaves(item, kind, (*at, index))]
    return [at] if type(value) is kind else []


def replaced(leaf: tuple[str | int, ...], new: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLE)
    parent: Any = body
    for part in leaf[:-1]:
        parent = parent[part]
    parent[leaf[-1]] = new(parent[leaf[-1]]) if callable(new) else new
    return body


def refused_naming(response: Any, leaf: tuple[str | int, ...]) -> bool:
    return response.status_code == 422 and any(
        e["loc"][: len(leaf) + 1] == ["body", *leaf][: len(e["loc"])] for e in response.json()["errors"]
    )


class TestInputRules:
    def test_a_nul_in_any_string_it_reads_is_a_422_naming_it(self, anonymous: TestClient, session: Session) -> None:
        wrong = []
        for leaf in leaves(EXAMPLE, str):
            response = post(anonymous, replaced(leaf, lambda text: text[:2] + "\x00" + text[2:]))
            if leaf in NOT_READ:
                ok = response.status_code == 200
            else:
                ok = refused_naming(response, leaf)
            if not ok:
                wrong.append(f"{leaf}: {response.status_code} {response.text[:200]}")
        assert len(leaves(EXAMPLE, str)) >= 12
        assert not wrong, "\n".join(wrong)
        stored_text = session.execute(select(RevenueEvent.id, RevenueEvent.customer_id, RevenueEvent.product)).all()
        assert not [row for row in stored_text if "\x00" in "".join(row)]

    @pytest.mark.parametrize("lookalike", [0, 1, "true", "yes", "on"])
    def test_a_boolean_is_only_true_or_false(self, anonymous: TestClient, lookalike: Any) -> None:
        [has_more] = [leaf for leaf in leaves(EXAMPLE, bool) if leaf[-1] == "has_more"]
        assert refused_naming(post(anonymous, replaced(has_more, lookalike)), has_more)

    @pytest.mark.parametrize("lookalike", [True, False, "4900", 49.5])
    def test_a_number_is_only_a_json_integer(self, anonymous: TestClient, lookalike: Any) -> None:
        numbers = leaves(EXAMPLE, int)
        assert len(numbers) >= 5  # created, current_period_start, quantity, unit_amount, interval_count
        wrong = [leaf for leaf in numbers if not refused_naming(post(anonymous, replaced(leaf, lookalike)), leaf)]
        assert wrong == []
