"""Settings reach the code through `create_app(settings)`, not through the environment."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    """An app whose batches hold at most two items (the environment says nothing about it)."""
    return Settings(database_url=database_url, max_batch_items=2)


def _event(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "customer": "c1", "kind": "login", "occurred_at": "2026-01-05T10:00:00Z"}


def test_usage_events_count_against_the_apps_batch_limit(client: TestClient) -> None:
    response = client.post("/v1/events", json={"events": [_event(f"u{i}") for i in range(3)]})
    assert response.status_code == 413
    assert "at most 2 items" in response.json()["detail"]
    assert client.post("/v1/events", json={"events": [_event("u1"), _event("u2")]}).status_code == 200


def test_record_batches_count_against_the_apps_batch_limit(client: TestClient) -> None:
    customers = [{"id": f"c{i}"} for i in range(3)]
    response = client.post("/v1/customers/batch", json={"customers": customers})
    assert response.status_code == 413
    assert "at most 2 items" in response.json()["detail"]
