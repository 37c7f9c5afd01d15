"""Churn probability (SPEC §6, §10): the logistic fit, labels from snapshots, the fitted model in health reads."""

from datetime import date, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.formulas import churn_probability as probability
from app.formulas import logistic
from app.health import churn
from app.health.churn import fit_churn
from tests.builders import make_churn_model, make_customers, make_snapshot, post_revenue, revenue


class TestFitAndProbability:
    """Pure churn arithmetic: the band defaults until a model is fitted, and the logistic fit itself."""

    def test_defaults_by_band_until_fitted(self) -> None:
        defaults = {"red": 0.3, "yellow": 0.1, "green": 0.03}
        assert probability(20, "red", fit=None, defaults=defaults) == 0.3
        assert probability(None, None, fit=None, defaults=defaults) is None

    def test_too_few_churns_is_no_fit(self) -> None:
        scores, churned = np.array([10.0] * 29 + [80.0] * 100), np.array([True] * 29 + [False] * 100)
        assert fit_churn(scores, churned, churns=29, min_churns=30) is None

    def test_churns_are_movements_not_positive_examples(self) -> None:
        # 100 positive examples from 5 customers scored daily before they left: 5 churns, below the bar of 30.
        scores, churned = np.array([10.0] * 100 + [80.0] * 100), np.array([True] * 100 + [False] * 100)
        assert fit_churn(scores, churned, churns=5, min_churns=30) is None
        fit = fit_churn(scores, churned, churns=5, min_churns=5)
        assert fit is not None
        assert (fit.examples, fit.churns) == (200, 5)

    def test_fit_learns_that_low_scores_churn(self) -> None:
        # Synthetic history: churn is common below 40 and rare above 70.
        pairs = [(float(s), s % 3 != 0) for s in range(0, 40)] + [(float(s), s % 10 == 0) for s in range(40, 100)]
        scores, churned = np.array([s for s, _ in pairs]), np.array([c for _, c in pairs])
        fit = fit_churn(scores, churned, churns=int(churned.sum()), min_churns=30)
        assert fit is not None
        assert fit.churns == sum(1 for _, c in pairs if c)
        assert fit.coefficient < 0
        assert logistic(10, fit) > 0.5 > logistic(90, fit)


class TestLabelledSnapshots:
    def test_churn_within_90_days_after_the_snapshot_is_a_positive(self, session: Session) -> None:
        make_customers(session, ["a", "b", "c"])
        post_revenue(
            session,
            revenue("a", "2025-01-01", 1000),
            revenue("a", "2026-04-01", 0),  # 2026-01-01 + 90 days: the last day of its horizon
            revenue("b", "2025-01-01", 1000),
        )
        make_snapshot(session, customer="a", day="2026-01-01", score=20.0)
        make_snapshot(session, customer="a", day="2025-06-01", score=60.0)  # churn is 304 days later: negative
        make_snapshot(session, customer="b", day="2026-01-01", score=80.0)
        make_snapshot(session, customer="b", day="2026-01-02", score=None)  # unscored: not an example
        make_snapshot(session, customer="b", day="2026-03-01", score=70.0)  # outcome not over by `today`: no example
        make_snapshot(session, customer="c", day="2026-01-01", score=30.0)  # never paid: not an example
        examples = churn.labelled_snapshots(session, today=date(2026, 4, 1))
        assert sorted(zip(examples.scores.tolist(), examples.churned.tolist(), strict=True)) == [
            (20.0, True),
            (60.0, False),
            (80.0, False),
        ]
        assert examples.churns == 1

    def test_sixty_snapshots_before_one_churn_are_one_churn(self, session: Session) -> None:
        make_customers(session, ["gone", "stays"])
        post_revenue(
            session,
            revenue("gone", "2025-01-01", 1000),
            revenue("gone", "2025-04-01", 0),
            revenue("stays", "2025-01-01", 1000),
        )
        for n in range(60):  # daily from 2025-01-20 to 2025-03-20: each within 90 days before the churn
            day = date(2025, 1, 20) + timedelta(days=n)
            make_snapshot(session, customer="gone", day=day, score=20.0, band="red")
            make_snapshot(session, customer="stays", day=day, score=80.0, band="green")
        examples = churn.labelled_snapshots(session, today=date(2026, 1, 1))
        assert (len(examples.scores), int(examples.churned.sum()), examples.churns) == (120, 60, 1)
        assert churn.refit(session, today=date(2026, 1, 1), min_churns=2) is None  # 60 positives, one churn
        fitted = churn.refit(session, today=date(2026, 1, 1), min_churns=1)
        assert fitted is not None
        assert (fitted.examples, fitted.churns) == (120, 1)

    def test_a_customer_churning_twice_is_two_churns(self, session: Session) -> None:
        make_customers(session, ["a"])
        post_revenue(
            session,
            revenue("a", "2025-01-01", 1000),
            revenue("a", "2025-02-01", 0),
            revenue("a", "2025-02-10", 500),  # back
            revenue("a", "2025-03-01", 0),  # and gone again
        )
        make_snapshot(session, customer="a", day="2025-01-15", score=30.0)  # both churns within its 90 days
        examples = churn.labelled_snapshots(session, today=date(2026, 1, 1))
        assert (examples.churned.tolist(), examples.churns) == ([True], 2)


class TestChurnDates:
    def test_customer_level_churns_from_the_ledger(self, session: Session) -> None:
        make_customers(session, ["a", "b"])
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
        make_churn_model(session, intercept=2.0, coefficient=-0.05)
        session.commit()
        client.post("/v1/events", json={"events": [{"id": "s", "customer": "c1", "kind": "seats", "value": 1,
                                                    "occurred_at": "2026-03-01T00:00:00Z"}] + [
            {"id": f"l{i}", "customer": "c1", "kind": "login", "occurred_at": "2026-03-02T00:00:00Z"}
            for i in range(10)]})  # fmt: skip
        body = client.get("/v1/customers/c1/health", params={"as_of": "2026-03-10"}).json()
        # 10 logins / 1 seat vs good 20 -> 50; fitted p = 1 / (1 + e^-(2 - 0.05 * 50)) = 1 / (1 + e^0.5)
        assert body["score"] == 50.0
        assert body["churn_probability"] == pytest.approx(1 / (1 + 2.718281828459045**0.5))
