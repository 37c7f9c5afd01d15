"""Shared API types (`app/schemas.py`): bounded dates, no NUL in text, plain JSON, strict booleans (issue 10)."""

import base64
import copy
import json
import re
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.schemas import DATE_PATTERN, IsoDate
from tests.test_errors import assert_problem

METRICS = ["retention", "renewals", "cost-of-renewals", "unit-economics", "roi", "health", "voc", "support", "staffing"]


class TestDateBounds:
    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize(("start", "end"), [("9999-12-01", "9999-12-31"), ("0001-01-01", "0001-02-01")])
    def test_dates_outside_the_supported_range_are_422(
        self, client: TestClient, metric: str, start: str, end: str
    ) -> None:
        response = client.get(f"/v1/metrics/{metric}", params={"start": start, "end": end, "interval": "month"})
        assert response.status_code == 422, response.text
        assert "1900-01-01" in response.json()["errors"][0]["msg"]

    @pytest.mark.parametrize(
        "path", ["/v1/scorecards/9999-12", "/v1/scorecards/0001-01", "/v1/customers/a/health?as_of=9999-12-31"]
    )
    def test_extreme_months_and_days_are_422(self, client: TestClient, path: str) -> None:
        client.put("/v1/customers/a", json={})
        assert client.get(path).status_code == 422

    def test_the_widest_supported_range_answers(self, client: TestClient) -> None:
        response = client.get("/v1/metrics/cost-of-renewals?start=1900-01-01&end=1900-02-28")
        assert response.status_code == 200
        assert client.get("/v1/scorecards/1910-01").status_code == 200
        assert client.get("/v1/scorecards/1909-12").status_code == 422


# --- issue 10: odd bytes are a 422 naming the field, the same on SQLite and PostgreSQL -------------------------------
# PostgreSQL's text and jsonb cannot hold U+0000: before these checks a NUL reached the driver and answered 500.

NUL = "\x00"
METHODS = ("get", "put", "post", "patch", "delete")


# Only Stripe can sign its route's bodies (a 400 before any field is read): tests/ledger/test_stripe_router.py makes
# the same checks with signed bodies.
SIGNED_BY_STRIPE = {("post", "/v1/integrations/stripe")}


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
        if method in METHODS and (method, path) not in SIGNED_BY_STRIPE
    ]


def _url(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter replaced by its example (any valid id: bodies are refused before lookups)."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", str(parameter.get("example", "x1")))
    return path


def _text_leaves(value: Any, at: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The path of every string inside a JSON value."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _text_leaves(item, (*at, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _text_leaves(item, (*at, index))]
    return [at] if isinstance(value, str) else []


def _with_nul(document: Any, leaf: tuple[str | int, ...]) -> Any:
    """A copy of `document` whose string at `leaf` has a NUL in the middle (otherwise still a valid value)."""
    document = copy.deepcopy(document)
    parent = document
    for part in leaf[:-1]:
        parent = parent[part]
    text = parent[leaf[-1]]
    parent[leaf[-1]] = text[: len(text) // 2 + 1] + NUL + text[len(text) // 2 + 1 :]
    return document


def _named(errors: list[dict[str, Any]], where: list[str | int]) -> bool:
    """Some error names `where`: its `loc` is `where`, a prefix of it (a free-JSON field is named as a whole), or
    `where` and then the option of a union that was tried."""
    return any(len(e["loc"]) > 1 and where[: len(e["loc"])] == e["loc"][: len(where)] for e in errors)


class TestNulIsRefused:
    def test_every_string_of_every_body_example(self, app: FastAPI, client: TestClient) -> None:
        """Each string of each operation's first example, with a NUL inside it, is a 422 naming that string."""
        checked, wrong = 0, []
        for method, path, operation in _operations(app):
            examples = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("examples")
            if not examples:
                continue
            example = next(iter(examples.values()))["value"]
            for leaf in _text_leaves(example):
                response = client.request(method.upper(), _url(path, operation), json=_with_nul(example, leaf))
                checked += 1
                if response.status_code != 422 or not _named(response.json()["errors"], ["body", *leaf]):
                    wrong.append(f"{method} {path} {leaf}: {response.status_code} {response.text[:200]}")
        assert checked >= 60
        assert not wrong, "\n".join(wrong)

    def test_every_query_parameter(self, app: FastAPI, client: TestClient) -> None:
        """Filters (`?segment=`, `?product=`, `?customer=`…) and every other parameter: a 422 naming it."""
        checked, wrong = 0, []
        for method, path, operation in _operations(app):
            for parameter in (p for p in operation.get("parameters", []) if p["in"] == "query"):
                value = str(parameter.get("example", "ab"))
                response = client.request(
                    method.upper(), _url(path, operation), params={parameter["name"]: value[:1] + NUL + value[1:]}
                )
                checked += 1
                if response.status_code != 422 or not _named(response.json()["errors"], ["query", parameter["name"]]):
                    wrong.append(f"{method} {path} ?{parameter['name']}: {response.status_code} {response.text[:200]}")
        assert checked >= 60
        assert not wrong, "\n".join(wrong)

    @pytest.mark.parametrize(
        ("path", "query"),
        [
            ("/v1/customers", "segment"),
            ("/v1/customers", "csm"),
            ("/v1/movements", "product"),
            ("/v1/renewals", "customer"),
            ("/v1/costs", "customer"),
            ("/v1/interventions", "owner"),
        ],
    )
    def test_filters_of_the_fuzzing_report(self, client: TestClient, path: str, query: str) -> None:
        body = assert_problem(client.get(path, params={query: "acme" + NUL}), 422)
        assert body["errors"] == [
            {
                "loc": ["query", query],
                "msg": "text must not contain the NUL character (U+0000)",
                "type": "string_pattern_mismatch",
            }
        ]

    def test_customer_name_and_the_answer_is_the_same_as_without_it(self, client: TestClient) -> None:
        body = assert_problem(client.put("/v1/customers/c1", json={"name": "Acme" + NUL + " Corp"}), 422)
        assert [e["loc"] for e in body["errors"]] == [["body", "name"]]
        assert client.get("/v1/customers/c1").status_code == 404  # nothing written

    @pytest.mark.parametrize("attributes", [{"owner": "a" + NUL}, {"a" + NUL: 1}, {"deep": [{"x": ["y" + NUL]}]}])
    def test_in_customer_attributes_keys_and_values(self, client: TestClient, attributes: dict[str, Any]) -> None:
        body = assert_problem(client.put("/v1/customers/c1", json={"attributes": attributes}), 422)
        assert [e["loc"] for e in body["errors"]] == [["body", "attributes"]]
        assert "NUL" in body["errors"][0]["msg"]

    def test_a_backslash_u0000_written_as_text_is_not_a_nul(self, client: TestClient) -> None:
        sent = {"name": "C:\\u0000", "attributes": {"path": "C:\\u0000"}}
        assert client.put("/v1/customers/c1", json=sent).status_code == 201
        got = client.get("/v1/customers/c1").json()
        assert (got["name"], got["attributes"]) == (sent["name"], sent["attributes"])

    def test_in_a_cursor(self, client: TestClient) -> None:
        forged = base64.urlsafe_b64encode(json.dumps(["a" + NUL]).encode()).decode().rstrip("=")
        body = assert_problem(client.get("/v1/customers", params={"cursor": forged}), 422)
        assert [e["loc"] for e in body["errors"]] == [["query", "cursor"]]


class TestPlainJson:
    """Free JSON (customer attributes, event properties) holds what both databases store as sent."""

    @pytest.mark.parametrize(
        "raw", [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}', b'{"x": 1e999}', b'{"x": [1, {"y": -1e999}]}']
    )
    def test_nan_and_infinity_in_attributes_are_422(self, client: TestClient, raw: bytes) -> None:
        # PostgreSQL answered 500; SQLite stored null: neither gives back what was sent.
        response = client.put(
            "/v1/customers/c1", content=b'{"attributes": ' + raw + b"}", headers={"content-type": "application/json"}
        )
        body = assert_problem(response, 422)
        assert [e["loc"] for e in body["errors"]] == [["body", "attributes"]]
        assert "NaN or Infinity" in body["errors"][0]["msg"]
        assert client.get("/v1/customers/c1").status_code == 404

    def test_the_same_in_a_batch_names_the_item(self, client: TestClient) -> None:
        raw = b'{"customers": [{"id": "a"}, {"id": "b", "attributes": {"x": NaN}}]}'
        response = client.post("/v1/customers/batch", content=raw, headers={"content-type": "application/json"})
        assert [e["loc"] for e in assert_problem(response, 422)["errors"]] == [["body", "customers", 1, "attributes"]]

    def test_nan_in_event_properties_is_422(self, client: TestClient) -> None:
        event = b'{"id": "e1", "customer": "c1", "kind": "login", "occurred_at": "2026-01-01T00:00:00Z"'
        raw = b'{"events": [' + event + b', "properties": {"x": NaN}}]}'
        response = client.post("/v1/events", content=raw, headers={"content-type": "application/json"})
        assert [e["loc"] for e in assert_problem(response, 422)["errors"]] == [["body", "events", 0, "properties"]]

    def test_plain_json_round_trips(self, client: TestClient) -> None:
        attributes = {"n": 1.5, "big": 10**30, "neg": -2, "list": [None, True, "é", {"x": []}], "": "empty key"}
        assert client.put("/v1/customers/c1", json={"attributes": attributes}).status_code == 201
        assert client.get("/v1/customers/c1").json()["attributes"] == attributes


def _bool_leaves(value: Any, at: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _bool_leaves(item, (*at, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _bool_leaves(item, (*at, index))]
    return [at] if isinstance(value, bool) else []


def _replaced(document: Any, leaf: tuple[str | int, ...], value: Any) -> Any:
    document = copy.deepcopy(document)
    parent = document
    for part in leaf[:-1]:
        parent = parent[part]
    parent[leaf[-1]] = value
    return document


class TestStrictBooleans:
    """Issue 10: `"met": 0` is not a boolean; only JSON true and false are."""

    @pytest.mark.parametrize("lookalike", [0, 1, "true", "yes", "on"])
    def test_every_boolean_of_every_body_example(self, app: FastAPI, client: TestClient, lookalike: Any) -> None:
        checked, wrong = 0, []
        for method, path, operation in _operations(app):
            examples = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("examples")
            for example in (e["value"] for e in (examples or {}).values()):
                for leaf in _bool_leaves(example):
                    sent = _replaced(example, leaf, lookalike)
                    response = client.request(method.upper(), _url(path, operation), json=sent)
                    checked += 1
                    if response.status_code != 422 or not _named(response.json()["errors"], ["body", *leaf]):
                        wrong.append(f"{method} {path} {leaf}: {response.status_code} {response.text[:200]}")
        assert checked >= 3
        assert not wrong, "\n".join(wrong)

    @pytest.mark.parametrize(
        ("method", "path", "body", "field"),
        [
            ("PUT", "/v1/interventions/iv-1/outcome", {"note": "QBR", "met": 0}, "met"),
            ("PUT", "/v1/interventions/iv-1/outcome", {"note": "QBR", "met": "false"}, "met"),
            ("POST", "/v1/interventions", {"at_risk": 1}, "at_risk"),
            ("POST", "/v1/interventions", {"override_holdout": "true"}, "override_holdout"),
        ],
    )
    def test_intervention_flags(
        self, client: TestClient, method: str, path: str, body: dict[str, Any], field: str
    ) -> None:
        body = assert_problem(client.request(method, path, json=body), 422)
        assert ["body", field] in [e["loc"] for e in body["errors"]]

    def test_true_and_false_still_work(self, client: TestClient) -> None:
        response = client.put("/v1/interventions/iv-1/outcome", json={"note": "QBR", "met": False})
        assert response.status_code == 404  # valid body; the intervention does not exist


class _Day(BaseModel):
    day: IsoDate


@given(text=st.one_of(st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True), st.dates().map(str)))
def test_a_date_is_accepted_exactly_when_the_document_allows_it(text: str) -> None:
    """The OpenAPI `pattern` (years 1900 to 9998) plus `format: date` (a real calendar day) is the validator's rule."""
    try:
        date.fromisoformat(text)
        real_day = True
    except ValueError:
        real_day = False
    try:
        _Day(day=text)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == (real_day and bool(re.fullmatch(DATE_PATTERN, text, re.ASCII)))


# --- issue 10, .ci/fuzz: the document and the service accept the same inputs ------------------------------------


def _number_leaves(value: Any, at: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The path of every number inside a JSON value, except inside free JSON (attributes, properties, where)."""
    if isinstance(value, dict):
        return [
            leaf
            for key, item in value.items()
            if key not in ("attributes", "properties", "where")
            for leaf in _number_leaves(item, (*at, key))
        ]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _number_leaves(item, (*at, index))]
    return [at] if isinstance(value, int | float) and not isinstance(value, bool) else []


class TestJsonNumbers:
    """A body's number is a JSON number: Pydantic's lax mode read `"red_below": false` as 0 and stored it."""

    @pytest.mark.parametrize("lookalike", [True, False])
    def test_every_number_of_every_body_example(self, app: FastAPI, client: TestClient, lookalike: bool) -> None:
        checked, wrong = 0, []
        for method, path, operation in _operations(app):
            examples = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("examples")
            for example in (e["value"] for e in (examples or {}).values()):
                for leaf in _number_leaves(example):
                    response = client.request(
                        method.upper(), _url(path, operation), json=_replaced(example, leaf, lookalike)
                    )
                    checked += 1
                    if response.status_code != 422 or not _named(response.json()["errors"], ["body", *leaf]):
                        wrong.append(f"{method} {path} {leaf}: {response.status_code} {response.text[:200]}")
        assert checked >= 20
        assert not wrong, "\n".join(wrong)

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"bands": {"red_below": "40"}}, ["body", "bands", "red_below"]),
            ({"components": [{"window_days": "30"}]}, ["body", "components", 0, "window_days"]),
        ],
    )
    def test_numbers_as_text_are_422_where_the_document_says_number(
        self, client: TestClient, body: dict[str, Any], loc: list[str | int]
    ) -> None:
        component = {"name": "logins", "weight": 1, "kind": "login", "aggregate": "count", "window_days": 30}
        sent = {"components": [{**component, "bad": 0, "good": 10, **body.get("components", [{}])[0]}]}
        sent |= {"bands": body["bands"]} if "bands" in body else {}
        problem = assert_problem(client.put("/v1/health-model", json=sent), 422)
        assert loc in [e["loc"] for e in problem["errors"]]


def _decimal_types() -> list[tuple[str, Any, str]]:
    from app.experiments.schemas import HoldoutShare  # noqa: PLC0415
    from app.interventions.schemas import Change, Hours, MetricValue  # noqa: PLC0415
    from app.scorecard.schemas import TargetValue  # noqa: PLC0415
    from app.usage.schemas import EventValue  # noqa: PLC0415

    found = []
    for name, annotation in [
        ("hours", Hours),
        ("metric value", MetricValue),
        ("change", Change),
        ("holdout share", HoldoutShare),
        ("target", TargetValue),
        ("event value", EventValue),
    ]:
        adapter = TypeAdapter(annotation)
        [text] = [o for o in adapter.json_schema()["anyOf"] if o["type"] == "string"]
        found.append((name, adapter, text["pattern"]))
    return found


DECIMALS = _decimal_types()
DECIMAL_TEXT = st.one_of(
    st.from_regex(r" ?-?[0-9]{0,17}(\.[0-9]{0,8})? ?", fullmatch=True),
    st.sampled_from(["", "1e3", "+1", ".5", "5.", "1_000", "NaN", "Infinity", "0x10", "１２"]),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)


@pytest.mark.parametrize(("name", "adapter", "pattern"), DECIMALS, ids=[d[0] for d in DECIMALS])
@given(text=DECIMAL_TEXT)
def test_a_decimal_string_is_accepted_exactly_when_the_document_allows_it(
    name: str, adapter: TypeAdapter[Any], pattern: str, text: str
) -> None:
    """Schemathesis sent `"change": ""` (and other strings the document allowed) and got a 422: each decimal's
    string option now has a pattern that states its digits, decimals and bounds, and the service applies it."""
    try:
        adapter.validate_python(text)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == bool(re.fullmatch(pattern, text, re.ASCII)), (name, text)


class TestQueryParameters:
    def test_a_parameter_given_twice_is_422_naming_it(self, client: TestClient) -> None:
        """`?as_of=2026-01-01&as_of=` answered as if only the last (empty, so absent) had been sent."""
        client.put("/v1/customers/a", json={})
        problem = assert_problem(client.get("/v1/customers/a/health?as_of=2026-01-01&as_of="), 422)
        assert problem["errors"][0]["loc"] == ["query", "as_of"]
        assert "more than once" in problem["errors"][0]["msg"]

    def test_an_empty_parameter_is_still_absent(self, client: TestClient) -> None:
        assert client.get("/v1/customers?segment=&limit=5").status_code == 200

    @pytest.mark.parametrize("month", ["٢٠٢٦-02", "2026-٠٢", "0000-01"])
    def test_a_scorecard_month_is_ascii_digits(self, client: TestClient, month: str) -> None:
        assert client.get(f"/v1/scorecards/{month}").status_code == 422


class TestNotBlank:
    @pytest.mark.parametrize("blank", [" ", "\u00a0", "\u3000\t"])
    def test_a_blank_name_is_422_as_the_document_says(self, client: TestClient, blank: str) -> None:
        """Schemathesis sent `"region": "\\u00a0"`: valid for `minLength: 1`, empty once stripped."""
        from app.schemas import NOT_BLANK  # noqa: PLC0415

        assert not re.fullmatch(NOT_BLANK, blank)
        problem = assert_problem(client.put("/v1/customers/a", json={"region": blank}), 422)
        assert problem["errors"][0]["loc"] == ["body", "region"]

    @pytest.mark.parametrize("text", ["\u200bx", "\x1c", "a b"])
    def test_text_with_something_besides_whitespace_is_kept(self, client: TestClient, text: str) -> None:
        assert client.put("/v1/customers/a", json={"region": text}).status_code == 201


def test_rounding_keeps_every_digit_of_a_huge_value() -> None:
    """A raw usage value of 1e30 has 37 digits at six decimals, beyond Decimal's default 28: rounding must not raise
    (it did, as a 500 on GET /v1/customers/{id}/health, found by schemathesis)."""
    from decimal import Decimal  # noqa: PLC0415

    from app.schemas import ratio_json, score_json  # noqa: PLC0415

    assert ratio_json(1e30) == 1e30
    big = "123456789012345678901234567890.1234567"
    assert ratio_json(Decimal(big)) == float("123456789012345678901234567890.123457")
    assert score_json(66.21761260178246) == 66.22
    assert ratio_json(0.1234565) == 0.123456  # half to even
