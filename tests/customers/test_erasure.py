"""Erasure (SPEC §11): DELETE /v1/customers/{id} removes the customer and every row about it, in one transaction."""

import hashlib
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.keys.service import Scope
from app.models import Cost
from tests.builders import (
    assign,
    make_cost,
    make_customer,
    make_experiment,
    make_intervention,
    make_renewal,
    make_snapshot,
    post_revenue,
    post_usage,
    revenue,
    usage_event,
)


def book(session: Session) -> None:
    """`gone` has a bit of everything; `kept` shares a month with it, so the metrics show what changes."""
    make_customer(session, id="gone", name="Gone Ltd")
    make_customer(session, id="kept", name="Kept Inc")
    post_revenue(
        session,
        revenue("gone", "2026-01-01", 6000),
        revenue("gone", "2026-03-01", 9000),
        revenue("kept", "2026-01-01", 4000),
    )
    post_usage(session, usage_event("gone", "login", "2026-02-10T09:00:00Z", id="u1"))
    make_renewal(session, customer="gone", due_date="2026-12-31", id="ren-gone")
    make_intervention(session, id="iv-gone", customer="gone", started_on="2026-02-01", at_risk=True)
    make_snapshot(session, customer="gone", day="2026-02-01", score=30.0, band="red")
    make_cost(session, id="k-cust", month="2026-02", amount=1200, customer="gone")
    make_cost(session, id="k-iv", month="2026-02", amount=300, intervention="iv-gone")
    make_experiment(session, id="xp", starts_on="2026-01-01", eligibility={"at_risk": True})
    assign(session, experiment="xp", as_of="2026-02-02")
    session.commit()


class TestErasure:
    def test_everything_about_the_customer_goes_and_costs_keep_their_amount(
        self, client: TestClient, session: Session
    ) -> None:
        book(session)
        response = client.delete("/v1/customers/gone")
        assert response.status_code == 200, response.text
        assert response.json() == {
            "customer": "gone",
            "revenue_events": 2,
            "ledger_changes": 2,  # new in January, upsell in March
            "ledger_months": 2,
            "usage_events": 1,
            "usage_days": 1,  # the one event's day in the rollup (facet '')
            "renewals": 1,
            "interventions": 1,
            "health_snapshots": 1,
            "experiment_assignments": 1,  # red on 1 February (its snapshot), paying: enrolled on 2 February
            "costs_unlinked": 2,
        }
        assert client.get("/v1/customers/gone").status_code == 404
        assert client.get("/v1/movements?customer=gone").json()["items"] == []
        assert client.get("/v1/interventions/iv-gone").status_code == 404
        # The money spent still counts: 1,200 + 300, now linked to nobody.
        session.expire_all()
        assert session.scalar(select(func.sum(Cost.amount)).where(Cost.id.in_(["k-cust", "k-iv"]))) == 1500
        assert session.scalars(select(Cost.customer_id).where(Cost.id == "k-cust")).one() is None

    def test_metrics_read_as_if_it_never_existed(self, client: TestClient, session: Session) -> None:
        book(session)
        client.delete("/v1/customers/gone")
        params = {"start": "2026-02-01", "end": "2026-03-31"}
        [row] = client.get("/v1/metrics/retention", params=params).json()["rows"]
        # Before: a cohort of 6,000 + 4,000 with gone's 3,000 upsell in March, NRR 1.3. After: kept alone,
        # 4,000 → 4,000, NRR 1.0, as if gone had never been a customer.
        assert (row["customers_start"], row["starting_arr"], row["upsell"], row["nrr"]) == (1, 4000, 0, 1.0)

    def test_the_audit_log_keeps_only_a_digest(self, client: TestClient, session: Session) -> None:
        book(session)
        client.delete("/v1/customers/gone")
        [entry] = client.get("/v1/audit?action=customer.erase").json()["items"]
        assert entry["object"] == "customer/sha256:" + hashlib.sha256(b"gone").hexdigest()
        assert "gone" not in str(entry["after"])

    def test_unknown_is_404_and_only_admin_may(
        self, anonymous: TestClient, client: TestClient, make_key: Callable[..., str], session: Session
    ) -> None:
        assert client.delete("/v1/customers/nobody").status_code == 404
        make_customer(session, id="safe")
        session.commit()
        writer = make_key(Scope.write)
        assert anonymous.delete("/v1/customers/safe", headers={"Authorization": f"Bearer {writer}"}).status_code == 403
        assert client.get("/v1/customers/safe").status_code == 200
