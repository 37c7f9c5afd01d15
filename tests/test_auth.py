"""Every /v1 route: 401 without or with a bad key, 403 with the wrong scope (walks the OpenAPI paths)."""

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.keys import service
from app.keys.service import Scope
from app.main import create_app
from app.models import ApiKey

# Scope a route needs, by method and path (SPEC §2): reads need `read`; posting data needs `ingest`;
# interventions, experiments and targets need `write`; the health model (and the suggested one), month close,
# keys, the audit log, webhooks, the worker's jobs and erasing a customer need `admin`.
WRITE_PATHS = re.compile(r"^/v1/(interventions|experiments|targets)")
ADMIN_PATHS = re.compile(
    r"^/v1/(health-model|health/snapshots|health/backtest/suggest|scorecards/[^/]+/close|keys|webhooks|jobs)"
)


# Routes any active key may call, whatever its scopes: a client learning what its own key may do.
ANY_KEY_PATHS = {("GET", "/v1/me")}


def required_scope(method: str, path: str) -> Scope:
    """The scope SPEC §2 gives a route; the health model is admin even to read (issue 4)."""
    if method == "GET":
        return (
            Scope.admin
            if path.startswith("/v1/health-model") or path == "/v1/audit" or ADMIN_PATHS.match(path)
            else Scope.read
        )
    if ADMIN_PATHS.match(path) or (method, path) == ("DELETE", "/v1/customers/{customer_id}"):
        return Scope.admin
    return Scope.write if WRITE_PATHS.match(path) else Scope.ingest


# The one /v1 route Stripe calls: it sends no API key, so the route is authenticated by the event's signature instead
# (SPEC §11); tests/ledger/test_stripe_router.py shows that a key neither opens nor is needed for it.
SIGNED_BY_STRIPE = {("POST", "/v1/integrations/stripe")}


def v1_operations() -> list[tuple[str, str]]:
    paths = create_app().openapi()["paths"]
    operations = [(method.upper(), path) for path, ops in paths.items() if path.startswith("/v1/") for method in ops]
    return [operation for operation in operations if operation not in SIGNED_BY_STRIPE]


def concrete(path: str) -> str:
    """A real URL for a template: months where a month goes, an id elsewhere."""
    return re.sub(r"\{[^}]+\}", "x1", path.replace("{month}", "2026-01"))


OPERATIONS = v1_operations()
SCOPED_OPERATIONS = [operation for operation in OPERATIONS if operation not in ANY_KEY_PATHS]


def test_the_walk_covers_the_records_routes() -> None:
    assert ("GET", "/v1/customers") in OPERATIONS
    assert ("POST", "/v1/customers/batch") in OPERATIONS
    assert len(OPERATIONS) >= 8


def test_only_the_stripe_route_is_left_out_of_the_walk() -> None:
    """Every other /v1 operation declares the bearer key; the Stripe route declares its signature header instead."""
    paths = create_app().openapi()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if not path.startswith("/v1/"):
                continue
            expected = "StripeSignature" if (method.upper(), path) in SIGNED_BY_STRIPE else "HTTPBearer"
            assert operation["security"] == [{expected: []}], (method, path)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_key_is_401_problem(anonymous: TestClient, method: str, path: str) -> None:
    response = anonymous.request(method, concrete(path))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_bad_key_is_401(anonymous: TestClient, method: str, path: str) -> None:
    response = anonymous.request(method, concrete(path), headers={"Authorization": "Bearer csroi_nope"})
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), SCOPED_OPERATIONS)
def test_wrong_scope_is_403_and_right_scope_passes_auth(
    anonymous: TestClient, make_key: Callable[..., str], method: str, path: str
) -> None:
    needed = required_scope(method, path)
    others = [s for s in Scope if s not in (needed, Scope.admin)]
    wrong = {"Authorization": f"Bearer {make_key(*others)}"}
    response = anonymous.request(method, concrete(path), headers=wrong)
    assert response.status_code == 403, (needed, response.text)
    assert response.json()["required_scope"] == needed.value
    right = {"Authorization": f"Bearer {make_key(needed)}"}
    assert anonymous.request(method, concrete(path), headers=right).status_code not in (401, 403)


@pytest.mark.parametrize(("method", "path"), sorted(ANY_KEY_PATHS))
@pytest.mark.parametrize("scope", list(Scope))
def test_any_key_passes_auth_of_the_any_key_routes(
    anonymous: TestClient, make_key: Callable[..., str], method: str, path: str, scope: Scope
) -> None:
    headers = {"Authorization": f"Bearer {make_key(scope)}"}
    assert anonymous.request(method, concrete(path), headers=headers).status_code == 200


def test_revoked_key_is_401(anonymous: TestClient, make_key: Callable[..., str], session) -> None:
    secret = make_key(Scope.read)
    headers = {"Authorization": f"Bearer {secret}"}
    assert anonymous.get("/v1/customers", headers=headers).status_code == 200
    key = service.authenticate(session, secret)
    assert key is not None
    service.revoke_key(session, key.id)
    session.commit()
    assert anonymous.get("/v1/customers", headers=headers).status_code == 401


def test_scheme_other_than_bearer_is_401(anonymous: TestClient, make_key: Callable[..., str]) -> None:
    headers = {"Authorization": f"Basic {make_key(Scope.admin)}"}
    assert anonymous.get("/v1/customers", headers=headers).status_code == 401


def test_ops_routes_and_docs_are_open(anonymous: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert anonymous.get(path).status_code == 200, path


def test_only_a_hash_is_stored(session: Session, make_key: Callable[..., str]) -> None:
    secret = make_key(Scope.read)
    stored = session.scalars(select(ApiKey)).all()
    assert all(secret not in (k.key_hash, k.prefix) for k in stored)
