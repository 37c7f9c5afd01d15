"""Load the demo book through the same service functions the API uses, stage by stage, one commit each."""

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
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
from app.demo import life, plays, usage
from app.errors import NotFound
from app.health import churn
from app.health import service as health_service
from app.interventions import service as interventions_service
from app.interventions.schemas import InterventionIn, TransitionIn
from app.ledger.ingest import ingest_revenue_events
from app.ledger.schemas import RevenueEventIn
from app.models import Customer
from app.renewals import service as renewals_service
from app.renewals.schemas import RenewalBatchItem
from app.usage import service as usage_service
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
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def build_book(*, seed: int, customers: int, today: date) -> book_plan.Book:
    """The whole plan of the book, from one seeded generator (same seed, same book)."""
    rng = random.Random(seed)
    start, end = book_plan.window(today)
    book = book_plan.Book(start=start, end=end)
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

    def interventions(self, book: book_plan.Book) -> None:
        """Create each play as the API would, complete the finished ones, then measure due outcomes."""
        plans = [(plan, play) for plan in book.plans for play in plan.plays if play.started_on <= book.end]
        task = self.progress.add_task("interventions", total=len(plans))
        with self.session() as session:
            for n, (plan, play) in enumerate(plans, 1):
                self._intervention(session, f"iv-{plan.id}-{n}", plan, play, book.end)
                self.progress.advance(task)
            self.summary.counts["interventions"] = len(plans)
            self.summary.counts["outcomes measured"] = interventions_service.measure_due(session, book.end)
            session.commit()

    def _intervention(
        self, session: Session, iv_id: str, plan: book_plan.Plan, play: book_plan.Play, end: date
    ) -> None:
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
        if finished <= end:
            interventions_service.transition(session, iv_id, "complete", TransitionIn(completed_on=finished))

    def snapshots(self, end: date, min_churns: int) -> None:
        """Weekly health snapshots for the last six months, then refit churn probability on them."""
        days = [end - timedelta(days=7 * n) for n in reversed(range(SNAPSHOT_WEEKS))]
        task = self.progress.add_task("health snapshots", total=len(days))
        for day in days:
            with self.session() as session:
                health_service.snapshot_health(session, day=day)
                session.commit()
            self.progress.advance(task)
        self.summary.counts["health snapshot days"] = len(days)
        with self.session() as session:
            fitted = churn.refit(session, today=end, min_churns=min_churns)
            session.commit()
        self.summary.counts["churn model fitted"] = int(fitted is not None)


def customer_count(maker: sessionmaker[Session]) -> int:
    """How many customers the database holds."""
    with maker() as session:
        return session.scalar(select(func.count()).select_from(Customer)) or 0


def load_demo(
    maker: sessionmaker[Session], *, seed: int = 42, customers: int = 500, today: date | None = None,
    force: bool = False, console: Console | None = None, min_churns: int = 30,
) -> DemoSummary:  # fmt: skip
    """Generate the seeded book dated to the two years before `today`'s month and load it stage by stage."""
    if not force and customer_count(maker):
        raise DatabaseNotEmpty("the database already has customers; load the demo into an empty one (or --force)")
    started = time.perf_counter()
    book = build_book(seed=seed, customers=customers, today=today or utcnow().date())
    summary = DemoSummary(start=book.start, end=book.end)
    columns = (*Progress.get_default_columns(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=console is None) as progress:
        loader = Loader(maker, progress, summary)
        loader.batches(
            "team members", book.team, len(book.team), TeamMemberBatchItem, customers_service.upsert_team_members
        )
        loader.batches(
            "customers", book.customers, len(book.customers), CustomerBatchItem, customers_service.upsert_customers
        )
        loader.batches("revenue events", book.revenue, len(book.revenue), RevenueEventIn, ingest_revenue_events)
        loader.batches(
            "renewals", book.renewals, len(book.renewals), RenewalBatchItem, renewals_service.upsert_renewals
        )
        loader.batches("costs", book.costs, len(book.costs), CostBatchItem, costs_service.upsert_costs)
        # A second generator, seeded from the first, so the event stream does not shift when the plan changes.
        events = list(usage.usage_events(book, random.Random(seed + 1)))
        loader.batches("usage events", events, len(events), UsageEventIn, usage_service.ingest_usage_events)
        loader.interventions(book)
        loader.snapshots(book.end, min_churns)
    summary.seconds = time.perf_counter() - started
    return summary
