"""`/v1/metrics/roi` reads the whole book once per request (SPEC §9 "Speed"), and those reads never outlive a write.

The ledger's arrays, the customers and their health on each day are kept in the session (`app.db.read_cache`) so
the controls, the baseline and the scorecard's two months share them. Here: a write in the same session (a
back-dated revenue event, an erasure, a snapshot) changes the next answer exactly as a fresh read would, and the
number of statements does not grow with the months or the interventions asked for.
"""

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.db import forget_reads, read_cache
from app.health import service as health_service
from tests.builders import make_cost, make_intervention, make_snapshot, post_revenue, revenue
from tests.interventions.test_incremental import april, red_book, save_play
from tests.statements import recorded

TREATED = [f"t{n:02d}" for n in range(40)]
CONTROLS = [f"k{n:03d}" for n in range(100)]


def worked_example(session: Session) -> None:
    """tests/interventions/test_incremental.py's 40 treated against 100 controls: p = 25 / 100, 4 treated churn."""
    red_book(session, TREATED + CONTROLS, churned=set(TREATED[:4]) | set(CONTROLS[:25]))
    for customer in TREATED:
        save_play(session, customer)
    make_cost(session, id="april", month="2026-04", amount=15000)
    session.commit()


def fresh(client: TestClient, session: Session) -> dict[str, Any]:
    """The April row computed with nothing kept from earlier reads."""
    forget_reads(session)
    row: dict[str, Any] = april(client)["rows"][0]
    return row


class TestReadsNeverOutliveAWrite:
    def test_a_back_dated_churn_changes_the_next_answer(self, client: TestClient, session: Session) -> None:
        worked_example(session)
        before = april(client)["rows"][0]
        assert before["incremental_retained_arr"] == 60000  # 40 × 10,000 × 0.25 − 4 × 10,000
        # A control that kept paying churns on 20 May, inside the windows (they end 29 June): 26 of 100 churned.
        post_revenue(session, revenue(CONTROLS[-1], "2026-05-20", 0))
        session.commit()
        after = april(client)["rows"][0]
        # 40 × 10,000 × 0.26 − 4 × 10,000 = 104,000 − 40,000 = 64,000.
        assert after["incremental_retained_arr"] == 64000
        assert after == fresh(client, session)

    def test_an_erased_control_leaves_the_pool(self, client: TestClient, session: Session) -> None:
        worked_example(session)
        assert april(client)["rows"][0]["control_customers"] == 100
        assert client.delete(f"/v1/customers/{CONTROLS[-1]}").status_code == 200
        after = april(client)["rows"][0]
        # 99 controls, 25 churned: p = 25 / 99. Per episode, to the cent: 10,000 × 25/99 = 2,525.25 (36 of them)
        # and 10,000 × (25/99 − 1) = −7,474.75 (4): 36 × 2,525.25 − 4 × 7,474.75 = 90,909 − 29,899 = 61,010.
        assert (after["control_customers"], after["incremental_retained_arr"]) == (99, 61010)
        assert after == fresh(client, session)

    def test_a_stored_snapshot_moves_a_control_out_of_the_stratum(self, client: TestClient, session: Session) -> None:
        worked_example(session)
        assert april(client)["rows"][0]["control_customers"] == 100
        # Green on the start day: no longer red, so no longer a control (the same 99 controls as above).
        make_snapshot(session, customer=CONTROLS[-1], day="2026-04-01", score=90.0, band="green")
        session.commit()
        after = april(client)["rows"][0]
        assert (after["control_customers"], after["incremental_retained_arr"]) == (99, 61010)
        assert after == fresh(client, session)

    def test_a_select_keeps_the_cache_and_a_commit_or_rollback_empties_it(self, session: Session) -> None:
        read_cache(session, "probe")["x"] = 1
        session.scalar(revenue_count())
        assert read_cache(session, "probe") == {"x": 1}
        session.commit()
        assert read_cache(session, "probe") == {}
        read_cache(session, "probe")["x"] = 1
        session.scalar(revenue_count())  # a new transaction, which the rollback ends
        session.rollback()
        assert read_cache(session, "probe") == {}


def revenue_count() -> Any:
    from sqlalchemy import func, select  # noqa: PLC0415

    from app.models import RevenueEvent  # noqa: PLC0415

    return select(func.count()).select_from(RevenueEvent)


class TestStatements:
    def test_the_count_does_not_grow_with_months_or_interventions(self, client: TestClient, session: Session) -> None:
        worked_example(session)
        # Weekly snapshots, as the snapshot job keeps them: every day's health is then one read (a day no snapshot
        # covers is computed point in time, a statement or two per day: app/health/service.py, `_whole_days`).
        for week in range(54):
            health_service.snapshot_health(session, day=date(2025, 12, 29) + timedelta(days=7 * week))
        session.commit()
        year = {"start": "2026-01-01", "end": "2026-12-31", "interval": "month", "group_by": "framework"}

        def statements(**params: str) -> int:
            forget_reads(session)  # every call reads the book afresh
            with recorded(session) as seen:
                assert client.get("/v1/metrics/roi", params=params).status_code == 200
            return len(seen)

        statements(**year)  # the key's first request also records its use: one more statement, once
        one_month = statements(**{**year, "start": "2026-04-01", "end": "2026-04-30"})
        twelve = statements(**year)
        # More interventions in other months, some measured, of other customers and frameworks.
        for n, customer in enumerate(CONTROLS[40:70]):
            day = date(2026, 1, 5) + timedelta(days=9 * n)
            make_intervention(session, id=f"more-{n}", customer=customer, started_on=day.isoformat(),
                              type="onboarding_call", framework="social_proof", at_risk=n % 2 == 0)  # fmt: skip
        session.commit()
        more = statements(**year)
        assert one_month == twelve == more, (one_month, twelve, more)
