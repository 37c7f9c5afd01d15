"""Liveness, readiness, Prometheus metrics, request ids, CORS."""

import gc
import re
import weakref
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app import migrate
from app.config import Settings
from app.main import create_app, freeze_heap


def test_healthz(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}


def test_readyz_when_migrated(anonymous: TestClient) -> None:
    body = anonymous.get("/readyz").json()
    assert body == {"status": "ready", "revision": migrate.head_revision()}


@pytest.fixture
def empty_url(fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[str]:
    yield from fresh_database_url()


def test_readyz_fails_on_an_unmigrated_database(empty_url: str) -> None:
    with TestClient(create_app(Settings(database_url=empty_url))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503


def test_readyz_fails_when_a_migration_is_pending(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    migrate.downgrade(empty_url, "base")
    with TestClient(create_app(Settings(database_url=empty_url))) as client:
        assert client.get("/readyz").status_code == 503


def test_readyz_fails_when_the_database_is_unreachable() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503


def test_metrics_label_requests_by_route_template(client: TestClient) -> None:
    client.get("/v1/customers/abc")
    text = client.get("/metrics").text
    assert 'handler="/v1/customers/{customer_id}"' in text
    assert "/v1/customers/abc" not in text


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    given = "0b5a3c2e9f1d4e6a8b7c6d5e4f3a2b1c"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["x-request-id"] == given
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def test_cors_is_off_by_default(anonymous: TestClient) -> None:
    response = anonymous.get("/healthz", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_the_configured_origins(database_url: str) -> None:
    settings = Settings(database_url=database_url, cors_origins="https://app.example.com")  # type: ignore[arg-type]
    with TestClient(create_app(settings)) as client:
        allowed = client.options(
            "/v1/customers", headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
        )
        other = client.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in other.headers


# /docs and /redoc work offline: their assets are served from an installed package, never a CDN.
DOC_ASSETS = {
    "/docs/assets/swagger-ui-bundle.js": "text/javascript",
    "/docs/assets/swagger-ui.css": "text/css",
    "/docs/assets/redoc.standalone.js": "text/javascript",
    "/docs/assets/favicon.png": "image/png",
}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_doc_pages_reference_no_outside_host(anonymous: TestClient, page: str) -> None:
    response = anonymous.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    assert "//cdn" not in html
    assert "/docs/assets/" in html
    referenced = set(re.findall(r'(?:href|src)="([^"]+)"', html))
    assert referenced <= set(DOC_ASSETS), referenced


def test_swagger_ui_makes_no_validator_call(anonymous: TestClient) -> None:
    assert '"validatorUrl": null' in anonymous.get("/docs").text


@pytest.mark.parametrize(("path", "media_type"), DOC_ASSETS.items())
def test_doc_assets_are_served_open_with_their_media_type(anonymous: TestClient, path: str, media_type: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert len(response.content) > 1000


def test_an_unknown_doc_asset_is_a_404_problem(anonymous: TestClient) -> None:
    response = anonymous.get("/docs/assets/nope.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_bare_address_redirects_to_the_docs(anonymous: TestClient) -> None:
    response = anonymous.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/docs"


class _Node:
    me: object = None


def test_freeze_heap_collects_garbage_first_then_freezes_what_is_alive() -> None:
    """`csroi serve` freezes its built app's heap (full collections then skip ~200,000 long-lived objects), and must
    not pin garbage: a cycle already unreachable is collected, not frozen."""
    node = _Node()
    node.me = node
    probe = weakref.ref(node)
    del node
    try:
        freeze_heap()
        assert probe() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the test process builds many apps: leave nothing pinned
