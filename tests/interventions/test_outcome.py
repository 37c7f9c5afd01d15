"""Outcomes of a whole page of interventions at once: the same numbers as one at a time, in a fixed number of
statements however many interventions the page holds (SPEC §5, §9 speed)."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.interventions import outcome
from app.models import Intervention
from tests.books import logins_component
from tests.builders import (
    make_health_model,
    make_intervention,
    make_renewal,
    make_snapshot,
    post_revenue,
    post_usage,
    revenue,
    usage_event,
)
from tests.statements import recorded

AS_OF = date(2026, 6, 1)
CUSTOMERS = [f"c{n}" for n in range(10)]
METRICS = [
    {"metric": "arr", "change": 0, "unit": "absolute", "measure_after_days": 30},
    {"metric": "renewal", "change": 1, "unit": "absolute", "measure_after_days": 60},
    {"metric": "login", "change": 20, "unit": "percent", "measure_after_days": 30},
    {"metric": "health_score", "change": 10, "unit": "points", "measure_after_days": 30},
    {"metric": "seats", "change": 1, "unit": "absolute", "measure_after_days": 30},
]


def book(session: Session, count: int) -> list[Intervention]:
    """Ten paying customers with logins, seats and renewals, and `count` interventions over every metric kind."""
    make_health_model(session, components=[logins_component(weight=1)])
    for n, customer in enumerate(CUSTOMERS):
        post_revenue(session, revenue(customer, "2025-06-01", 1000 + 100 * n, id=f"r-{customer}"))
        if n % 2:
            post_revenue(session, revenue(customer, "2026-02-20", 2000 + 100 * n, id=f"r2-{customer}"))
        renewed = n % 3
        logins = [
            usage_event(customer, "login", f"{date(2026, 1, 5) + timedelta(days=3 * k)}", id=f"{customer}-l{k}")
            for k in range(n + renewed * 5)
        ]
        seats = [usage_event(customer, "seats", f"2026-02-{10 + n:02d}", value=n, id=f"{customer}-s")]
        post_usage(session, *logins, *seats)
        if renewed:
            make_renewal(
                session,
                customer=customer,
                due_date="2026-03-15",
                status="renewed",
                booked_arr=1000,
                closed_on=f"2026-03-{n + 1:02d}",
            )
    rows = [
        make_intervention(
            session,
            id=f"iv{n:02d}",
            customer=CUSTOMERS[n % len(CUSTOMERS)],
            started_on=("2026-02-01", "2026-02-15")[n % 2],
            expected=METRICS[n % len(METRICS)],
        )
        for n in range(count)
    ]
    session.commit()
    return rows


def one_at_a_time(session: Session, row: Intervention) -> dict[str, Any]:
    """The outcome as SPEC §5 defines it, from `metric_value` twice: before on the start, after on measured_on."""
    start, expected = row.started_on, row.expected
    assert start is not None
    measured_on = start + timedelta(days=int(expected["measure_after_days"]))
    metric, aggregate = expected["metric"], expected.get("aggregate")
    before = outcome.metric_value(session, row.customer_id, metric, start, since=start, aggregate=aggregate)
    after = outcome.metric_value(session, row.customer_id, metric, measured_on, since=start, aggregate=aggregate)
    change = outcome.change_of(before, after, expected["unit"])

    def number(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return {
        "measured_on": measured_on.isoformat(),
        "before": number(before),
        "after": number(after),
        "change": number(change),
        "met": outcome.target_met(change, Decimal(str(expected["change"]))),
    }


class TestMeasureMany:
    """`measure_many`: a page of interventions measured together, grouped by metric type."""

    def test_same_outcomes_as_one_at_a_time(self, session: Session) -> None:
        rows = book(session, 20)
        got = outcome.measure_many(session, rows, AS_OF)
        assert got == {row.id: one_at_a_time(session, row) for row in rows}
        # The book exercises every kind of value: ARR that grew, renewals closed and not, sums of logins, the latest
        # seats (none yet on 1 February: not measurable).
        assert {o["met"] for o in got.values()} == {True, False, None}
        renewals = [got[r.id]["after"] for r in rows if r.expected["metric"] == "renewal"]
        assert set(renewals) == {0.0, 1.0}

    def test_not_due_cancelled_and_unstarted_are_left_out(self, session: Session) -> None:
        rows = book(session, 5)
        assert outcome.measure_many(session, rows, date(2026, 3, 1)) == {}
        due = outcome.measure_many(session, rows, date(2026, 3, 4))  # 2026-02-01 + 30 days = 3 March
        assert sorted(due) == ["iv00", "iv02", "iv04"]

    def test_statement_count_does_not_grow_with_the_page(self, session: Session) -> None:
        rows = book(session, 50)
        session.expire_all()
        rows = list(session.query(Intervention).order_by(Intervention.id))
        with recorded(session) as five:
            outcome.measure_many(session, rows[:5], AS_OF)
        with recorded(session) as fifty:
            outcome.measure_many(session, rows, AS_OF)
        # arr, renewal, usage windows: one statement each; health scores: one for snapshots, then the model and
        # the point-in-time scores of each distinct day without a snapshot (the two start and two measure days).
        assert len(five) == len(fifty)

    def test_a_stored_snapshot_is_the_days_health_score(self, session: Session) -> None:
        rows = [r for r in book(session, 5) if r.expected["metric"] == "health_score"]
        [row] = rows
        computed = outcome.measure_many(session, rows, AS_OF)[row.id]
        make_snapshot(session, customer=row.customer_id, day="2026-03-17", score=computed["after"] + 7)
        got = outcome.measure_many(session, rows, AS_OF)[row.id]
        assert (got["before"], got["after"]) == (computed["before"], computed["after"] + 7)
