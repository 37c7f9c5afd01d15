"""The committed OpenAPI document equals what the app serves.

Regenerate it with `csroi openapi --output openapi/openapi.json`.
"""

import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

import app
from app.main import create_app
from app.money import Money, NonNegativeMoney, PositiveMoney
from app.schemas import DATE_PATTERN


def test_committed_openapi_matches_the_app(repo_root: Path) -> None:
    committed = json.loads((repo_root / "openapi" / "openapi.json").read_text())
    assert committed == create_app().openapi(), (
        "openapi/openapi.json is stale: run `csroi openapi --output openapi/openapi.json` and commit it"
    )


# Stripe sends no API key: its route answers a bad signature with a 400 instead of 401/403 (SPEC §11).
SIGNED_BY_STRIPE = {("post", "/v1/integrations/stripe")}

# Operations any active key may call (no scope to lack, so no 403): they document 401 and 422 only.
ANY_KEY_OPERATIONS = {("get", "/v1/me")}


def test_every_v1_operation_documents_its_problems() -> None:
    for path, operations in create_app().openapi()["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
            statuses = ["400"] if (method, path) in SIGNED_BY_STRIPE else ["401", "403"]
            if takes_input:
                statuses.append("422")
            if (method, path) in ANY_KEY_OPERATIONS:
                statuses.remove("403")
                assert "403" not in operation["responses"], (method, path)
            for status in statuses:
                content = operation["responses"].get(status, {}).get("content", {})
                assert "application/problem+json" in content, (method, path, status)


# --- a document a newcomer can read (issue 9): descriptions everywhere, an example on every operation ----------

METHODS = ("get", "put", "post", "patch", "delete")


def _document() -> dict[str, Any]:
    return create_app().openapi()


def _undescribed(schema: Any, where: str) -> Iterator[str]:
    """Every property under `schema` (nested objects, list items, unions included) without a description."""
    if not isinstance(schema, dict):
        return
    for name, prop in (schema.get("properties") or {}).items():
        if not prop.get("description"):
            yield f"{where}.{name}"
        yield from _undescribed(prop, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        yield from _undescribed(schema.get(key), f"{where}[]")
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key) or []:
            yield from _undescribed(option, where)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in METHODS:
                yield method, path, operation


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _body_examples(document: dict[str, Any], operation: dict[str, Any]) -> list[tuple[str, Any]]:
    """(component name, example) for every example of the operation's JSON body, inline or on its schema."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    if "anyOf" in schema:  # an optional body: `Model | None`
        schema = next(s for s in schema["anyOf"] if "$ref" in s)
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    found = [(name, e["value"]) for e in content.get("examples", {}).values()]
    found += [(name, content["example"])] if "example" in content else []
    found += [(name, e) for e in _resolve(document, schema).get("examples", [])]
    return found


def _parameter_examples(parameter: dict[str, Any]) -> list[Any]:
    found = [e["value"] for e in parameter.get("examples", {}).values()] + list(
        parameter.get("schema", {}).get("examples", [])
    )
    return found + ([parameter["example"]] if "example" in parameter else [])


def test_every_property_and_parameter_has_a_description() -> None:
    document = _document()
    missing = [m for name, schema in document["components"]["schemas"].items() for m in _undescribed(schema, name)]
    for method, path, operation in _operations(document):
        missing += [
            f"{method} {path} {p['in']}:{p['name']}"
            for p in operation.get("parameters", [])
            if not p.get("description")
        ]
    assert not missing, f"{len(missing)} without a description:\n" + "\n".join(missing)


def test_every_operation_that_takes_input_has_an_example() -> None:
    """Where Swagger UI pre-fills from: the JSON body's `examples`, a parameter's `example` (app.docs)."""
    document = _document()
    missing = [
        f"{method} {path}"
        for method, path, operation in _operations(document)
        if (operation.get("parameters") or operation.get("requestBody"))
        and not operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("examples")
        and not any("example" in p for p in operation.get("parameters", []))
    ]
    assert not missing, "operations without an example request:\n" + "\n".join(missing)


def _models() -> dict[str, type[BaseModel]]:
    """Every pydantic model defined under `app`, by class name (the OpenAPI component name)."""
    found: dict[str, type[BaseModel]] = {}
    for module_info in pkgutil.walk_packages(app.__path__, "app."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                found[value.__name__] = value
    return found


def test_every_body_example_validates() -> None:
    document, models = _document(), _models()
    checked = 0
    for method, path, operation in _operations(document):
        for name, example in _body_examples(document, operation):
            assert name in models, (method, path, name)
            models[name].model_validate_json(json.dumps(example))  # raises on an example that would be a 422
            checked += 1
    assert checked >= 15
    # Examples on models that are not a body themselves (batch items) must hold too.
    for model in models.values():
        for example in (model.model_config.get("json_schema_extra") or {}).get("examples", []):  # type: ignore[union-attr]
            model.model_validate_json(json.dumps(example))


def test_body_examples_are_accepted_by_their_routes(client: TestClient) -> None:
    """Posted as the docs page sends them, the examples of the routes without path parameters succeed."""
    document = _document()
    for method, path, operation in _operations(document):
        if "{" in path or (method, path) in SIGNED_BY_STRIPE:  # only Stripe can sign; tests/ledger signs its example
            continue
        for _, example in _body_examples(document, operation):
            response = client.request(method.upper(), path, json=example)
            assert response.status_code < 300, (method, path, response.json())


def test_metric_parameter_examples_make_a_working_request(client: TestClient) -> None:
    """The docs page pre-fills every metric route with its parameter examples; that request answers 200."""
    for method, path, operation in _operations(_document()):
        if method != "get" or not path.startswith("/v1/metrics/"):
            continue
        query = {
            p["name"]: _parameter_examples(p)[0]
            for p in operation["parameters"]
            if p["in"] == "query" and _parameter_examples(p)
        }
        assert {"start", "end"} <= set(query), path
        response = client.get(path, params=query)
        assert response.status_code == 200, (path, query, response.json())


# --- the document states the constraints the service enforces (issue 10) ------------------------------------------


def _input_schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema) for every schema node a request can send: parameters and bodies, references followed."""
    seen: set[str] = set()

    def walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, list):
            for item in node:
                yield from walk(item, where)
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                yield from walk(document["components"]["schemas"][name], name)
            return
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}.{key}")

    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            yield from walk(parameter["schema"], f"{method} {path} {parameter['name']}")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        yield from walk(body, f"{method} {path} body")


def test_every_input_date_states_its_bounds() -> None:
    document = _document()
    dates = [(where, node) for where, node in _input_schemas(document) if node.get("format") == "date"]
    assert len(dates) >= 30
    assert [where for where, node in dates if node.get("pattern") != DATE_PATTERN] == []
    assert all(re.fullmatch(DATE_PATTERN, day) for day in ("1900-01-01", "9998-12-31"))
    assert not any(re.fullmatch(DATE_PATTERN, day) for day in ("1899-12-31", "9999-01-01"))


def _money_options(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, number option, string option) of every money input: a number or a decimal string."""
    money_patterns = {
        option["pattern"]
        for money in (Money, NonNegativeMoney, PositiveMoney)
        for option in TypeAdapter(money).json_schema()["anyOf"]
        if option["type"] == "string"
    }
    found = []
    for where, node in _input_schemas(document):
        options = node.get("anyOf", [])
        numbers = [o for o in options if o.get("type") == "number" and "multipleOf" in o]
        strings = [o for o in options if o.get("type") == "string" and o.get("pattern") in money_patterns]
        if numbers and strings:
            found.append((where, numbers[0], strings[0]))
    return found


def test_every_number_that_also_takes_text_says_which_text() -> None:
    """A number or a string (money, hours, a target…): the string option has the pattern the service applies.

    Schemathesis found `"change": ""` refused with a 422 while the document allowed any string.
    """
    decimals = 0
    for where, node in _input_schemas(_document()):
        options = node.get("anyOf", [])
        if where != "PlainJson" and any(o.get("type") == "number" for o in options):  # free JSON takes any text
            for text in (o for o in options if o.get("type") == "string"):
                assert "pattern" in text, where
                assert not re.search(text["pattern"], ""), where
                decimals += 1
    assert decimals >= 15


def test_every_money_input_states_cents_and_its_limit() -> None:
    money = _money_options(_document())
    assert len(money) >= 10
    for where, number, _ in money:
        assert number["multipleOf"] == 0.01, where
        assert number["exclusiveMaximum"] == 1e12, where
        assert number.get("minimum") == 0 or number.get("exclusiveMinimum") in (0, -1e12), where


def test_arr_up_for_renewal_is_above_zero_in_the_document() -> None:
    schema = _document()["components"]["schemas"]["RenewalIn"]["properties"]["arr_up_for_renewal"]
    number, text = schema["anyOf"]
    assert number["exclusiveMinimum"] == 0
    assert re.fullmatch(text["pattern"], "0.01")
    assert not re.fullmatch(text["pattern"], "0.00")


def test_record_bodies_say_their_id_must_equal_the_path() -> None:
    document = _document()
    checked = 0
    for method, path, operation in _operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if method != "put" or "$ref" not in body:
            continue
        properties = _resolve(document, body).get("properties", {})
        if "id" in properties:
            assert "must equal the id in the path" in properties["id"]["description"], path
            checked += 1
    assert checked >= 5


def test_booleans_in_bodies_are_json_booleans_only() -> None:
    """Strict booleans: the document's `type: boolean` is all the service accepts (no 0/1, no "true")."""
    flags = [where for where, node in _input_schemas(_document()) if node.get("type") == "boolean"]
    assert len(flags) >= 4  # at_risk, override_holdout, met, per_seat, eligibility.at_risk


def test_lists_and_metrics_declare_meta_currency() -> None:
    document = _document()
    schemas = document["components"]["schemas"]
    pages = [name for name in schemas if name.startswith("PageOut_")]
    assert len(pages) >= 9
    for name in pages:
        assert "meta" in schemas[name]["required"], name
    assert schemas["PageMeta"]["required"] == ["currency"]
    assert "currency" in schemas["ScorecardOut"]["properties"]["meta"]["description"]
    assert "currency" in schemas["TargetList"]["properties"]["meta"]["description"]
    for _, path, operation in _operations(document):
        if path.startswith("/v1/metrics/"):
            answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert "`currency`" in _resolve(document, answer)["properties"]["meta"]["description"], path


def test_a_target_path_lists_the_scorecard_metrics() -> None:
    """Schemathesis sent `PUT /v1/targets/000…` and got a 422 the document did not foretell: it lists the names."""
    from app.scorecard.figures import METRICS  # noqa: PLC0415

    for method in ("put", "delete"):
        [metric] = [p for p in _document()["paths"]["/v1/targets/{metric}"][method]["parameters"] if p["in"] == "path"]
        assert metric["schema"]["enum"] == sorted(METRICS)


def test_free_json_says_no_nul_at_any_depth() -> None:
    """`attributes` and `properties` refuse a NUL anywhere inside: the document says so with a recursive schema."""
    document = _document()
    schemas = document["components"]["schemas"]
    plain = schemas["PlainJsonObject"]
    assert plain["propertyNames"]["pattern"] == "^[^\\x00]*$"
    assert plain["additionalProperties"] == {"$ref": "#/components/schemas/PlainJson"}
    assert {"$ref": "#/components/schemas/PlainJsonObject"} in schemas["PlainJson"]["anyOf"]
    attributes = json.dumps(schemas["CustomerIn"]["properties"]["attributes"])
    assert "#/components/schemas/PlainJsonObject" in attributes
    assert "#/components/schemas/PlainJsonObject" in json.dumps(schemas["UsageEventIn"]["properties"]["properties"])


def test_a_where_key_pattern_binds_every_key() -> None:
    """`patternProperties` alone leaves other keys free in JSON Schema; the service refuses them."""
    where = _document()["components"]["schemas"]["ComponentIn"]["properties"]["where"]["anyOf"][0]
    assert where["propertyNames"]["pattern"] == next(iter(where["patternProperties"]))
