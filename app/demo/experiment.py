"""The demo's holdout experiment (SPEC §9): the save play tested against a 20 % holdout of at-risk customers.

The book is planned as if every at-risk customer got its save play. One draw per at-risk customer decides its
ending with the play and without it (`book.CHURN_WITH_PLAY`, `CHURN_WITHOUT_PLAY`); a customer saved *only by the
play* has two endings that part at its turn, 55 days into its risk (`plan.turn`). Which one it gets is
known only once the weekly enrollment (the service's `assign`, reading that week's health snapshots) has put it
in an arm: so such a customer is loaded up to its turn with everyone else, and its ending is loaded in the week
that reaches its turn, before that week's snapshot (`Trial.settle`). Before the turn both endings are the same
events, so the snapshots and enrollments that came earlier hold whatever it gets.

While the experiment runs, CSMs use the play under test as their save play: a customer enrolled before its turn
gets it two days after the weekly review that listed it (not before it was planned), unless it is in the holdout:
then no save play is run during the experiment, exactly as the holdout guard would refuse it, and a customer saved
only by the play churns at its renewal (or, with its renewal after the book, keeps falling).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo import usage
from app.demo.book import SAVE_PLAY, Book, Plan, Play
from app.models import ExperimentAssignment

EXPERIMENT_ID = "exp_save_play"
FRAMEWORK = "loss_aversion"
WINDOW_DAYS = 90
ACT_AFTER = timedelta(days=2)  # a CSM runs the save play two days after the weekly review lists the customer


@dataclass(frozen=True)
class Enrollment:
    """A customer's arm and enrollment day."""

    arm: str
    on: date


@dataclass(frozen=True)
class Ending:
    """A customer's ending as loaded: revenue events and renewals from the renewal at stake on, usage from its turn."""

    events: list[dict[str, Any]]
    renewals: list[dict[str, Any]]
    usage: list[dict[str, Any]]


@dataclass
class Trial:
    """The experiment's design on the book, and the customers whose ending waits for their arm."""

    book: Book
    seed: int
    starts_on: date
    ends_on: date
    days: list[date]  # the weekly enrollment days
    pending: list[Plan] = field(default_factory=list)  # by turn, earliest first
    held_back: int = 0  # save plays not run because the customer is in the holdout
    switched: int = 0  # holdout customers only the play would have saved: not saved

    def body(self) -> dict[str, Any]:
        """The `PUT /v1/experiments/{id}` body."""
        return {
            "name": "Save play vs. holdout",
            "hypothesis": "A loss-aversion health check, run as soon as the weekly review lists a customer at risk, "
            "cuts churn within 90 days against a 20 % holdout that gets no save play.",
            "play": {"type": SAVE_PLAY, "framework": FRAMEWORK},
            "eligibility": {"at_risk": True},
            "holdout_share": "0.2",
            # One stratum: a week enrolls a handful of customers, and ⌊0.2 × n + ½⌋ of a stratum of 1 or 2 is 0.
            "stratify_by": [],
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "window_days": WINDOW_DAYS,
        }

    def deferred(self) -> tuple[set[str], set[str]]:
        """The ids of the revenue events and renewals of the pending customers' planned (saved) endings."""
        endings = [plan.endings[True] for plan in self.pending if plan.endings]
        return {e["id"] for x in endings for e in x.events}, {r["id"] for x in endings for r in x.renewals}

    def usage_before_turns(self) -> Iterable[dict[str, Any]]:
        """Every customer's usage events, a pending customer's only before its turn."""
        turns = {plan.id: plan.turn.isoformat() for plan in self.pending if plan.turn is not None}
        for event in usage.usage_events(self.book, self.seed):
            turn = turns.get(event["customer"])
            if turn is None or event["occurred_at"][:10] < turn:
                yield event

    def due(self, until: date | None) -> list[Plan]:
        """The pending customers whose turn is on or before `until` (None: all), taken off the list."""
        found = [p for p in self.pending if until is None or (p.turn is not None and p.turn <= until)]
        self.pending = self.pending[len(found) :]
        return found

    def settle(self, plan: Plan, enrolled: Enrollment | None) -> Ending:
        """Give the customer its ending by its arm (switched to the one without the play when it is held back)."""
        # Only customers with two endings wait, and those have a risk span and a turn.
        assert plan.turn is not None  # noqa: S101
        assert plan.risk is not None  # noqa: S101
        play = save_play(plan)
        if play is not None and self.holds_back(plan, play, enrolled):
            self.switched += 1
            plan.saved = False
            if plan.endings:  # the renewal at stake is in the book: it churns there
                plan.paying[-1] = (plan.paying[-1][0], plan.risk[1])
                # What only the saved ending buys does not happen, nor the social-proof plays ahead of it.
                plan.plays = [p for p in plan.plays if p.expansion is None or p.expansion < plan.risk[1]]
        turn = plan.turn.isoformat()
        events = [e for e in usage.plan_events(self.book, plan, self.seed) if e["occurred_at"][:10] >= turn]
        ending = plan.endings.get(plan.saved)
        return Ending(ending.events if ending else [], ending.renewals if ending else [], events)

    def run(self, plan: Plan, play: Play, enrolled: Enrollment | None) -> Play:
        """The play as run. A save play of a customer the weekly review enrolled before its turn is the play under
        test, started two days after that review (never before it was planned)."""
        if play.framework != FRAMEWORK or enrolled is None or plan.turn is None or enrolled.on >= plan.turn:
            return play
        return replace(play, type=SAVE_PLAY, started_on=max(play.started_on, enrolled.on + ACT_AFTER))

    def holds_back(self, plan: Plan, play: Play, enrolled: Enrollment | None) -> bool:
        """True when the holdout guard would refuse the play as run (SPEC §9): the experiment's play, for a holdout
        customer, from its enrollment day to `ends_on`."""
        run = self.run(plan, play, enrolled)
        if run.type != SAVE_PLAY or run.framework != FRAMEWORK or enrolled is None or enrolled.arm != "holdout":
            return False
        return enrolled.on <= run.started_on <= self.ends_on


def save_play(plan: Plan) -> Play | None:
    """The customer's save play, if it has one."""
    return next((p for p in plan.plays if p.framework == FRAMEWORK), None)


def plan_trial(book: Book, seed: int, snapshot_days: list[date]) -> Trial:
    """Enrollment every snapshot week from the first until the last day whose 90-day window still closes before
    the book's last day; pending: the customers saved only by the save play, with one planned, whose turn comes
    after the first enrollment day."""
    ends_on = book.end - timedelta(days=WINDOW_DAYS)
    days = [day for day in snapshot_days if day <= ends_on]
    trial = Trial(book, seed, days[0], ends_on, days)
    trial.pending = sorted(
        (
            plan
            for plan in book.plans
            if plan.saved != plan.saved_alone
            and plan.turn is not None
            and plan.turn > trial.starts_on
            and (play := save_play(plan)) is not None
            and play.started_on <= book.end
        ),
        key=lambda plan: (plan.turn, plan.id),
    )
    return trial


def enrollments(session: Session, customer_ids: Iterable[str] | None = None) -> dict[str, Enrollment]:
    """The experiment's assignments (of these customers, None: all), by customer."""
    stmt = select(ExperimentAssignment.customer_id, ExperimentAssignment.arm, ExperimentAssignment.enrolled_on).where(
        ExperimentAssignment.experiment_id == EXPERIMENT_ID
    )
    if customer_ids is not None:
        stmt = stmt.where(ExperimentAssignment.customer_id.in_(sorted(customer_ids)))
    return {cid: Enrollment(arm, on) for cid, arm, on in session.execute(stmt)}
