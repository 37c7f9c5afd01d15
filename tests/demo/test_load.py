"""The demo book: loads on the session's database, deterministic, every movement, framework and metric."""

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app import cli
from app.config import Settings
from app.customers import service as customers_service
from app.demo import DatabaseNotEmpty, load_demo
from app.demo.load import build_book
from app.metrics.renewals import cost_of_renewals, renewals
from app.metrics.retention import retention
from app.metrics.roi import roi
from app.metrics.schemas import MetricQuery, RetentionQuery, RoiQuery
from app.models import ArrChange, ExperimentAssignment, HealthSnapshot, Intervention
from app.scorecard import service as scorecard_service

TODAY = date(2026, 5, 12)
LAST_MONTH = {"start": date(2026, 4, 1), "end": date(2026, 4, 30)}
CS_TEAMS = ["customer_success", "onboarding", "renewals"]
runner = CliRunner()

# The ROI options the routes take from Settings (CSROI_MIN_CONTROLS, CSROI_CHURN_DEFAULTS), at their defaults.
ROI_OPTIONS = {"min_controls": Settings().min_controls, "churn_defaults": Settings().churn_defaults}


def figures(session: Session) -> list[str]:
    """Last year's monthly retention rows, the last month's renewals, the experiment's assignments and the
    interventions: a fingerprint of the book."""
    query = RetentionQuery(start=date(2025, 5, 1), end=date(2026, 4, 30), interval="month")
    rows = [r.model_dump_json() for r in retention(session, query).rows]
    rows += [r.model_dump_json() for r in renewals(session, MetricQuery(**LAST_MONTH)).rows]
    assigned = select(ExperimentAssignment.customer_id, ExperimentAssignment.arm, ExperimentAssignment.enrolled_on)
    plays = select(Intervention.id, Intervention.type, Intervention.started_on, Intervention.status)
    return [*rows, *(str(sorted(map(tuple, session.execute(stmt)))) for stmt in (assigned, plays))]


class TestToYesterday:
    """The book runs to yesterday: this month's renewals close as they fall due, and renewals spread over the year."""

    def test_every_renewal_due_by_yesterday_is_closed_and_this_month_books_some(self) -> None:
        book = build_book(seed=42, customers=500, today=TODAY)
        yesterday = (TODAY - timedelta(days=1)).isoformat()
        open_due = [r["due_date"] for r in book.renewals if r["status"] == "open"]
        assert min(open_due) > yesterday  # nothing past due is left open
        closed = [r for r in book.renewals if r["status"] != "open"]
        assert max(r["closed_on"] for r in closed) <= yesterday
        # Closed up to three weeks ahead: some renewals due after yesterday are closed already, none due later.
        early = [r for r in closed if r["due_date"] > yesterday]
        assert early
        assert all(date.fromisoformat(r["due_date"]) - timedelta(days=20) <= TODAY for r in early)
        assert sum(r["closed_on"][:7] == "2026-05" for r in closed) >= 5

    def test_renewals_spread_over_the_year(self) -> None:
        book = build_book(seed=42, customers=500, today=TODAY)
        last_year = [r["due_date"][:7] for r in book.renewals if "2025-05" <= r["due_date"][:7] <= "2026-04"]
        by_month = Counter(last_year)
        # Before, a third of the book landed in the window's first weeks and renewed in one month each year
        # (104 of the 500-customer book's renewals in one month); now no month holds more than twice its share.
        assert len(by_month) == 12
        assert max(by_month.values()) <= 2 * len(last_year) / 12, by_month

    def test_this_months_costs_are_accrued_to_yesterday(self) -> None:
        book = build_book(seed=42, customers=500, today=TODAY)
        april = {c["id"][len("demo-2026-04-") :]: int(c["amount"]) for c in book.costs if c["month"] == "2026-04"}
        may = {c["id"][len("demo-2026-05-") :]: int(c["amount"]) for c in book.costs if c["month"] == "2026-05"}
        assert set(may) == set(april)
        # Payroll is the same team both months: May's is 11 of its 31 days.
        salary = "customer_success-salary"
        assert may[salary] == pytest.approx(april[salary] * 11 / 31, abs=1)


class TestLoadDemo:
    def test_book_has_every_movement_framework_and_snapshots(self, session_factory: sessionmaker[Session]) -> None:
        summary = load_demo(session_factory, customers=60, today=TODAY, min_churns=5)
        # The two years before May 2026, and May to yesterday.
        assert (summary.start, summary.end) == (date(2024, 5, 1), date(2026, 5, 11))
        with session_factory() as session:
            movements = set(session.scalars(select(ArrChange.movement_type).distinct()))
            frameworks = set(session.scalars(select(Intervention.framework).distinct()))
            measured = session.scalar(select(func.count()).where(Intervention.outcome.is_not(None)))
            snapshot_days = session.scalar(select(func.count(func.distinct(HealthSnapshot.snapshot_date))))
            last_snapshot = session.scalar(select(func.max(HealthSnapshot.snapshot_date)))
        assert movements == {"new", "reactivation", "upsell", "cross_sell", "downsell", "churn"}
        assert frameworks == {"loss_aversion", "commitment_escalation", "habit_formation", "social_proof"}
        assert measured is not None
        assert measured > 0
        assert snapshot_days == 26
        assert last_snapshot == summary.end == TODAY - timedelta(days=1)
        assert summary.counts["customers"] == 60
        assert 10_000 < summary.counts["usage events"] < 100_000

    def test_last_month_metrics_have_values(self, session_factory: sessionmaker[Session]) -> None:
        load_demo(session_factory, customers=60, today=TODAY)
        with session_factory() as session:
            kept = retention(session, RetentionQuery(**LAST_MONTH)).rows[0]
            renewed = renewals(session, MetricQuery(**LAST_MONTH)).rows[0]
            cost = cost_of_renewals(session, MetricQuery(**LAST_MONTH), cs_teams=CS_TEAMS).rows[0]
            half_year = RoiQuery(start=date(2025, 11, 1), end=date(2026, 4, 30))
            program = roi(session, half_year, cs_teams=CS_TEAMS, default_hourly=Decimal(75), **ROI_OPTIONS).rows[0]
        assert kept.customers_start > 0
        assert kept.nrr is not None
        assert renewed.due_count > 0
        assert cost.cs_cost > 0
        assert cost.moving_avg_12m is not None
        assert program.interventions > 0
        assert program.roi is not None

    def test_every_scorecard_quadrant_has_values(self, session_factory: sessionmaker[Session]) -> None:
        load_demo(session_factory, customers=60, today=TODAY)
        with session_factory() as session:
            card = scorecard_service.get_scorecard(session, "2026-04", settings=Settings())
        quadrants = card.quadrants.model_dump()
        assert set(quadrants) == {"financial", "customer", "process", "people"}
        for quadrant, entries in quadrants.items():
            filled = [e["metric"] for e in entries if e["value"] is not None]
            # A small book leaves a few figures undefined (e.g. CES without CES surveys), never a whole quadrant.
            assert len(filled) >= len(entries) / 2, (quadrant, [e["metric"] for e in entries if e["value"] is None])
        financial = {e["metric"]: e["value"] for e in quadrants["financial"]}
        assert financial["nrr"] is not None
        assert financial["cs_cost"] is not None

    def test_same_seed_loads_the_same_book(
        self, connection: Connection, session_factory: sessionmaker[Session]
    ) -> None:
        loads = []
        for _ in range(2):
            savepoint = connection.begin_nested()
            load_demo(session_factory, seed=7, customers=40, today=TODAY)
            with session_factory() as session:
                loads.append(figures(session))
            savepoint.rollback()
        assert loads[0] == loads[1]
        assert len(loads[0]) == 15

    def test_another_seed_is_another_book(self) -> None:
        first, again = (build_book(seed=1, customers=50, today=TODAY) for _ in range(2))
        other = build_book(seed=2, customers=50, today=TODAY)
        assert first.revenue == again.revenue
        assert first.revenue != other.revenue

    def test_refuses_a_database_with_customers(self, session_factory: sessionmaker[Session]) -> None:
        with session_factory() as session:
            customers_service.ensure_customers(session, ["real-customer"])
            session.commit()
        with pytest.raises(DatabaseNotEmpty):
            load_demo(session_factory, customers=20, today=TODAY)


def test_demo_command_loads_then_refuses_without_force(cli_db: str) -> None:
    first = runner.invoke(cli.cli, ["demo", "--customers", "20", "--seed", "3"])
    assert first.exit_code == 0, first.output
    assert "20 customers" in first.stderr
    second = runner.invoke(cli.cli, ["demo", "--customers", "20"])
    assert second.exit_code == 1
    assert "already has customers" in second.stderr
