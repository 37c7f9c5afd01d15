"""Webhook subscriptions over HTTP (SPEC §11, admin): create, replace, list, delete, the delivery log, audit."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.keys.service import Scope
from app.models import Webhook, WebhookTopic
from app.webhooks import urls

HOOK = {"url": "https://hooks.example.com/csroi", "events": ["revenue.churned", "customer.at_risk"]}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The service's defaults: private addresses refused."""
    return Settings(database_url=database_url)


@pytest.fixture(autouse=True)
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """hooks.example.com resolves to a public address (no DNS in tests); other names as the resolver says."""
    real = urls.resolve

    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14"] if host.endswith("example.com") else real(host, port)

    monkeypatch.setattr(urls, "resolve", resolve)


class TestPut:
    def test_creates_with_a_generated_secret_shown_once(self, client: TestClient, session: Session) -> None:
        answer = client.put("/v1/webhooks/crm", json=HOOK)
        assert answer.status_code == 201
        body = answer.json()
        assert body["secret"].startswith("whsec_")
        assert len(body["secret"]) == 6 + 43
        assert {k: body[k] for k in ("id", "url", "events")} == {"id": "crm", **HOOK}
        stored = session.get(Webhook, "crm")
        assert stored is not None
        assert stored.secret == body["secret"]
        assert client.get("/v1/webhooks/crm").json()["secret"] is None
        assert client.get("/v1/webhooks").json()["items"][0]["secret"] is None

    def test_replacing_keeps_the_secret_unless_one_is_sent(self, client: TestClient, session: Session) -> None:
        secret = client.put("/v1/webhooks/crm", json=HOOK).json()["secret"]
        answer = client.put("/v1/webhooks/crm", json={**HOOK, "events": ["renewal.due"]})
        assert answer.status_code == 200
        assert answer.json()["secret"] is None
        session.expire_all()
        assert session.get(Webhook, "crm").secret == secret  # type: ignore[union-attr]
        client.put("/v1/webhooks/crm", json={**HOOK, "secret": "my-own-secret-0123456789"})
        session.expire_all()
        assert session.get(Webhook, "crm").secret == "my-own-secret-0123456789"  # type: ignore[union-attr]
        topics = session.scalars(select(WebhookTopic.type).where(WebhookTopic.webhook_id == "crm")).all()
        assert sorted(topics) == ["customer.at_risk", "revenue.churned"]

    def test_a_type_listed_twice_counts_once(self, client: TestClient) -> None:
        answer = client.put("/v1/webhooks/crm", json={**HOOK, "events": ["renewal.due", "renewal.due"]})
        assert answer.json()["events"] == ["renewal.due"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({**HOOK, "events": []}, "events"),
            ({**HOOK, "events": ["revenue.refunded"]}, "events"),
            ({**HOOK, "url": "ftp://hooks.example.com/x"}, "url"),
            ({**HOOK, "url": "https:///no-host"}, "url"),
            ({**HOOK, "secret": "short"}, "secret"),
            ({**HOOK, "secret": "has spaces in it, 24 chars"}, "secret"),
            ({"url": HOOK["url"]}, "events"),
            ({**HOOK, "extra": 1}, "extra"),
            ({**HOOK, "id": "other"}, "id"),
        ],
    )
    def test_bad_bodies_are_422_naming_the_field(self, client: TestClient, body: dict, field: str) -> None:
        answer = client.put("/v1/webhooks/crm", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert field in {loc for e in answer.json()["errors"] for loc in e["loc"]}

    @pytest.mark.parametrize(
        "url",
        ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/x", "http://[::1]/x",
         "http://169.254.169.254/latest/meta-data", "http://192.168.0.10/x", "http://100.64.0.1/x"],
    )  # fmt: skip
    def test_private_addresses_are_refused(self, client: TestClient, url: str) -> None:
        """The client fixture's settings do not allow private addresses (SPEC §11 SSRF)."""
        answer = client.put("/v1/webhooks/crm", json={**HOOK, "url": url})
        assert answer.status_code == 422
        assert "loopback or private address" in answer.json()["detail"]
        assert answer.json()["errors"][0]["loc"] == ["body", "url"]

    def test_private_addresses_are_allowed_when_the_setting_says_so(
        self, app: FastAPI, client: TestClient, settings: Settings
    ) -> None:
        app.state.settings = settings.model_copy(update={"webhook_allow_private": True})
        assert client.put("/v1/webhooks/crm", json={**HOOK, "url": "http://127.0.0.1:8080/hook"}).status_code == 201

    def test_a_host_that_does_not_resolve_is_refused(self, client: TestClient) -> None:
        answer = client.put("/v1/webhooks/crm", json={**HOOK, "url": "https://no-such-host.invalid/hook"})
        assert answer.status_code == 422
        assert "does not resolve" in answer.json()["detail"]

    def test_is_audited_without_the_secret(self, client: TestClient) -> None:
        client.put("/v1/webhooks/crm", json=HOOK)
        [entry] = client.get("/v1/audit", params={"action": "webhook.put"}).json()["items"]
        assert (entry["object"], entry["before"], entry["after"]["secret"]) == ("webhook/crm", None, None)
        assert entry["after"]["url"] == HOOK["url"]


class TestReadAndDelete:
    def test_list_pages_in_id_order_and_answers_csv(self, client: TestClient) -> None:
        for name in ("b", "a", "c"):
            client.put(f"/v1/webhooks/{name}", json=HOOK)
        first = client.get("/v1/webhooks", params={"limit": 2}).json()
        assert [w["id"] for w in first["items"]] == ["a", "b"]
        rest = client.get("/v1/webhooks", params={"cursor": first["next_cursor"]}).json()
        assert [w["id"] for w in rest["items"]] == ["c"]
        csv = client.get("/v1/webhooks", params={"format": "csv"})
        assert csv.text.splitlines()[0] == "id,url,events,secret,created_at,updated_at"

    def test_delete_is_204_then_404_and_audited(self, client: TestClient) -> None:
        client.put("/v1/webhooks/crm", json=HOOK)
        assert client.delete("/v1/webhooks/crm").status_code == 204
        assert client.get("/v1/webhooks/crm").status_code == 404
        assert client.delete("/v1/webhooks/crm").status_code == 404
        [entry] = client.get("/v1/audit", params={"action": "webhook.delete"}).json()["items"]
        assert (entry["before"]["id"], entry["after"]) == ("crm", None)

    def test_the_delivery_log_of_an_unknown_subscription_is_404(self, client: TestClient) -> None:
        assert client.get("/v1/webhooks/nope/deliveries").status_code == 404
        assert client.post("/v1/webhooks/nope/deliveries/1/retry").status_code == 404

    def test_an_unknown_delivery_is_404(self, client: TestClient) -> None:
        client.put("/v1/webhooks/crm", json=HOOK)
        answer = client.post("/v1/webhooks/crm/deliveries/99/retry")
        assert answer.status_code == 404
        assert answer.json()["detail"] == "No delivery with id '99'."

    def test_an_empty_delivery_log(self, client: TestClient) -> None:
        client.put("/v1/webhooks/crm", json=HOOK)
        assert client.get("/v1/webhooks/crm/deliveries").json() == {
            "items": [],
            "next_cursor": None,
            "meta": {"currency": "USD"},
        }


class TestScopes:
    @pytest.mark.parametrize("scope", [Scope.read, Scope.write, Scope.ingest])
    def test_only_admin_keys_manage_webhooks(
        self, anonymous: TestClient, make_key: Callable[..., str], scope: Scope
    ) -> None:
        headers = {"Authorization": f"Bearer {make_key(scope)}"}
        assert anonymous.get("/v1/webhooks", headers=headers).status_code == 403
        assert anonymous.put("/v1/webhooks/crm", json=HOOK, headers=headers).status_code == 403

    def test_no_key_is_401(self, anonymous: TestClient) -> None:
        assert anonymous.get("/v1/webhooks").status_code == 401
