"""Load the demo book through the same service functions the API uses, stage by stage, one commit each."""

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

from pydantic import BaseModel
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.batch import MAX_BATCH_ITEMS
from app.costs import service as costs_service
from app.costs.schemas import CostBatchItem
from app.customers import service as customers_service
from app.customers.schemas import CustomerBatchItem, TeamMemberBatchItem
from app.db import WRITE_OPTION, utcnow
from app.demo import book as book_plan
from app.demo import experiment, life, plays
from app.errors import NotFound
from app.experiments import result as experiment_result
from app.experiments import service as experiments_service
from app.experiments.schemas import ExperimentIn
from app.health import churn
from app.health import service as health_service
from app.interventions import service as interventions_service
from app.interventions.schemas import InterventionIn, TransitionIn
from app.ledger.ingest import ingest_revenue_events
from app.ledger.schemas import RevenueEventIn
from app.models import Customer
from app.renewals import service as renewals_service
from app.renewals.schemas import RenewalBatchItem
from app.usage import store as usage_store
from app.usage.schemas import UsageEventIn

SNAPSHOT_WEEKS = 26
M = TypeVar("M", bound=BaseModel)


class DatabaseNotEmpty(Exception):
    """The database already has customers; the demo would mix with real data."""


@dataclass
class DemoSummary:
    """What was loaded and how long it took."""

    start: date
    end: date
    usage_end: date
    counts: dict[str, int] = field(default_factory=dict)
    experiment: str = ""
    seconds: float = 0.0


def build_book(*, seed: int, customers: int, today: date) -> book_plan.Book:
    """The whole plan of the book, from one seeded generator (same seed, same book)."""
    rng = random.Random(seed)
    start, end = book_plan.window(today)
    book = book_plan.Book(start=start, end=end, usage_end=today - timedelta(days=1))
    book_plan.build_team(book, rng, customers)
    book_plan.build_customers(book, rng, customers)
    life.build_revenue(book, rng)
    plays.build_costs(book, rng, customers)
    plays.plan_plays(book, rng)
    return book


def _chunks(items: Iterable[dict[str, Any]], size: int = MAX_BATCH_ITEMS) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Loader:
    """Runs each stage in its own write transaction with a progress bar."""

    def __init__(self, maker: sessionmaker[Session], progress: Progress, summary: DemoSummary) -> None:
        self.maker, self.progress, self.summary = maker, progress, summary

    def session(self) -> Session:
        """A session whose transaction takes the write lock at once (BEGIN IMMEDIATE on SQLite)."""
        session = self.maker()
        session.connection(execution_options={WRITE_OPTION: True})
        return session

    def batches(
        self, name: str, rows: Iterable[dict[str, Any]], total: int, schema: type[M],
        write: Callable[[Session, Sequence[M]], Any],
    ) -> None:  # fmt: skip
        """Validate rows with the API's schema and write them in batches of 10,000, one commit for the stage."""
        task = self.progress.add_task(name, total=total)
        with self.session() as session:
            for chunk in _chunks(rows):
                write(session, [schema.model_validate(row) for row in chunk])
                self.progress.advance(task, len(chunk))
                self.summary.counts[name] = self.summary.counts.get(name, 0) + len(chunk)
            session.commit()

    def weeks(self, trial: experiment.Trial, min_churns: int) -> None:
        """Weekly health snapshots for the last six months; on the experiment's days, enroll the customers at risk
        that day; before each snapshot, load the endings of the customers whose turn it reaches. Then refit churn
        probability on the snapshots."""
        days = snapshot_days(trial.book.end)
        task = self.progress.add_task("health snapshots, enrollment", total=len(days))
        with self.session() as session:
            body = ExperimentIn.model_validate(trial.body())
            experiments_service.put_experiment(session, experiment.EXPERIMENT_ID, body)
            session.commit()
        for day in days:
            with self.session() as session:
                self._endings(session, trial, trial.due(day))
                health_service.snapshot_health(session, day=day)
                if trial.starts_on <= day <= trial.ends_on:
                    experiments_service.assign(session, experiment.EXPERIMENT_ID, as_of=day)
                session.commit()
            self.progress.advance(task)
        with self.session() as session:
            self._endings(session, trial, trial.due(None))
            session.commit()
        self.summary.counts["health snapshot days"] = len(days)
        with self.session() as session:
            fitted = churn.refit(session, today=trial.book.end, min_churns=min_churns)
            session.commit()
        self.summary.counts["churn model fitted"] = int(fitted is not None)

    def _endings(self, session: Session, trial: experiment.Trial, plans: list[book_plan.Plan]) -> None:
        """Load these customers' endings, as their arms decide, through the same services."""
        if not plans:
            return
        enrolled = experiment.enrollments(session, [plan.id for plan in plans])
        endings = [trial.settle(plan, enrolled.get(plan.id)) for plan in plans]
        stages: list[tuple[str, list[dict[str, Any]], type[BaseModel], Callable[[Session, Any], Any]]] = [
            ("revenue events", [e for x in endings for e in x.events], RevenueEventIn, ingest_revenue_events),
            ("renewals", [r for x in endings for r in x.renewals], RenewalBatchItem, renewals_service.upsert_renewals),
            ("usage events", [e for x in endings for e in x.usage], UsageEventIn, usage_store.ingest_events),
        ]
        for name, rows, schema, write in stages:
            for chunk in _chunks(rows):
                write(session, [schema.model_validate(row) for row in chunk])
                self.summary.counts[name] = self.summary.counts.get(name, 0) + len(chunk)

    def interventions(self, trial: experiment.Trial) -> None:
        """Create each play as the API would (the save play of a holdout customer is held back during the
        experiment, as the guard would refuse it), complete the finished ones, then measure the outcomes due by
        the last day of usage."""
        book = trial.book
        plans = [(plan, play) for plan in book.plans for play in plan.plays if play.started_on <= book.end]
        task = self.progress.add_task("interventions", total=len(plans))
        with self.session() as session:
            enrolled = experiment.enrollments(session)
            for n, (plan, play) in enumerate(plans, 1):
                who = enrolled.get(plan.id)
                if trial.holds_back(plan, play, who):
                    trial.held_back += 1
                else:
                    self._intervention(session, f"iv-{plan.id}-{n}", plan, trial.run(plan, play, who), book.usage_end)
                self.progress.advance(task)
            self.summary.counts["interventions"] = len(plans) - trial.held_back
            self.summary.counts["outcomes measured"] = interventions_service.measure_due(session, book.usage_end)
            session.commit()

    def _intervention(
        self, session: Session, iv_id: str, plan: book_plan.Plan, play: book_plan.Play, last: date
    ) -> None:
        """The play as an intervention, completed if it finished by `last`."""
        try:
            interventions_service.get_intervention(session, iv_id)
            return  # loaded before (--force): interventions are not upserted, so keep the first one
        except NotFound:
            pass
        body = {"id": iv_id, "customer": plan.id, "type": play.type, "framework": play.framework,
                "owner": play.owner, "reason": play.reason, "status": "in_progress",
                "started_on": play.started_on.isoformat(), "hours": str(play.hours),
                "expected": play.expected, "at_risk": play.at_risk}  # fmt: skip
        interventions_service.create_intervention(session, InterventionIn.model_validate(body))
        finished = play.started_on + timedelta(days=play.days)
        if finished <= last:
            interventions_service.transition(session, iv_id, "complete", TransitionIn(completed_on=finished))

    def experiment(self, trial: experiment.Trial, today: date) -> None:
        """The experiment's line of the summary: enrollment, holdout, and the result's status as of `today`."""
        with self.maker() as session:
            # Every demo owner has an hourly cost, so the default rate never applies; the status needs no currency.
            found = experiment_result.experiment_result(
                session, experiment.EXPERIMENT_ID, as_of=today, seed=0, default_hourly=Decimal(0), currency="USD"
            )
        arms = found.arms
        self.summary.experiment = (
            f"experiment {experiment.EXPERIMENT_ID} ({book_plan.SAVE_PLAY}, {experiment.FRAMEWORK}, "
            f"{trial.starts_on} to {trial.ends_on}): {arms['treatment'].customers + arms['holdout'].customers} "
            f"at-risk customers enrolled, {arms['holdout'].customers} held out; save plays held back: "
            f"{trial.held_back} ({trial.switched} for customers only the play would have saved); result {found.status}"
        )


def snapshot_days(end: date) -> list[date]:
    """The weekly health snapshot days: the last six months, ending on the book's last day."""
    return [end - timedelta(days=7 * n) for n in reversed(range(SNAPSHOT_WEEKS))]


def customer_count(maker: sessionmaker[Session]) -> int:
    """How many customers the database holds."""
    with maker() as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


def load_demo(
    maker: sessionmaker[Session], *, seed: int = 42, customers: int = 500, today: date | None = None,
    force: bool = False, console: Console | None = None, min_churns: int = 30,
) -> DemoSummary:  # fmt: skip
    """Generate the seeded book (the two years before `today`'s month, and that month to yesterday) and load it stage
    by stage."""
    if not force and customer_count(maker):
        raise DatabaseNotEmpty("the database already has customers; load the demo into an empty one (or --force)")
    started = time.perf_counter()
    today = today or utcnow().date()
    book = build_book(seed=seed, customers=customers, today=today)
    # Usage comes from generators seeded apart from the plan's, so the events do not shift when the plan changes.
    trial = experiment.plan_trial(book, seed + 1, snapshot_days(book.end))
    deferred_events, deferred_renewals = trial.deferred()
    revenue = [e for e in book.revenue if e["id"] not in deferred_events]
    renewals = [r for r in book.renewals if r["id"] not in deferred_renewals]
    summary = DemoSummary(start=book.start, end=book.end, usage_end=book.usage_end)
    columns = (*Progress.get_default_columns(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=console is None) as progress:
        loader = Loader(maker, progress, summary)
        loader.batches(
            "team members", book.team, len(book.team), TeamMemberBatchItem, customers_service.upsert_team_members
        )
        loader.batches(
            "customers", book.customers, len(book.customers), CustomerBatchItem, customers_service.upsert_customers
        )
        loader.batches("revenue events", revenue, len(revenue), RevenueEventIn, ingest_revenue_events)
        loader.batches("renewals", renewals, len(renewals), RenewalBatchItem, renewals_service.upsert_renewals)
        loader.batches("costs", book.costs, len(book.costs), CostBatchItem, costs_service.upsert_costs)
        events = list(trial.usage_before_turns())
        loader.batches("usage events", events, len(events), UsageEventIn, usage_store.ingest_events)
        loader.weeks(trial, min_churns)
        loader.interventions(trial)
    loader.experiment(trial, today)
    summary.seconds = time.perf_counter() - started
    return summary
