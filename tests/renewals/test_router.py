"""Renewals over HTTP: whole-record upserts, status rules, batches, lists."""

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.books import error_locs

RENEWED = {
    "customer": "acme",
    "due_date": "2026-01-31",
    "arr_up_for_renewal": 12000,
    "status": "renewed",
    "booked_arr": 15000,
    "closed_on": "2026-01-20",
}
OPEN = {"customer": "acme", "due_date": "2026-03-31", "arr_up_for_renewal": 5000, "status": "open"}


def put(client: TestClient, rid: str, body: dict) -> dict:
    response = client.put(f"/v1/renewals/{rid}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


class TestPutRenewal:
    def test_creates_with_201_then_updates_with_200(self, client: TestClient) -> None:
        first = client.put("/v1/renewals/r1", json=RENEWED)
        assert first.status_code == 201
        body = first.json()
        assert (body["id"], body["customer"], body["status"], body["booked_arr"]) == ("r1", "acme", "renewed", 15000)
        second = client.put("/v1/renewals/r1", json=RENEWED | {"booked_arr": 16000})
        assert second.status_code == 200
        assert second.json()["booked_arr"] == 16000
        assert second.json()["created_at"] == body["created_at"]

    def test_a_put_replaces_the_whole_record(self, client: TestClient) -> None:
        put(client, "r1", RENEWED)
        # Reopened by the CRM: the outcome fields must go, not linger from the renewed version.
        body = put(client, "r1", OPEN)
        assert (body["status"], body["booked_arr"], body["closed_on"], body["due_date"]) == (
            "open",
            None,
            None,
            "2026-03-31",
        )

    def test_unknown_customer_is_created_as_a_stub(self, client: TestClient) -> None:
        put(client, "r1", RENEWED | {"customer": "newco"})
        customer = client.get("/v1/customers/newco")
        assert customer.status_code == 200
        assert customer.json()["name"] is None

    def test_money_is_exact(self, client: TestClient) -> None:
        body = put(client, "r1", RENEWED | {"arr_up_for_renewal": "12000.10", "booked_arr": "0.20"})
        assert (body["arr_up_for_renewal"], body["booked_arr"]) == (12000.1, 0.2)

    def test_churned_defaults_booked_to_zero(self, client: TestClient) -> None:
        body = put(client, "r1", OPEN | {"status": "churned", "closed_on": "2026-03-30"})
        assert body["booked_arr"] == 0

    def test_renewed_without_booked_or_closed_names_both_fields(self, client: TestClient) -> None:
        body = {k: v for k, v in RENEWED.items() if k not in ("booked_arr", "closed_on")}
        assert error_locs(client.put("/v1/renewals/r1", json=body)) == [["body", "booked_arr"], ["body", "closed_on"]]

    def test_churned_with_booked_arr_is_422(self, client: TestClient) -> None:
        body = OPEN | {"status": "churned", "booked_arr": 10, "closed_on": "2026-03-30"}
        assert error_locs(client.put("/v1/renewals/r1", json=body)) == [["body", "booked_arr"]]

    def test_open_with_an_outcome_is_422(self, client: TestClient) -> None:
        body = OPEN | {"booked_arr": 10, "closed_on": "2026-03-30"}
        assert error_locs(client.put("/v1/renewals/r1", json=body)) == [["body", "booked_arr"], ["body", "closed_on"]]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("arr_up_for_renewal", 0),
            ("arr_up_for_renewal", -5),
            ("booked_arr", -1),
            ("status", "lost"),
            ("due_date", "2026-02-30"),
            ("customer", "a b"),
            ("arr_up_for_renewal", "12.345"),
        ],
    )
    def test_bad_field_is_422_naming_it(self, client: TestClient, field: str, value: object) -> None:
        assert ["body", field] in error_locs(client.put("/v1/renewals/r1", json=RENEWED | {field: value}))
        assert client.get("/v1/renewals/r1").status_code == 404

    @pytest.mark.parametrize("field", ["customer", "due_date", "arr_up_for_renewal", "status"])
    def test_missing_required_field_is_422(self, client: TestClient, field: str) -> None:
        body = {k: v for k, v in RENEWED.items() if k != field}
        assert ["body", field] in error_locs(client.put("/v1/renewals/r1", json=body))

    def test_body_id_must_equal_path_id(self, client: TestClient) -> None:
        assert error_locs(client.put("/v1/renewals/r1", json=RENEWED | {"id": "r2"})) == [["body", "id"]]

    def test_unknown_renewal_is_404_problem(self, client: TestClient) -> None:
        response = client.get("/v1/renewals/nope")
        assert response.status_code == 404
        assert response.json()["detail"] == "No renewal with id 'nope'."


class TestRenewalBatch:
    def test_counts_created_and_updated(self, client: TestClient) -> None:
        put(client, "r1", RENEWED)
        items = [RENEWED | {"id": "r1", "booked_arr": 1}, OPEN | {"id": "r2"}]
        response = client.post("/v1/renewals/batch", json={"renewals": items})
        assert response.status_code == 200
        assert response.json() == {"created": 1, "updated": 1}
        assert client.get("/v1/renewals/r1").json()["booked_arr"] == 1

    def test_one_bad_item_writes_nothing_and_every_bad_index_is_named(self, client: TestClient) -> None:
        items = [
            OPEN | {"id": "r1", "customer": "fresh"},
            RENEWED | {"id": "r2", "booked_arr": None},
            OPEN | {"id": "r3"},
            OPEN | {"id": "r4", "status": "won"},
        ]
        response = client.post("/v1/renewals/batch", json={"renewals": items})
        assert error_locs(response) == [["body", "renewals", 1, "booked_arr"], ["body", "renewals", 3, "status"]]
        assert client.get("/v1/renewals/r1").status_code == 404
        assert client.get("/v1/customers/fresh").status_code == 404

    def test_item_without_id_is_422(self, client: TestClient) -> None:
        response = client.post("/v1/renewals/batch", json={"renewals": [OPEN]})
        assert error_locs(response) == [["body", "renewals", 0, "id"]]

    def test_over_10000_items_is_413(self, client: TestClient) -> None:
        items = [OPEN | {"id": f"r{i}"} for i in range(10_001)]
        response = client.post("/v1/renewals/batch", json={"renewals": items})
        assert response.status_code == 413


class TestListRenewals:
    @pytest.fixture
    def book(self, client: TestClient) -> None:
        items = [
            RENEWED | {"id": "r1"},
            RENEWED | {"id": "r2", "customer": "globex", "due_date": "2026-02-15", "closed_on": "2026-02-10"},
            OPEN | {"id": "r3", "customer": "globex"},
            OPEN | {"id": "r4", "status": "churned", "closed_on": "2026-02-28", "due_date": "2026-02-28"},
        ]
        assert client.post("/v1/renewals/batch", json={"renewals": items}).status_code == 200

    @staticmethod
    def ids(client: TestClient, **params: str) -> list[str]:
        response = client.get("/v1/renewals", params=params)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    @pytest.mark.usefixtures("book")
    def test_filters(self, client: TestClient) -> None:
        assert self.ids(client, customer="globex") == ["r2", "r3"]
        assert self.ids(client, status="open") == ["r3"]
        assert self.ids(client, due_from="2026-02-01", due_to="2026-02-28") == ["r2", "r4"]
        assert self.ids(client, closed_from="2026-02-01") == ["r2", "r4"]
        assert self.ids(client, closed_to="2026-02-10") == ["r1", "r2"]
        assert self.ids(client, customer="acme", status="renewed") == ["r1"]

    def test_range_out_of_order_is_422(self, client: TestClient) -> None:
        assert client.get("/v1/renewals", params={"due_from": "2026-02-01", "due_to": "2026-01-01"}).status_code == 422

    def test_unknown_parameter_is_422(self, client: TestClient) -> None:
        assert error_locs(client.get("/v1/renewals?state=open")) == [["query", "state"]]

    @pytest.mark.usefixtures("book")
    def test_cursor_walk_sees_each_renewal_once(self, client: TestClient) -> None:
        seen, cursor = [], None
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = client.get("/v1/renewals", params=params).json()
            seen += [r["id"] for r in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ["r1", "r2", "r3", "r4"]

    @pytest.mark.usefixtures("book")
    def test_csv_has_the_same_rows(self, client: TestClient) -> None:
        response = client.get("/v1/renewals", params={"format": "csv", "status": "renewed"})
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["id"], r["customer"], r["booked_arr"], r["closed_on"]) for r in rows] == [
            ("r1", "acme", "15000.00", "2026-01-20"),
            ("r2", "globex", "15000.00", "2026-02-10"),
        ]
