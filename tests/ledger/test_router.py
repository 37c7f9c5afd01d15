"""Revenue events, movements and ARR over HTTP."""

import pytest
from fastapi.testclient import TestClient


def event(eid: str, customer: str = "c1", day: str = "2026-01-01", arr: object = 1000, product: str = "core") -> dict:
    return {"id": eid, "customer": customer, "product": product, "effective_date": day, "arr": arr}


def post(client: TestClient, *events: dict):
    return client.post("/v1/revenue-events", json={"events": list(events)})


class TestPostRevenueEvents:
    def test_accepts_and_creates_stub_customers(self, client: TestClient) -> None:
        assert post(client, event("e1"), event("e2", "c2")).json() == {"accepted": 2, "duplicates": 0}
        assert client.get("/v1/customers/c2").json()["name"] is None

    def test_retry_is_all_duplicates(self, client: TestClient) -> None:
        post(client, event("e1"), event("e2"))
        assert post(client, event("e1"), event("e2")).json() == {"accepted": 0, "duplicates": 2}

    def test_same_id_twice_in_one_batch_counts_once(self, client: TestClient) -> None:
        assert post(client, event("e1"), event("e1")).json() == {"accepted": 1, "duplicates": 1}

    def test_same_id_other_content_is_409_naming_ids_and_writes_nothing(self, client: TestClient) -> None:
        post(client, event("e1"))
        response = post(client, event("e9", "c9"), event("e1", arr="1000.01"))
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["ids"] == ["e1"]
        assert client.get("/v1/customers/c9").status_code == 404

    def test_conflict_inside_one_batch_is_409(self, client: TestClient) -> None:
        assert post(client, event("e1"), event("e1", arr=5)).status_code == 409

    def test_money_as_decimal_string_equals_number(self, client: TestClient) -> None:
        post(client, event("e1", arr="1000.00"))
        assert post(client, event("e1", arr=1000)).json() == {"accepted": 0, "duplicates": 1}

    def test_invalid_items_are_422_by_index(self, client: TestClient) -> None:
        response = post(
            client, event("ok"), event("neg", arr=-5), {"id": "x", "customer": "c1"}, event("bad", day="2026-02-30")
        )
        assert response.status_code == 422
        locs = [e["loc"][:3] for e in response.json()["errors"]]
        assert ["body", "events", 1] in locs
        assert ["body", "events", 2] in locs
        assert ["body", "events", 3] in locs
        assert client.get("/v1/customers/c1").status_code == 404


class TestReads:
    def test_customer_arr_total_and_products(self, client: TestClient) -> None:
        post(client, event("a", day="2026-01-01", arr=12000), event("b", day="2026-03-01", arr=2400, product="addon"))
        body = client.get("/v1/customers/c1/arr?as_of=2026-03-31").json()
        assert body == {
            "customer": "c1",
            "as_of": "2026-03-31",
            "total": 14400.0,
            "mrr": 1200.0,
            "products": {"addon": 2400.0, "core": 12000.0},
        }
        assert client.get("/v1/customers/c1/arr?as_of=2025-12-31").json()["total"] == 0

    def test_arr_of_unknown_customer_is_404(self, client: TestClient) -> None:
        assert client.get("/v1/customers/nobody/arr").status_code == 404

    def test_movements_pages_filters_and_csv(self, client: TestClient) -> None:
        post(
            client,
            *[event(f"e{i}", f"c{i}", f"2026-01-{i + 1:02d}") for i in range(5)],
            event("up", "c0", "2026-02-01", 1500),
        )
        seen, cursor = [], None
        while True:
            page = client.get("/v1/movements", params={"limit": 2} | ({"cursor": cursor} if cursor else {})).json()
            seen += [(m["customer"], m["type"]) for m in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        assert seen == [(f"c{i}", "new") for i in range(5)] + [("c0", "upsell")]
        upsells = client.get("/v1/movements?type=upsell&start=2026-02-01").json()["items"]
        assert upsells == [
            {"customer": "c0", "effective_date": "2026-02-01", "type": "upsell", "product": "core", "amount": 500.0}
        ]
        text = client.get("/v1/movements?format=csv&customer=c0").text.splitlines()
        assert text[0] == "customer,effective_date,type,product,amount"
        assert text[2] == "c0,2026-02-01,upsell,core,500.00"

    def test_movements_range_out_of_order_is_422(self, client: TestClient) -> None:
        assert client.get("/v1/movements?start=2026-02-01&end=2026-01-01").status_code == 422

    @pytest.mark.parametrize("cursor", ["WzFd", "WyJhIiwiYiJd", "WyJub3QtYS1kYXRlIiwiYSIsImIiLCJjIl0"])
    def test_a_forged_movements_cursor_is_422(self, client: TestClient, cursor: str) -> None:
        response = client.get(f"/v1/movements?cursor={cursor}")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "cursor"]
