"""The audit log (SPEC §11): who changed what, before and after; and keys' last_used_at."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.keys.service import Scope
from app.models import ApiKey
from tests.builders import make_customer, make_intervention


def entries(client: TestClient, **params: str) -> list[dict]:
    response = client.get("/v1/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


class TestAudit:
    def test_a_target_put_then_deleted_is_two_entries_newest_first(self, client: TestClient) -> None:
        assert client.put("/v1/targets/nrr", json={"value": 1.05, "direction": "higher_is_better"}).status_code == 201
        assert client.put("/v1/targets/nrr", json={"value": 1.1, "direction": "higher_is_better"}).status_code == 200
        assert client.delete("/v1/targets/nrr").status_code == 204
        deleted, changed, created = entries(client)[:3]
        assert (created["action"], created["object"], created["before"]) == ("target.put", "target/nrr", None)
        assert created["after"]["value"] == 1.05
        assert (changed["before"]["value"], changed["after"]["value"]) == (1.05, 1.1)
        assert (deleted["action"], deleted["before"]["value"], deleted["after"]) == ("target.delete", 1.1, None)
        assert deleted["key_name"] == "test"
        assert deleted["key_id"] is not None

    def test_health_model_and_manual_outcome_are_audited(self, client: TestClient, session: Session) -> None:
        component = {"name": "logins", "weight": 1, "kind": "login", "aggregate": "count", "window_days": 30,
                     "bad": 0, "good": 10}  # fmt: skip
        assert client.put("/v1/health-model", json={"components": [component]}).status_code == 200
        make_customer(session, id="acme")
        make_intervention(session, id="iv-1", customer="acme", started_on="2026-01-10")
        session.commit()
        assert client.put("/v1/interventions/iv-1/outcome", json={"note": "renewed early", "met": True}).status_code
        outcome, model = entries(client)[:2]
        assert (model["action"], model["after"]["components"][0]["name"]) == ("health_model.put", "logins")
        assert model["before"]["default"] is True
        assert (outcome["object"], outcome["before"], outcome["after"]["note"]) == (
            "intervention/iv-1/outcome",
            None,
            "renewed early",
        )

    def test_a_refused_write_leaves_no_entry(self, client: TestClient) -> None:
        assert client.delete("/v1/targets/nrr").status_code == 404
        assert entries(client, action="target.delete") == []

    def test_only_admin_reads_it_and_it_answers_csv(
        self, anonymous: TestClient, client: TestClient, make_key: Callable[..., str]
    ) -> None:
        client.put("/v1/targets/grr", json={"value": 0.9, "direction": "higher_is_better"})
        writer = make_key(Scope.write)
        assert anonymous.get("/v1/audit", headers={"Authorization": f"Bearer {writer}"}).status_code == 403
        response = client.get("/v1/audit?format=csv")
        assert response.status_code == 200
        assert response.text.splitlines()[0].startswith("id,at,key_id,key_name,action,object")
        assert "target.put" in response.text

    def test_pages_follow_the_cursor(self, client: TestClient) -> None:
        for metric in ("nrr", "grr", "nps"):
            client.put(f"/v1/targets/{metric}", json={"value": 1, "direction": "higher_is_better"})
        first = client.get("/v1/audit?limit=2").json()
        rest = client.get(f"/v1/audit?limit=2&cursor={first['next_cursor']}").json()
        objects = [e["object"] for e in first["items"] + rest["items"]]
        assert objects[:3] == ["target/nps", "target/grr", "target/nrr"]


class TestLastUsed:
    def test_a_request_records_when_the_key_was_used(self, client: TestClient, session: Session) -> None:
        assert client.get("/v1/customers").status_code == 200
        session.expire_all()
        used = session.scalars(select(ApiKey.last_used_at).where(ApiKey.name == "test")).all()
        assert used
        assert all(u is not None for u in used)


def test_a_cursor_of_another_list_is_422(client: TestClient) -> None:
    other = client.get("/v1/customers?limit=1")  # any list's cursor shape: a forged or foreign one is refused
    assert other.status_code == 200
    from app.pagination import encode_cursor  # noqa: PLC0415

    assert client.get(f"/v1/audit?cursor={encode_cursor(['acme'])}").status_code == 422


@pytest.mark.parametrize("key_id", ["0", "2147483648", "99999999999999999999"])
def test_a_key_id_beyond_the_key_column_is_422_not_500(client: TestClient, key_id: str) -> None:
    """Schemathesis found `?key_id=` beyond PostgreSQL's integer answered 500 (integer out of range)."""
    response = client.get(f"/v1/audit?key_id={key_id}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "key_id"]


def test_the_largest_key_id_is_a_filter_that_matches_nothing(client: TestClient) -> None:
    response = client.get("/v1/audit?key_id=2147483647")
    assert response.status_code == 200
    assert response.json()["items"] == []
