"""Customers and team members over HTTP."""

import csv
import io

import pytest
from fastapi.testclient import TestClient


def put(client: TestClient, cid: str, **body: object) -> dict:
    response = client.put(f"/v1/customers/{cid}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


class TestPutCustomer:
    def test_creates_with_201_then_updates_with_200(self, client: TestClient) -> None:
        first = client.put("/v1/customers/acme", json={"name": "Acme", "segment": "smb", "tier": "low_touch"})
        assert first.status_code == 201
        assert first.json()["name"] == "Acme"
        second = client.put("/v1/customers/acme", json={"name": "Acme Inc"})
        assert second.status_code == 200
        assert second.json()["name"] == "Acme Inc"

    def test_omitted_fields_keep_their_value_and_null_clears(self, client: TestClient) -> None:
        put(client, "acme", name="Acme", segment="smb", region="emea", attributes={"plan": "pro"})
        body = put(client, "acme", segment="mid", region=None)
        assert (body["name"], body["segment"], body["region"], body["attributes"]) == (
            "Acme",
            "mid",
            None,
            {"plan": "pro"},
        )

    def test_body_id_must_equal_path_id(self, client: TestClient) -> None:
        response = client.put("/v1/customers/acme", json={"id": "other", "name": "Acme"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "id"]

    def test_unknown_tier_is_422_naming_the_field(self, client: TestClient) -> None:
        response = client.put("/v1/customers/acme", json={"tier": "platinum"})
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["loc"] == ["body", "tier"]

    def test_unknown_field_is_422(self, client: TestClient) -> None:
        response = client.put("/v1/customers/acme", json={"teir": "low_touch"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "teir"]

    def test_id_with_url_syntax_is_rejected(self, client: TestClient) -> None:
        assert client.put("/v1/customers/a%20b", json={}).status_code == 422

    def test_unknown_customer_is_404_problem(self, client: TestClient) -> None:
        response = client.get("/v1/customers/nobody")
        assert response.status_code == 404
        assert response.json()["detail"] == "No customer with id 'nobody'."


class TestCustomerBatch:
    def test_counts_created_and_updated(self, client: TestClient) -> None:
        put(client, "a", name="A")
        response = client.post("/v1/customers/batch", json={"customers": [{"id": "a", "name": "A2"}, {"id": "b"}]})
        assert response.status_code == 200
        assert response.json() == {"created": 1, "updated": 1}
        assert client.get("/v1/customers/a").json()["name"] == "A2"

    def test_one_bad_item_rejects_the_batch_and_names_every_bad_index(self, client: TestClient) -> None:
        items = [{"id": "a"}, {"id": "b", "tier": "gold"}, {"id": "c"}, {"id": "d", "segment": 7}]
        response = client.post("/v1/customers/batch", json={"customers": items})
        assert response.status_code == 422
        locs = [e["loc"] for e in response.json()["errors"]]
        assert ["body", "customers", 1, "tier"] in locs
        assert ["body", "customers", 3, "segment"] in locs
        assert client.get("/v1/customers/a").status_code == 404

    def test_same_id_twice_in_a_batch_last_wins(self, client: TestClient) -> None:
        items = [{"id": "a", "name": "first"}, {"id": "a", "name": "second"}]
        response = client.post("/v1/customers/batch", json={"customers": items})
        assert response.json() == {"created": 1, "updated": 1}
        assert client.get("/v1/customers/a").json()["name"] == "second"

    def test_items_with_different_fields_each_keep_their_omitted_values(self, client: TestClient) -> None:
        put(client, "a", name="A", segment="smb")
        put(client, "b", name="B", segment="smb")
        items = [{"id": "a", "segment": "mid"}, {"id": "b", "name": "Bee"}]
        client.post("/v1/customers/batch", json={"customers": items})
        a, b = client.get("/v1/customers/a").json(), client.get("/v1/customers/b").json()
        assert (a["name"], a["segment"], b["name"], b["segment"]) == ("A", "mid", "Bee", "smb")

    def test_over_10000_items_is_413(self, client: TestClient) -> None:
        response = client.post("/v1/customers/batch", json={"customers": [{"id": f"x{i}"} for i in range(10_001)]})
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "10000" in response.json()["detail"]

    def test_exactly_10000_items_is_accepted(self, client: TestClient) -> None:
        response = client.post("/v1/customers/batch", json={"customers": [{"id": f"x{i}"} for i in range(10_000)]})
        assert response.json() == {"created": 10_000, "updated": 0}

    def test_empty_batch_is_422(self, client: TestClient) -> None:
        assert client.post("/v1/customers/batch", json={"customers": []}).status_code == 422


class TestListCustomers:
    def test_cursor_walk_sees_each_customer_once(self, client: TestClient) -> None:
        client.post("/v1/customers/batch", json={"customers": [{"id": f"c{i:02d}"} for i in range(7)]})
        seen, cursor = [], None
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = client.get("/v1/customers", params=params).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [f"c{i:02d}" for i in range(7)]

    def test_filters(self, client: TestClient) -> None:
        put(client, "a", segment="smb", tier="low_touch", csm="jo")
        put(client, "b", segment="smb", tier="high_touch")
        put(client, "c", segment="ent", tier="low_touch", csm="jo")
        ids = lambda **q: [c["id"] for c in client.get("/v1/customers", params=q).json()["items"]]  # noqa: E731
        assert ids(segment="smb") == ["a", "b"]
        assert ids(tier="low_touch", csm="jo") == ["a", "c"]

    def test_csv_has_the_same_rows(self, client: TestClient) -> None:
        put(client, "a", name="Acme, Inc.", attributes={"k": 1})
        response = client.get("/v1/customers?format=csv")
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert rows[0]["id"] == "a"
        assert rows[0]["name"] == "Acme, Inc."
        assert rows[0]["attributes"] == '{"k":1}'

    def test_accept_header_asks_for_csv(self, client: TestClient) -> None:
        response = client.get("/v1/customers", headers={"Accept": "text/csv"})
        assert response.text.splitlines()[0].startswith("id,name")

    def test_unknown_query_parameter_is_422(self, client: TestClient) -> None:
        response = client.get("/v1/customers?colour=red")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "colour"]

    def test_forged_cursor_is_422(self, client: TestClient) -> None:
        assert client.get("/v1/customers?cursor=not-a-cursor").status_code == 422

    def test_limit_bounds(self, client: TestClient) -> None:
        assert client.get("/v1/customers?limit=0").status_code == 422
        assert client.get("/v1/customers?limit=1001").status_code == 422
        assert client.get("/v1/customers?limit=1000").status_code == 200


class TestTeamMembers:
    def test_money_is_exact_and_a_number(self, client: TestClient) -> None:
        response = client.put("/v1/team-members/jo", json={"name": "Jo", "role": "csm", "hourly_cost": "85.10"})
        assert response.status_code == 201
        assert response.json()["hourly_cost"] == 85.1
        row = client.get("/v1/team-members?format=csv").text.splitlines()[1]
        assert ",85.10," in row

    def test_more_than_two_decimals_is_422(self, client: TestClient) -> None:
        response = client.put("/v1/team-members/jo", json={"hourly_cost": 85.555})
        assert response.status_code == 422
        assert "two decimals" in response.json()["errors"][0]["msg"]

    def test_negative_cost_is_422(self, client: TestClient) -> None:
        assert client.put("/v1/team-members/jo", json={"hourly_cost": -1}).status_code == 422

    def test_ended_before_started_is_422(self, client: TestClient) -> None:
        body = {"started_on": "2026-02-01", "ended_on": "2026-01-01"}
        assert client.put("/v1/team-members/jo", json=body).status_code == 422

    def test_dates_out_of_order_across_two_updates_is_409_not_500(self, client: TestClient) -> None:
        client.put("/v1/team-members/jo", json={"started_on": "2026-02-01"})
        response = client.put("/v1/team-members/jo", json={"ended_on": "2026-01-01"})
        assert response.status_code == 409
        assert client.get("/v1/team-members/jo").json()["ended_on"] is None

    def test_batch_and_filters(self, client: TestClient) -> None:
        members = [
            {"id": "a", "role": "csm", "started_on": "2025-01-01", "ended_on": "2025-12-31"},
            {"id": "b", "role": "csm", "started_on": "2025-06-01"},
            {"id": "c", "role": "onboarding"},
        ]
        assert client.post("/v1/team-members/batch", json={"team_members": members}).json() == {
            "created": 3,
            "updated": 0,
        }
        ids = lambda **q: [m["id"] for m in client.get("/v1/team-members", params=q).json()["items"]]  # noqa: E731
        assert ids(role="csm") == ["a", "b"]
        assert ids(role="csm", active_on="2026-01-15") == ["b"]


class TestTeamMemberEmail:
    """Schemathesis sent an email with U+0085 in it: the document's \\s did not match it, Pydantic's did."""

    @pytest.mark.parametrize("email", ["a\u0085b@example.com", "a@exa\u00a0mple.com", "a\x1cb@example.com", "a b@c.d"])
    def test_space_or_control_characters_are_422(self, client: TestClient, email: str) -> None:
        response = client.put("/v1/team-members/tm1", json={"email": email})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "email"]

    def test_other_letters_are_kept(self, client: TestClient) -> None:
        response = client.put("/v1/team-members/tm1", json={"email": "zoë@bücher.de"})
        assert response.status_code == 201
        assert response.json()["email"] == "zoë@bücher.de"
