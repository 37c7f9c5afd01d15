"""Customer read views: current ARR, latest health and lifecycle stage (SPEC §3), with dates written out.

Today is 2026-06-30 (UTC) in every test: 90 days back is 2026-04-01, 90 days ahead 2026-09-28.
"""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.builders import make_customer, make_renewal, make_snapshot, post_revenue, revenue
from tests.statements import recorded


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 6, 30, 12, 0, tzinfo=UTC), tick=False):
        yield


def view(client: TestClient, cid: str) -> dict:
    response = client.get(f"/v1/customers/{cid}")
    assert response.status_code == 200, response.text
    return response.json()


def stage(client: TestClient, session: Session, cid: str) -> str:
    session.commit()
    return str(view(client, cid)["stage"])


class TestStage:
    def test_churned_when_arr_fell_to_zero(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("c", "2025-01-01", 1000), revenue("c", "2026-05-01", 0))
        # An open renewal does not matter: churned comes first.
        make_renewal(session, id="r", customer="c", due_date="2026-07-31")
        assert stage(client, session, "c") == "churned"

    def test_prospect_when_never_paid(self, client: TestClient, session: Session) -> None:
        make_customer(session, id="p")
        assert stage(client, session, "p") == "prospect"

    def test_a_future_dated_first_payment_is_still_a_prospect(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("f", "2026-07-15", 5000))
        session.commit()
        assert (view(client, "f")["stage"], view(client, "f")["arr"]) == ("prospect", 0.0)

    def test_renew_when_an_open_renewal_is_due_within_90_days(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("r", "2024-01-01", 1000))
        make_renewal(session, id="r1", customer="r", due_date="2026-09-28")  # 90 days ahead
        assert stage(client, session, "r") == "renew"

    def test_renewal_due_in_91_days_or_closed_is_not_renew(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("a", "2024-01-01", 1000))
        make_renewal(session, id="r1", customer="a", due_date="2026-09-29")  # 91 days ahead
        make_renewal(
            session,
            id="r2",
            customer="a",
            due_date="2026-07-15",
            status="renewed",
            booked_arr=1000,
            closed_on="2026-06-01",
        )
        assert stage(client, session, "a") == "adopt"

    def test_renew_beats_land(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("n", "2026-06-01", 1000))
        make_renewal(session, id="r1", customer="n", due_date="2026-07-31")
        assert stage(client, session, "n") == "renew"

    def test_land_when_first_arr_is_less_than_90_days_old(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("l", "2026-04-02", 1000))  # 89 days ago
        post_revenue(session, revenue("o", "2026-04-01", 1000))  # 90 days ago: no longer landing
        assert stage(client, session, "l") == "land"
        assert stage(client, session, "o") == "adopt"

    def test_expand_after_an_upsell_or_cross_sell_in_the_last_90_days(
        self, client: TestClient, session: Session
    ) -> None:
        post_revenue(session, revenue("u", "2025-01-01", 1000), revenue("u", "2026-04-02", 1500))  # upsell
        post_revenue(
            session, revenue("x", "2025-01-01", 1000), revenue("x", "2026-06-30", 200, product="addon")
        )  # cross-sell today
        post_revenue(session, revenue("old", "2025-01-01", 1000), revenue("old", "2026-04-01", 1500))  # 90 days
        assert stage(client, session, "u") == "expand"
        assert stage(client, session, "x") == "expand"
        assert stage(client, session, "old") == "adopt"

    def test_a_reactivation_is_not_a_land(self, client: TestClient, session: Session) -> None:
        post_revenue(
            session,
            revenue("b", "2024-01-01", 1000),
            revenue("b", "2025-01-01", 0),
            revenue("b", "2026-06-01", 800),  # reactivation: first ARR was in 2024
        )
        assert stage(client, session, "b") == "adopt"


class TestArrAndHealth:
    def test_arr_sums_products_up_to_today(self, client: TestClient, session: Session) -> None:
        post_revenue(
            session,
            revenue("c", "2025-01-01", "1000.10"),
            revenue("c", "2025-06-01", "250.25", product="addon"),
            revenue("c", "2026-08-01", 9000),  # future-dated: not today's ARR
        )
        session.commit()
        assert view(client, "c")["arr"] == 1250.35  # 1,000.10 + 250.25

    def test_health_is_the_latest_snapshot_up_to_today(self, client: TestClient, session: Session) -> None:
        make_customer(session, id="h")
        for day, score, band in (("2026-06-01", 40.0, "red"), ("2026-06-29", 72.5, "green"), ("2026-07-05", 1, "red")):
            make_snapshot(session, customer="h", day=day, score=score, band=band)
        session.commit()
        assert view(client, "h")["health"] == {"score": 72.5, "band": "green", "as_of": "2026-06-29"}

    def test_no_snapshot_is_null_health(self, client: TestClient, session: Session) -> None:
        make_customer(session, id="h")
        session.commit()
        assert view(client, "h")["health"] is None

    def test_put_answers_the_read_view(self, client: TestClient, session: Session) -> None:
        post_revenue(session, revenue("c", "2026-06-01", 1200))
        session.commit()
        body = client.put("/v1/customers/c", json={"name": "C"}).json()
        assert (body["name"], body["arr"], body["stage"]) == ("C", 1200.0, "land")


class TestList:
    def test_items_and_csv_carry_arr_health_and_stage(self, client: TestClient, session: Session) -> None:
        make_customer(session, id="a")
        post_revenue(session, revenue("b", "2026-06-01", 1200))
        session.commit()
        items = client.get("/v1/customers").json()["items"]
        assert [(i["id"], i["arr"], i["stage"]) for i in items] == [("a", 0.0, "prospect"), ("b", 1200.0, "land")]
        lines = list(csv.DictReader(io.StringIO(client.get("/v1/customers", params={"format": "csv"}).text)))
        assert [(line["arr"], line["health"], line["stage"]) for line in lines] == [
            ("0.00", "", "prospect"),
            ("1200.00", "", "land"),
        ]

    def test_a_page_costs_the_same_few_queries_whatever_its_size(
        self, client: TestClient, session: Session, engine: Engine
    ) -> None:
        def statements(n: int) -> int:
            post_revenue(session, *[revenue(f"{n}-{i:03}", "2025-01-01", 1000) for i in range(n)])
            session.commit()
            with recorded(engine) as seen:
                response = client.get("/v1/customers", params={"limit": n})
            assert response.status_code == 200
            assert {i["stage"] for i in response.json()["items"]} == {"adopt"}
            return len(seen)

        small = statements(2)
        assert statements(40) <= small + 1  # not one query per customer
        assert small < 15  # auth, page, and three view queries, give or take the savepoints
