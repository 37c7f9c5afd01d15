"""Churn probability against the database: labels from snapshots, fitted model in health reads (SPEC §6)."""

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.health import churn
from app.models import ChurnModel, Customer, HealthSnapshot
from tests.builders import make_customer, post_revenue, revenue


def snapshot(session: Session, customer: str, day: date, score: float | None) -> None:
    session.add(HealthSnapshot(customer_id=customer, snapshot_date=day, score=score, band=None, coverage=1.0,
                               model_version=1, components=[]))  # fmt: skip


class TestLabelledSnapshots:
    def test_churn_within_90_days_after_the_snapshot_is_a_positive(self, session: Session) -> None:
        session.add_all([Customer(id="a"), Customer(id="b")])
        session.flush()
        snapshot(session, "a", date(2026, 1, 1), 20.0)
        snapshot(session, "a", date(2025, 6, 1), 60.0)  # churn is 214 days later: negative
        snapshot(session, "b", date(2026, 1, 1), 80.0)
        snapshot(session, "b", date(2026, 1, 2), None)  # unscored: not an example
        snapshot(session, "b", date(2026, 3, 1), 70.0)  # outcome window not over by `today`: not an example
        session.flush()
        churned_on = {"a": [date(2026, 1, 1) + timedelta(days=90)]}
        pairs = churn.labelled_snapshots(session, churned_on, today=date(2026, 4, 1))
        assert sorted(pairs) == [(20.0, True), (60.0, False), (80.0, False)]


class TestChurnDates:
    def test_customer_level_churns_from_the_ledger(self, session: Session) -> None:
        for cid in ("a", "b"):
            make_customer(session, id=cid)
        post_revenue(
            session,
            revenue("a", "2025-01-01", 1000),
            revenue("a", "2025-01-01", 500, product="addon"),
            revenue("a", "2025-03-01", 0),
            revenue("a", "2025-03-01", 0, product="addon"),  # both products on one day: one churn
            revenue("a", "2025-06-01", 700),  # reactivation
            revenue("a", "2025-09-01", 0),  # churns again
            revenue("b", "2025-01-01", 1000),
            revenue("b", "2025-01-01", 500, product="addon"),
            revenue("b", "2025-04-01", 0, product="addon"),  # a product lost, the customer still pays: no churn
        )
        assert churn.churn_dates(session) == {"a": [date(2025, 3, 1), date(2025, 9, 1)]}


class TestFittedProbability:
    def test_health_read_uses_the_latest_fitted_model(self, client: TestClient, session: Session) -> None:
        session.add(ChurnModel(intercept=2.0, coefficient=-0.05, examples=500, churns=40))
        session.commit()
        client.post("/v1/events", json={"events": [{"id": "s", "customer": "c1", "kind": "seats", "value": 1,
                                                    "occurred_at": "2026-03-01T00:00:00Z"}] + [
            {"id": f"l{i}", "customer": "c1", "kind": "login", "occurred_at": "2026-03-02T00:00:00Z"}
            for i in range(10)]})  # fmt: skip
        body = client.get("/v1/customers/c1/health", params={"as_of": "2026-03-10"}).json()
        # 10 logins / 1 seat vs good 20 -> 50; fitted p = 1 / (1 + e^-(2 - 0.05 * 50)) = 1 / (1 + e^0.5)
        assert body["score"] == 50.0
        assert body["churn_probability"] == pytest.approx(1 / (1 + 2.718281828459045**0.5))
