"""Every number the API answers is rounded as docs/conventions.md promises: money to cents, health scores and their
changes to two decimals, every other ratio or number to six. Walks the main read answers on a demo book."""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.demo import load_demo

TODAY = date(2026, 5, 12)
MONTH = "2026-04"
RANGE = {"start": "2025-11-01", "end": "2026-04-30"}

# Names of the fields that are health points (scores, contributions and their changes): two decimals.
SCORES = {
    "score",
    "contribution",
    "change_30d",
    "avg_score",
    "avg_health_delta",
    "baseline_health_delta",
    "health_lift",
    "avg_health_lift",
    "health_score",
}
# Money: two decimals (app/money.py); a field is money when its name says so.
MONEY_WORDS = ("arr", "cost", "revenue", "amount", "mrr", "arpa", "cac", "cec", "crc", "clv", "bookings", "total")
RATIO_PLACES = 6


# Words that make a field a ratio whatever else its name says (arr_growth, cost_per_1k, churned_arr_rate).
RATIO_WORDS = ("rate", "per", "growth", "roi", "share", "ratio")


def promised(path: str, key: str) -> int:
    """The decimals a field may carry, by its name (a recommendation's ranking score is a fraction, not points)."""
    words = key.split("_")
    if key in SCORES and not (key == "score" and ".recommendations[" in path):
        return 2
    if any(word in words for word in MONEY_WORDS) and not any(word in words for word in RATIO_WORDS):
        return 2
    return RATIO_PLACES


def places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def too_precise(value: Any, path: str = "", key: str = "") -> Iterator[str]:
    """Every number in a JSON answer (read with exact decimals) with more decimals than its field promises."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from too_precise(item, f"{path}.{name}", name)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from too_precise(item, f"{path}[{n}]", key)
    elif isinstance(value, Decimal) and places(value) > promised(path, key):
        yield f"{path} = {value} (more than {promised(path, key)} decimals)"


@pytest.fixture
def booked_client(session_factory: sessionmaker[Session], client: TestClient) -> Iterator[TestClient]:
    with time_machine.travel(datetime(2026, 5, 12, 12, 0, tzinfo=UTC), tick=False):
        load_demo(session_factory, customers=60, today=TODAY)
        yield client


def read(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, (path, response.text)
    return json.loads(response.text, parse_float=Decimal)


def test_every_number_of_the_main_reads_is_rounded_as_promised(booked_client: TestClient) -> None:
    client = booked_client
    worklist = read(client, "/v1/customers", limit=1000, sort="-revenue_at_risk")
    scored = next(c["id"] for c in worklist["items"] if c["health"] and c["health"]["score"] is not None)
    interventions = read(client, "/v1/interventions", limit=1000)
    answers = {
        "customers": worklist,
        "customer": read(client, f"/v1/customers/{scored}"),
        "health": read(client, f"/v1/customers/{scored}/health", as_of=str(TODAY)),
        "history": read(client, f"/v1/customers/{scored}/health/history"),
        "arr": read(client, f"/v1/customers/{scored}/arr"),
        "recommendation": read(client, f"/v1/customers/{scored}/recommendation"),
        "health model": read(client, "/v1/health-model"),
        "interventions": interventions,
        "intervention": read(client, f"/v1/interventions/{interventions['items'][0]['id']}"),
        "experiment": read(client, "/v1/experiments/exp_save_play"),
        "experiment result": read(client, "/v1/experiments/exp_save_play/result"),
        "scorecard": read(client, f"/v1/scorecards/{MONTH}"),
        "movements": read(client, "/v1/movements", limit=1000),
        "renewals": read(client, "/v1/renewals", limit=1000),
        "costs": read(client, "/v1/costs", limit=1000),
        "team": read(client, "/v1/team-members"),
    }
    for metric in ("retention", "renewals", "cost-of-renewals", "unit-economics", "health", "voc", "support"):
        answers[metric] = read(client, f"/v1/metrics/{metric}", interval="month", **RANGE)
    answers["roi"] = read(client, "/v1/metrics/roi", group_by="framework", **RANGE)
    answers["roi by month"] = read(client, "/v1/metrics/roi", interval="month", **RANGE)
    answers["staffing"] = read(client, "/v1/metrics/staffing", **RANGE)
    found = [problem for name, answer in answers.items() for problem in too_precise(answer, name)]
    assert found == []
    # The walk saw real figures: scores with data, ratios and money.
    assert any(c["health"] and c["health"]["score"] for c in worklist["items"])
    assert any(c["churn_probability"] for c in worklist["items"])
