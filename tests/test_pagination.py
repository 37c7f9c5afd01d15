"""List pages (`app/pagination.py`): `{"items", "next_cursor", "meta"}` with the currency (SPEC §2, §11)."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from tests.builders import make_customer, make_experiment, make_webhook


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The app under test reports in euros (written in lower case: settings read it as the ISO code)."""
    return Settings(database_url=database_url, currency="eur")


def _list_routes(app: FastAPI) -> list[str]:
    """Every GET route answering a page, its path parameters filled with their examples."""
    paths = []
    for template, operations in app.openapi()["paths"].items():
        answer = operations.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
        schema = answer.get("application/json", {}).get("schema", {})
        if not schema.get("$ref", "").startswith("#/components/schemas/PageOut_"):
            continue
        path = template
        for parameter in operations["get"].get("parameters", []):
            if parameter["in"] == "path":
                path = path.replace("{" + parameter["name"] + "}", parameter["example"])
        paths.append(path)
    return paths


def test_every_list_page_says_its_currency(app: FastAPI, client: TestClient, session: Session) -> None:
    make_customer(session, id="cus-0001", name="Acme")
    make_experiment(session, id="cus-0001")  # the path example of /v1/experiments/{id}/assignments
    make_webhook(session, id="cus-0001")  # and of /v1/webhooks/{id}/deliveries
    session.commit()
    paths = _list_routes(app)
    assert len(paths) >= 9
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        assert list(body) == ["items", "next_cursor", "meta"], path
        assert body["meta"] == {"currency": "EUR"}, path


def test_targets_say_their_currency(client: TestClient) -> None:
    assert client.get("/v1/targets").json() == {"items": [], "next_cursor": None, "meta": {"currency": "EUR"}}


def test_metric_answers_and_the_scorecard_say_their_currency(app: FastAPI, client: TestClient) -> None:
    metrics = [path for path in app.openapi()["paths"] if path.startswith("/v1/metrics/")]
    assert len(metrics) >= 9
    for path in metrics:
        body = client.get(path, params={"start": "2026-01-01", "end": "2026-01-31"}).json()
        assert body["meta"]["currency"] == "EUR", path
    assert client.get("/v1/scorecards/2026-01").json()["meta"] == {"currency": "EUR"}


def test_csv_pages_are_unchanged(client: TestClient, session: Session) -> None:
    make_customer(session, id="c1")
    session.commit()
    lines = client.get("/v1/customers?format=csv").text.splitlines()
    assert lines[0].startswith("id,name,")
    assert "currency" not in lines[0]
