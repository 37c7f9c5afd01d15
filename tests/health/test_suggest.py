"""`POST /v1/health/backtest/suggest` (SPEC §10): weights from a time-split logistic regression, PUT-able as is."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.health import suggest
from app.health.schemas import HealthModelIn
from app.keys.service import Scope
from app.models import HealthModel
from tests.health.backtest_books import SIGNAL_MODEL, signal_book

URL = "/v1/health/backtest/suggest"


def post_suggest(client: TestClient, days: list, **params: Any) -> Any:
    return client.post(URL, params={"start": days[0].isoformat(), "end": days[-1].isoformat(), **params})


class TestProposal:
    def test_weights_follow_the_signal_and_beat_equal_weights_on_the_test_dates(
        self, client: TestClient, session: Session
    ) -> None:
        version, days = signal_book(session, seed=3, customers=150, churn_share=0.35)
        stored = session.scalar(select(func.count()).select_from(HealthModel))
        response = post_suggest(client, days)
        assert response.status_code == 200, response.text
        body = response.json()
        weights = {w["name"]: w for w in body["weights"]}
        assert body["current_version"] == version
        # The older 70 % of the ten weekly dates fit, the newer 30 % test.
        assert (body["fit"]["dates"], body["test"]["dates"]) == (7, 3)
        assert body["fit"]["last"] < body["test"]["first"]
        assert body["fit"]["churns"] == body["test"]["churns"] >= 30  # every churner is labelled on every date
        assert sum(Decimal(str(w["weight"])) for w in body["weights"]) == 100
        assert weights["usage"]["coefficient"] > 0
        assert weights["usage"]["weight"] > 50
        assert weights["usage"]["why"] is None
        # Tickets scored high before churning: a negative coefficient, weight 0 and why.
        assert weights["tickets"]["coefficient"] < 0
        assert weights["tickets"]["weight"] == 0
        assert "not positive" in weights["tickets"]["why"]
        assert [c["name"] for c in body["model"]["components"]] == [n for n, w in weights.items() if w["weight"] > 0]
        assert body["proposed_auc"] > body["current_auc"]
        assert body["test_pairs"] == body["test"]["pairs"]
        assert session.scalar(select(func.count()).select_from(HealthModel)) == stored  # nothing stored

    def test_the_proposed_body_is_accepted_verbatim_by_put(self, client: TestClient, session: Session) -> None:
        _, days = signal_book(session, seed=4, customers=120, churn_share=0.4)
        proposal = post_suggest(client, days).json()
        put = client.put("/v1/health-model", json=proposal["model"])
        assert put.status_code == 200, put.text
        stored = client.get("/v1/health-model").json()
        assert HealthModelIn.model_validate(
            {"components": stored["components"], "bands": stored["bands"]}
        ) == HealthModelIn.model_validate(proposal["model"])
        bands = proposal["model"]["bands"]
        assert 0 <= bands["red_below"] <= bands["green_from"] <= 100
        assert "red" in proposal["bands_why"]

    def test_a_component_without_data_gets_0_and_why(self, client: TestClient, session: Session) -> None:
        _, days = signal_book(session, seed=5, customers=120, churn_share=0.4)
        extra = {"name": "csat", "weight": 1, "kind": "survey_response", "aggregate": "avg", "window_days": 90,
                 "bad": 1, "good": 5}  # fmt: skip
        newer = {**SIGNAL_MODEL.model_dump(mode="json"), "components": [
            *SIGNAL_MODEL.model_dump(mode="json")["components"], extra],
            "effective_from": "2025-01-01"}  # in force on the book's dates, so suggest starts from it  # fmt: skip
        assert client.put("/v1/health-model", json=newer).status_code == 200
        weights = {w["name"]: w for w in post_suggest(client, days).json()["weights"]}
        assert weights["csat"] == {"name": "csat", "current_weight": 1.0, "coefficient": None, "weight": 0.0,
                                   "why": "no data on the fit dates"}  # fmt: skip


class TestRefusals:
    def test_too_few_churns_is_a_422_saying_so(self, client: TestClient, session: Session) -> None:
        _, days = signal_book(session, seed=6, customers=40, churn_share=0.2)
        response = post_suggest(client, days)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "at least 30 churns" in response.json()["detail"]

    def test_one_date_cannot_be_split(self, client: TestClient, session: Session) -> None:
        _, days = signal_book(session, seed=7, customers=40, churn_share=0.5)
        response = post_suggest(client, days[:1])
        assert response.status_code == 422
        assert "two dates" in response.json()["detail"]

    @pytest.mark.parametrize(
        "params",
        [
            {"start": "2025-03-10", "end": "2025-03-03"},
            {"start": "2025-03-03", "end": "2025-03-10", "horizon_days": "ninety"},
            {"start": "2025-03-03", "end": "2025-03-10", "horizon_days": 0},
            {"start": "2025-03-03", "end": "2025-03-10", "model_version": 9},
            {"start": "2025-03-03", "end": "2025-03-10", "extra": 1},
            {"start": "2025-03-03"},
        ],
    )
    def test_bad_queries_are_422(self, client: TestClient, params: dict[str, Any]) -> None:
        response = client.post(URL, params=params)
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"][0] == "query"

    def test_needs_the_admin_scope(self, anonymous: TestClient, make_key: Callable[..., str]) -> None:
        headers = {"Authorization": f"Bearer {make_key(Scope.read)}"}
        params = {"start": "2025-03-03", "end": "2025-03-10"}
        assert anonymous.post(URL, params=params, headers=headers).status_code == 403


class TestWeights:
    def test_proportional_to_positive_coefficients_in_hundredths_adding_up_to_100(self) -> None:
        weights, why = suggest._weights([2.0, 1.0, -0.5, None], [None, None, None, "no data on the fit dates"])
        # 100 x 2 / 3 = 66.666… and 100 x 1 / 3 = 33.333…: 6,666 and 3,333 hundredths, the one left over to the
        # larger remainder (the first).
        assert weights == [66.67, 33.33, 0.0, 0.0]
        assert why[:2] == [None, None]
        assert why[2] is not None
        assert why[2].startswith("coefficient -0.5 is not positive")
        assert why[3] == "no data on the fit dates"
