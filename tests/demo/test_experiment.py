"""The demo's holdout experiment (its plan, and as loaded), and its usage to yesterday so outcomes see real data."""

import copy
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.demo import experiment, load_demo, usage
from app.demo.book import SAVE_PLAY, Book, Plan
from app.demo.load import build_book, snapshot_days
from app.experiments import result as experiment_result
from app.experiments import service as experiments_service
from app.metrics.roi import roi
from app.metrics.schemas import RoiQuery
from app.models import ExperimentAssignment, Intervention, UsageEvent

TODAY = date(2026, 5, 12)
CS_TEAMS = ["customer_success", "onboarding", "renewals"]

# The ROI options the routes take from Settings (CSROI_MIN_CONTROLS, CSROI_CHURN_DEFAULTS), at their defaults.
ROI_OPTIONS = {"min_controls": Settings().min_controls, "churn_defaults": Settings().churn_defaults}


def trial_of(book: Book, seed: int) -> experiment.Trial:
    return experiment.plan_trial(book, seed + 1, snapshot_days(book.end))


def lost(plan: Plan) -> Plan:
    """A copy of a customer saved only by the play, with the ending it gets without it."""
    other = copy.deepcopy(plan)
    other.saved = False
    if other.endings and other.risk:
        other.paying[-1] = (other.paying[-1][0], other.risk[1])
    return other


def day_of(event: dict[str, object]) -> str:
    return str(event["occurred_at"])[:10]


class TestPlan:
    def test_both_endings_share_every_event_before_the_turn(self) -> None:
        book = build_book(seed=3, customers=300, today=TODAY)
        flippers = [plan for plan in book.plans if plan.saved != plan.saved_alone]
        assert len(flippers) > 10
        for plan in flippers:
            assert plan.turn is not None
            assert plan.risk is not None
            turn = plan.turn.isoformat()
            saved, unsaved = (list(usage.plan_events(book, p, 4)) for p in (plan, lost(plan)))
            before = [e for e in saved if day_of(e) < turn]
            assert before == [e for e in unsaved if day_of(e) < turn], plan.id
            # The ending's events never reuse an id loaded before the turn.
            assert not {e["id"] for e in before} & {e["id"] for e in unsaved + saved if day_of(e) >= turn}
            # The revenue of the two endings parts at the renewal at stake, not before.
            for ending in plan.endings.values():
                assert all(e["effective_date"] >= plan.risk[1].isoformat() for e in ending.events)

    def test_a_holdout_customer_saved_only_by_the_play_gets_none_and_churns(self) -> None:
        book = build_book(seed=3, customers=300, today=TODAY)
        trial = trial_of(book, 3)
        plan, play = next(
            (p, play)
            for p in trial.pending
            if p.endings and (play := experiment.save_play(p)) is not None and play.started_on <= trial.ends_on
        )
        assert plan.turn is not None
        assert plan.risk is not None
        review = max(day for day in trial.days if day < plan.turn)
        held, treated = experiment.Enrollment("holdout", review), experiment.Enrollment("treatment", review)

        run = trial.run(plan, play, treated)
        assert (run.type, run.started_on) == (SAVE_PLAY, max(play.started_on, review + timedelta(days=2)))
        assert trial.holds_back(plan, play, held)
        assert not trial.holds_back(plan, play, treated)

        without = trial.settle(copy.deepcopy(plan), held)
        assert [r["status"] for r in without.renewals] == ["churned"]
        assert {e["arr"] for e in without.events} == {"0"}
        assert max(day_of(e) for e in without.usage) < plan.risk[1].isoformat()
        with_play = trial.settle(copy.deepcopy(plan), treated)
        assert [r["status"] for r in with_play.renewals] == ["renewed", "open"]
        assert max(day_of(e) for e in with_play.usage) > (book.usage_end - timedelta(days=7)).isoformat()
        assert min(day_of(e) for e in with_play.usage + without.usage) >= plan.turn.isoformat()
        assert trial.switched == 1

    def test_a_customer_enrolled_after_its_turn_keeps_its_play_as_planned(self) -> None:
        book = build_book(seed=3, customers=300, today=TODAY)
        trial = trial_of(book, 3)
        plan = next(p for p in book.plans if p.turn and experiment.save_play(p))
        play = experiment.save_play(plan)
        assert play is not None
        assert plan.turn is not None
        late = experiment.Enrollment("holdout", plan.turn)
        assert trial.run(plan, play, late) == play
        assert not trial.holds_back(plan, play, late)


class TestLoaded:
    def test_the_save_play_experiment_runs_and_its_result_is_out(self, session_factory: sessionmaker[Session]) -> None:
        summary = load_demo(session_factory, customers=150, today=TODAY)
        with session_factory() as session:
            xp = experiments_service.get_experiment(session, experiment.EXPERIMENT_ID)
            arms = session.execute(
                select(ExperimentAssignment.arm, func.count(), func.max(ExperimentAssignment.enrolled_on))
                .where(ExperimentAssignment.experiment_id == xp.id)
                .group_by(ExperimentAssignment.arm)
            ).all()
            days = set(session.scalars(select(ExperimentAssignment.enrolled_on).distinct()))
            # Holdout customers never got the play during the experiment (nothing to override, no contamination).
            contacted = session.scalar(
                select(func.count())
                .select_from(Intervention)
                .join(ExperimentAssignment, ExperimentAssignment.customer_id == Intervention.customer_id)
                .where(
                    ExperimentAssignment.arm == "holdout",
                    Intervention.type == xp.play_type,
                    Intervention.framework == xp.play_framework,
                    Intervention.started_on >= ExperimentAssignment.enrolled_on,
                    Intervention.started_on <= xp.ends_on,
                )
            )
            found = experiment_result.experiment_result(
                session, xp.id, as_of=TODAY, seed=0, default_hourly=Decimal(75), currency="USD"
            )
        assert (xp.play_type, xp.play_framework, xp.eligibility) == (SAVE_PLAY, "loss_aversion", {"at_risk": True})
        assert (xp.holdout_share, xp.window_days, xp.ends_on) == (Decimal("0.2"), 90, summary.end - timedelta(days=90))
        assert {arm for arm, _, _ in arms} == {"treatment", "holdout"}
        # Weekly enrollment on the snapshot days, every window closed before the book's last day.
        assert days <= set(snapshot_days(summary.end))
        assert all(last + timedelta(days=xp.window_days) <= summary.end for _, _, last in arms)
        assert contacted == 0
        assert found.status in {"ready", "underpowered"}
        assert found.contaminated == 0
        assert found.arms["treatment"].interventions > 0
        assert experiment.EXPERIMENT_ID in summary.experiment
        assert found.status in summary.experiment

    def test_outcomes_measured_after_the_book_see_usage_to_yesterday(
        self, session_factory: sessionmaker[Session]
    ) -> None:
        # The book ends on 30 April; March's 60-day outcomes fall due in May, after it, February's in April. Before
        # usage ran to yesterday, March read days without usage: 6 % met against 84 % for February at 500 customers
        # (0 % against 78 % at 200); now 82 % against 78 % at 500, 57 % against 75 % at 200.
        today = date(2026, 5, 31)
        summary = load_demo(session_factory, customers=200, today=today)
        with session_factory() as session:
            query = RoiQuery(start=date(2026, 2, 1), end=date(2026, 3, 31), interval="month")
            february, march = roi(
                session, query, cs_teams=CS_TEAMS, default_hourly=Decimal(75), today=today, **ROI_OPTIONS
            ).rows
            last_usage = session.scalar(select(func.max(UsageEvent.occurred_at)))
            stored = session.scalars(select(Intervention.outcome).where(Intervention.outcome.is_not(None))).all()
        assert summary.usage_end == today - timedelta(days=1)
        assert last_usage is not None
        assert last_usage.date() == summary.usage_end
        assert max(o["measured_on"] for o in stored) <= summary.usage_end.isoformat()
        assert february.outcome_rate is not None
        assert march.outcome_rate is not None
        assert march.measured >= 10
        assert march.outcome_rate >= february.outcome_rate / 2, (february.outcome_rate, march.outcome_rate)
