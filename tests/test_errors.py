"""Errors are part of the API: problem+json for every status, and no malformed request ever gets a 500."""

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.errors import pattern_words

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("https://")
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_unknown_route_is_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404)


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.patch("/v1/customers/acme")
    assert_problem(response, 405)
    assert response.headers["allow"] == "DELETE, GET, HEAD, PUT"


def test_malformed_json_is_422_problem(client: TestClient) -> None:
    response = client.post(
        "/v1/customers/batch", content=b'{"customers": [', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["type"] == "json_invalid"


def test_missing_body_is_422(client: TestClient) -> None:
    assert_problem(client.post("/v1/customers/batch"), 422)


def test_body_over_10_mb_is_413_by_content_length(client: TestClient) -> None:
    blob = json.dumps({"customers": [{"id": "a", "name": "x" * 400}] * 30_000}).encode()
    assert len(blob) > 10 * 1024 * 1024
    body = assert_problem(
        client.post("/v1/customers/batch", content=blob, headers={"content-type": "application/json"}), 413
    )
    assert "10,485,760" in body["detail"]


def test_body_over_the_limit_without_content_length_is_413(settings: Settings, app: FastAPI) -> None:
    def chunks():
        yield b'{"customers": ['
        for _ in range(30_000):
            yield b'{"id": "a", "name": "' + b"x" * 400 + b'"},'
        yield b'{"id": "b"}]}'

    with TestClient(app) as client:
        response = client.post("/v1/customers/batch", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code in (401, 413)  # no key: the limit applies before auth reads the body


def test_unexpected_error_is_a_generic_500_with_request_id(app: FastAPI, client: TestClient) -> None:
    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("SELECT secret FROM internals")

    body = assert_problem(client.get("/v1/boom"), 500)
    assert "SELECT" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)


GARBAGE = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"123",
    b'{"customers": null}',
    b'{"customers": {}}',
    b'{"customers": [null]}',
    b'{"customers": [1, 2]}',
    b'{"customers": [{"id": null}]}',
    b'{"customers": [{"id": ""}]}',
    b'{"customers": [{"id": "' + b"a" * 300 + b'"}]}',
    b'{"customers": [{"id": "a/b"}]}',
    b'{"customers": [{"id": "a", "attributes": [1]}]}',
    b'{"customers": [{"id": "a", "name": {"nested": true}}]}',
    b'{"team_members": [{"id": "a", "hourly_cost": "1e400"}]}',
    b'{"team_members": [{"id": "a", "hourly_cost": "NaN"}]}',
    b'{"team_members": [{"id": "a", "hourly_cost": ""}]}',
    b'{"team_members": [{"id": "a", "hourly_cost": true}]}',
    b'{"team_members": [{"id": "a", "started_on": "2026-13-45"}]}',
    b'{"team_members": [{"id": "a", "email": "not-an-email"}]}',
    b'{"team_members": [{"id": "a", "role": 7}]}',
    b"\xff\xfe\x00garbage",
    b'{"customers": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
]


@pytest.mark.parametrize(
    "path", ["/v1/customers/batch", "/v1/team-members/batch", "/v1/customers/x", "/v1/team-members/x"]
)
@pytest.mark.parametrize("payload", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_bodies_are_4xx_never_500(client: TestClient, path: str, payload: bytes) -> None:
    method = "PUT" if path.endswith("/x") else "POST"
    response = client.request(method, path, content=payload, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "limit=-1",
        "cursor=%00",
        "cursor=" + "A" * 5000,
        "tier=gold",
        "format=xml",
        "limit=1&limit=2&limit=x",
        "segment=" + "x" * 10_000,
    ],
)
def test_garbage_queries_are_4xx_never_500(client: TestClient, query: str) -> None:
    response = client.get(f"/v1/customers?{query}")
    assert response.status_code < 500
    assert response.status_code == 200 or response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("method", "path", "content_type", "sent"),
    [
        ("POST", "/v1/customers/batch", "text/plain", "text/plain"),
        ("POST", "/v1/customers/batch", "application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("POST", "/v1/customers/batch", None, "no Content-Type"),
        ("PUT", "/v1/customers/acme", "text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("POST", "/v1/events", "text/csv", "text/csv"),
        ("PUT", "/v1/targets/nrr", "multipart/form-data; boundary=x", "multipart/form-data; boundary=x"),
    ],
)
def test_a_body_not_sent_as_json_is_a_415_that_says_so(
    client: TestClient, method: str, path: str, content_type: str | None, sent: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.request(method, path, content=b'{"customers": []}', headers=headers)
    body = assert_problem(response, 415)
    assert body["title"] == "Unsupported Media Type"
    assert body["detail"] == f"Send the body as JSON with Content-Type: application/json (this request sent {sent})."


def test_json_with_a_charset_or_a_json_suffix_is_still_json(client: TestClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post(
            "/v1/customers/batch", content=b'{"customers": [{"id": "acme"}]}', headers={"content-type": content_type}
        )
        assert response.status_code == 200, response.text


def test_an_optional_body_may_be_left_out_without_a_content_type(client: TestClient) -> None:
    response = client.post("/v1/interventions/nothing-here/start")
    assert response.status_code == 404, response.text  # no 415: there was no body


def test_every_operation_with_a_body_declares_the_415(app: FastAPI) -> None:
    operations = [op for ops in app.openapi()["paths"].values() for op in ops.values() if "requestBody" in op]
    assert operations
    for operation in operations:
        assert "415" in operation["responses"], operation["operationId"]


def test_every_operation_with_a_body_declares_the_400(app: FastAPI) -> None:
    operations = [op for ops in app.openapi()["paths"].values() for op in ops.values() if "requestBody" in op]
    for operation in operations:
        declared = operation["responses"].get("400", {})
        assert "not UTF-8" in declared.get("description", ""), operation["operationId"]
        assert PROBLEM in declared["content"], operation["operationId"]


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b'{"name": "Caf\xe9"}', "The body is not UTF-8 text: send JSON encoded as UTF-8."),
        (b'{"attributes": ' + b"[" * 5000 + b"]" * 5000 + b"}", "The body's JSON nests too deeply to read."),
        (b'{"attributes": {"x": ' + b"9" * 5000 + b"}}", "The body's JSON has a number too long to read"),
    ],
)
def test_a_body_python_cannot_read_is_a_400_that_says_why(client: TestClient, payload: bytes, detail: str) -> None:
    """Issue 10: the 400 is declared in the OpenAPI document and says what is wrong with the bytes."""
    response = client.put("/v1/customers/acme", content=payload, headers={"content-type": "application/json"})
    assert assert_problem(response, 400)["detail"].startswith(detail)


# A malformed id, month or name says what is allowed in words, never as a regular expression (the OpenAPI
# document still publishes the `pattern`).
def _patterns(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_patterns(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(value) for value in node))
    return set()


def test_every_pattern_in_the_openapi_document_has_words(app: FastAPI) -> None:
    patterns = _patterns(app.openapi())
    assert len(patterns) >= 8
    assert {pattern for pattern in patterns if not pattern_words(pattern)} == set()


ID_WORDS = "an id is 1 to 255 characters: letters, digits and . _ : @ + - (no spaces or slashes)"
MONTH_WORDS = "a month is YYYY-MM, e.g. 2026-10"


@pytest.mark.parametrize(
    ("call", "body", "loc", "words"),
    [
        ("GET /v1/customers/a%20b", None, ["path", "customer_id"], ID_WORDS),
        ("GET /v1/renewals/-renewal", None, ["path", "renewal_id"], ID_WORDS),
        ("PUT /v1/customers/acme", {"id": "ac me"}, ["body", "id"], ID_WORDS),
        (
            "POST /v1/customers/batch",
            {"customers": [{"id": "a"}, {"id": "b c"}]},
            ["body", "customers", 1, "id"],
            ID_WORDS,
        ),
        ("PUT /v1/team-members/jo", {"email": "not an email"}, ["body", "email"], "name@example.com"),
        ("GET /v1/scorecards/2026-1", None, ["path", "month"], MONTH_WORDS),
        ("GET /v1/scorecards/1900-01", None, ["path", "month"], MONTH_WORDS),
        ("DELETE /v1/targets/NRR", None, ["path", "metric"], "lowercase letters, digits and _"),
        (
            "POST /v1/events",
            {"events": [{"kind": "log in"}]},
            ["body", "events", 0, "kind"],
            "an event kind is letters",
        ),
    ],
)
def test_a_malformed_input_says_what_is_allowed_in_words(
    client: TestClient, call: str, body: dict | None, loc: list, words: str
) -> None:
    method, path = call.split(" ")
    problem = assert_problem(client.request(method, path, json=body), 422)
    [error] = [error for error in problem["errors"] if error["loc"] == loc]
    assert error["type"] == "string_pattern_mismatch"
    assert words in error["msg"]
    assert "^" not in error["msg"]
    assert "pattern" not in error["msg"]


@pytest.mark.parametrize("query", ["month=2026-1", "month=26-10", "month=0000-01", "month=1899-12", "month=٢٠٢٥-10"])
def test_a_malformed_month_in_a_query_says_what_is_allowed(client: TestClient, query: str) -> None:
    problem = assert_problem(client.get(f"/v1/costs?{query}"), 422)
    assert "a month is YYYY-MM from 1900-01 to 9998-12, e.g. 2025-10" in problem["errors"][0]["msg"]


def test_a_missing_body_says_a_json_body_is_needed(client: TestClient) -> None:
    problem = assert_problem(client.post("/v1/customers/batch"), 422)
    assert problem["errors"] == [
        {
            "loc": ["body"],
            "msg": "this request needs a JSON body, sent with Content-Type: application/json",
            "type": "missing",
        }
    ]
