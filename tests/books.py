"""Named books and HTTP helpers shared by several test files (each written through `tests.builders`)."""

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from tests.builders import post_revenue, revenue

# Health model components used by the intervention tests: escalations in 30 days, 4 or more scoring 0.
ESCALATIONS = {"name": "escalations", "weight": 1, "kind": "ticket_escalated", "aggregate": "count", "window_days": 30,
               "bad": 4, "good": 0}  # fmt: skip


def logins_component(weight: int) -> dict[str, Any]:
    """Logins in 30 days, 10 or more scoring 100."""
    return {"name": "logins", "weight": weight, "kind": "login", "aggregate": "count", "window_days": 30, "bad": 0,
            "good": 10}  # fmt: skip


def spec_attribution_ledger(session: Session) -> None:
    """SPEC §5's worked example: ra, rb 20,000, rc 10,000, rd 30,000 from 1 April 2026; rd 40,000 from 1 May."""
    post_revenue(
        session,
        revenue("ra", "2026-04-01", 20000),
        revenue("rb", "2026-04-01", 20000),
        revenue("rc", "2026-04-01", 10000),
        revenue("rd", "2026-04-01", 30000),
        revenue("rd", "2026-05-01", 40000),
    )


def get_metric(client: TestClient, name: str, **params: str) -> dict[str, Any]:
    """`GET /v1/metrics/{name}`, asserted 200, as JSON."""
    response = client.get(f"/v1/metrics/{name}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def error_locs(response: Response) -> list[list[Any]]:
    """The `loc` of every error of a 422 problem response."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["loc"] for e in response.json()["errors"]]
