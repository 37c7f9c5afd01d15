"""The ingest fast path agrees with the `UsageEventBatchIn` model on every body: same rows or same errors."""

import hashlib
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.errors import InvalidInput
from app.usage import service
from app.usage.schemas import UsageEventBatchIn


def event(eid: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"id": eid, "customer": "c1", "kind": "login", "occurred_at": "2026-02-01T09:00:00Z", **extra}


def answer(survey: str, value: Any) -> dict[str, Any]:
    return event(kind="survey_response", value=value, properties={"survey": survey})


def by_model(body: Any) -> list[service.EventRow] | list[dict[str, Any]]:
    """What the model says: rows, or its errors with FastAPI's `body` prefix."""
    try:
        return [service.to_row(item) for item in UsageEventBatchIn.model_validate(body).events]
    except ValidationError as exc:
        return [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]


def by_fast_path(body: Any) -> list[service.EventRow] | list[dict[str, Any]]:
    try:
        return service.parse_events(body)
    except InvalidInput as exc:
        return list(exc.errors())


# Equal in Python, not in JSON: the fast path's properties cache must keep them apart (each one twice: a hit).
_LOOKALIKES = [
    {"a": 1}, {"a": True}, {"a": 1.0}, {"a": 0.0}, {"a": -0.0}, {"a": "1"}, {"a": None}, {"a": 0}, {"a": False},
    {"b": 1, "a": "x"}, {"a": "x", "b": 1}, {"a": [1]}, {"a": {"b": True}}, {"a": {"b": 1}},
]  # fmt: skip

BODIES: list[Any] = [
    {"events": [event()]},
    {"events": [event("u1"), event("u2", customer="c2", kind="feature_used", properties={"b": 1, "a": [1, "x"]})]},
    {"events": [event(" u1 ", customer=" c1", kind="login ")]},  # whitespace is stripped, as by the model
    {"events": [event(occurred_at="2026-02-01T09:30:00+02:00")]},
    {"events": [event(value=v) for v in (0, -5, 12, 8_999_999_999_999, 0.1, 2.5, "12.345678", " 7 ", "-0.5")]},
    {"events": [event(value=v) for v in (9_000_000_000_000, -9e12, "1e3", 1e-7, "1.0000001", True, None, [1], "x")]},
    {"events": [event(properties=p) for p in ({}, {"k": None}, {"é": "ü"}, {"n": float("nan")}, {"a": "x\u0000y"})]},
    {"events": [event(f"p{i}", properties=p) for i, p in enumerate(2 * _LOOKALIKES)]},
    {"events": [event(properties="text"), event(colour="red"), {"id": "u3"}, event(occurred_at="2026-02-01T09:00:00")]},
    {"events": [event(id="bad id"), event(kind=""), event(customer="a/b"), event(id="x" * 256)]},
    {"events": [event(occurred_at="0001-01-01T00:30:00+01:00")]},  # out of range once in UTC
    # survey answers: in scale (the fast path), and out of scale (the model names each item's value)
    {"events": [answer(s, v) for s, v in (("nps", 10), ("ces", 1))]},
    {"events": [answer(s, v) for s, v in (("nps", 11), ("csat", 0))]},
    {"events": []},
    {"events": [event()], "extra": 1},
    {"events": "nope"},
    {},
    [event()],
    "text",
    b"bytes",
    {"events": [event(f"u{i}") for i in range(10_001)]},
]


@pytest.mark.parametrize("body", BODIES)
def test_fast_path_gives_the_models_rows_or_errors(body: Any) -> None:
    expected = by_model(body)
    got = by_fast_path(body)
    if expected and isinstance(expected[0], dict):
        # the same errors, in the same order; inputs compared as text (NaN is never equal to itself)
        assert [(e["loc"], e["msg"], e["type"]) for e in got] == [  # type: ignore[index]
            (e["loc"], e["msg"], e["type"])
            for e in expected  # type: ignore[index]
        ]
    else:
        assert got == expected


def test_rows_keep_the_stored_digest_form() -> None:
    """Digests of stored events must not change: a re-post would otherwise look like a conflict."""
    (row,) = service.parse_events({"events": [event(value="2.5", properties={"b": 1, "a": "é"})]})
    content = "\x1f".join(("c1", "login", "2026-02-01T09:00:00+00:00", "2500000", '{"a":"é","b":1}'))
    assert row.content_hash == hashlib.blake2b(content.encode(), digest_size=16).hexdigest()
    assert (row.properties, row.value) == ('{"a":"é","b":1}', 2_500_000)


def test_valid_bodies_never_build_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speed comes from the fast path: a valid batch must not fall back to the model."""

    class NoModel:
        @staticmethod
        def model_validate(body: Any) -> None:
            raise AssertionError("fell back to the model")

    monkeypatch.setattr(service, "UsageEventBatchIn", NoModel)
    for body in BODIES[:5]:
        assert len(service.parse_events(body)) == len(body["events"])


def test_invalid_json_is_422(client: TestClient) -> None:
    response = client.post("/v1/events", content=b'{"events": [', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


def test_nan_in_properties_over_http_is_422_at_the_item(client: TestClient) -> None:
    body = json.dumps({"events": [event("u1"), event("u2", properties={"x": float("nan")})]})
    response = client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "events", 1, "properties"]]


def test_missing_body_is_422(client: TestClient) -> None:
    response = client.post("/v1/events")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body"]


@pytest.mark.parametrize(
    "properties",
    [
        {"feature": "export"},
        {"b": 1, "a": "x"},
        {"a": "x", "b": 1},  # the same shape in another key order: the same text
        {"n": 1},
        {"n": True},  # equal to 1 in Python, not in JSON
        {"n": 1.0},  # floats are never cached (0.0 == -0.0)
        {"n": -0.0},
        {"n": None},
        {"nested": {"a": 1}},  # not flat: never cached
    ],
)
def test_properties_text_is_canonical_json_whatever_came_before(properties: dict[str, Any]) -> None:
    # Twice: the second answer may come from the cache, and must be the same text.
    for _ in range(2):
        assert service._properties_text(properties) == service.canonical_json(properties)


def test_properties_text_keeps_1_and_true_apart() -> None:
    assert service._properties_text({"n": 1}) == '{"n":1}'
    assert service._properties_text({"n": True}) == '{"n":true}'
    assert service._properties_text({"n": 1}) == '{"n":1}'
