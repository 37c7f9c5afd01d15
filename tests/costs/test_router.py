"""Costs over HTTP: months, motion defaults, whole-record upserts, batches, lists."""

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.books import error_locs

COST = {"month": "2025-10", "amount": 70000, "team": "customer_success", "category": "salary"}


def put(client: TestClient, cid: str, body: dict) -> dict:
    response = client.put(f"/v1/costs/{cid}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


class TestPutCost:
    def test_creates_with_201_then_updates_with_200(self, client: TestClient) -> None:
        first = client.put("/v1/costs/k1", json=COST)
        assert first.status_code == 201
        assert first.json() | {"created_at": None, "updated_at": None} == {
            "id": "k1",
            "month": "2025-10",
            "amount": 70000,
            "team": "customer_success",
            "motion": "retain",
            "category": "salary",
            "customer": None,
            "team_member": None,
            "intervention": None,
            "note": None,
            "created_at": None,
            "updated_at": None,
        }
        second = client.put("/v1/costs/k1", json=COST | {"amount": "70000.55"})
        assert second.status_code == 200
        assert second.json()["amount"] == 70000.55

    def test_a_put_replaces_the_whole_record(self, client: TestClient) -> None:
        put(client, "k1", COST | {"note": "October payroll", "team_member": "jo", "motion": "expand"})
        body = put(client, "k1", COST)
        assert (body["note"], body["team_member"], body["motion"]) == (None, None, "retain")

    @pytest.mark.parametrize(
        ("team", "motion"),
        [
            ("sales", "acquire"),
            ("marketing", "acquire"),
            ("account_management", "expand"),
            ("customer_success", "retain"),
            ("support", "retain"),
            ("tools", "retain"),
        ],
    )
    def test_motion_defaults_by_team(self, client: TestClient, team: str, motion: str) -> None:
        assert put(client, "k1", COST | {"team": team})["motion"] == motion

    def test_explicit_motion_wins(self, client: TestClient) -> None:
        assert put(client, "k1", COST | {"team": "sales", "motion": "retain"})["motion"] == "retain"

    def test_links_and_stub_customer(self, client: TestClient) -> None:
        body = put(client, "k1", COST | {"customer": "newco", "team_member": "jo", "intervention": "iv-1"})
        assert (body["customer"], body["team_member"], body["intervention"]) == ("newco", "jo", "iv-1")
        assert client.get("/v1/customers/newco").status_code == 200
        # Team members and interventions are plain ids: nothing is created for them.
        assert client.get("/v1/team-members/jo").status_code == 404

    @pytest.mark.parametrize("month", ["2025-13", "2025-1", "2025-00", "2025-10-01", "25-10", 202510])
    def test_bad_month_is_422(self, client: TestClient, month: object) -> None:
        assert error_locs(client.put("/v1/costs/k1", json=COST | {"month": month})) == [["body", "month"]]

    @pytest.mark.parametrize(
        ("field", "value"),
        [("amount", -1), ("amount", "1.001"), ("team", "finance"), ("motion", "keep"), ("category", "food")],
    )
    def test_bad_field_is_422_naming_it(self, client: TestClient, field: str, value: object) -> None:
        assert error_locs(client.put("/v1/costs/k1", json=COST | {field: value})) == [["body", field]]

    @pytest.mark.parametrize("field", ["month", "amount", "team", "category"])
    def test_missing_required_field_is_422(self, client: TestClient, field: str) -> None:
        body = {k: v for k, v in COST.items() if k != field}
        assert error_locs(client.put("/v1/costs/k1", json=body)) == [["body", field]]

    def test_zero_amount_is_accepted(self, client: TestClient) -> None:
        assert put(client, "k1", COST | {"amount": 0})["amount"] == 0

    def test_unknown_cost_is_404(self, client: TestClient) -> None:
        assert client.get("/v1/costs/nope").status_code == 404


class TestCostBatch:
    def test_counts_and_all_or_nothing(self, client: TestClient) -> None:
        items = [COST | {"id": "k1", "customer": "fresh"}, COST | {"id": "k2", "month": "2025-13"}]
        assert error_locs(client.post("/v1/costs/batch", json={"costs": items})) == [["body", "costs", 1, "month"]]
        assert client.get("/v1/costs/k1").status_code == 404
        assert client.get("/v1/customers/fresh").status_code == 404
        items[1]["month"] = "2025-11"
        assert client.post("/v1/costs/batch", json={"costs": items}).json() == {"created": 2, "updated": 0}
        assert client.post("/v1/costs/batch", json={"costs": items}).json() == {"created": 0, "updated": 2}


class TestListCosts:
    @pytest.fixture
    def book(self, client: TestClient) -> None:
        items = [
            COST | {"id": "k1", "month": "2025-09"},
            COST | {"id": "k2", "month": "2025-10", "team": "sales", "customer": "acme"},
            COST | {"id": "k3", "month": "2025-11", "team": "renewals"},
            COST | {"id": "k4", "month": "2025-10", "amount": "12.50"},
        ]
        assert client.post("/v1/costs/batch", json={"costs": items}).status_code == 200

    @staticmethod
    def ids(client: TestClient, **params: str) -> list[str]:
        response = client.get("/v1/costs", params=params)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    @pytest.mark.usefixtures("book")
    def test_filters(self, client: TestClient) -> None:
        assert self.ids(client, month="2025-10") == ["k2", "k4"]
        assert self.ids(client, month_from="2025-10") == ["k2", "k3", "k4"]
        assert self.ids(client, month_to="2025-10") == ["k1", "k2", "k4"]
        assert self.ids(client, team="renewals") == ["k3"]
        assert self.ids(client, motion="acquire") == ["k2"]
        assert self.ids(client, customer="acme") == ["k2"]

    def test_bad_month_filter_is_422(self, client: TestClient) -> None:
        assert error_locs(client.get("/v1/costs?month=2025-13")) == [["query", "month"]]
        assert client.get("/v1/costs", params={"month_from": "2025-11", "month_to": "2025-10"}).status_code == 422

    @pytest.mark.usefixtures("book")
    def test_pages(self, client: TestClient) -> None:
        first = client.get("/v1/costs", params={"limit": 3}).json()
        assert [c["id"] for c in first["items"]] == ["k1", "k2", "k3"]
        second = client.get("/v1/costs", params={"limit": 3, "cursor": first["next_cursor"]}).json()
        assert ([c["id"] for c in second["items"]], second["next_cursor"]) == (["k4"], None)

    @pytest.mark.usefixtures("book")
    def test_csv_keeps_months_as_yyyy_mm(self, client: TestClient) -> None:
        response = client.get("/v1/costs", headers={"Accept": "text/csv"}, params={"month": "2025-10"})
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["id"], r["month"], r["amount"], r["motion"]) for r in rows] == [
            ("k2", "2025-10", "70000.00", "acquire"),
            ("k4", "2025-10", "12.50", "retain"),
        ]
