"""Enrollment (SPEC §9): eligibility on the day, stratified ⌊share × n + ½⌋ draws, assignments that never move."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import formulas
from app.experiments import service
from app.models import ExperimentAssignment
from tests.builders import (
    assign,
    fresh_id,
    make_customers,
    make_experiment,
    make_renewal,
    make_snapshot,
    post_revenue,
    revenue,
)


def book(session: Session, ids: list[str], *, arr: int = 10_000, on: str = "2025-06-01", **fields: object) -> None:
    make_customers(session, ids, **fields)
    post_revenue(session, *[revenue(cid, on, arr) for cid in ids])


def assignments(session: Session, experiment: str) -> dict[str, tuple[str, date, str]]:
    rows = session.scalars(select(ExperimentAssignment).where(ExperimentAssignment.experiment_id == experiment))
    return {a.customer_id: (a.arm, a.enrolled_on, a.stratum) for a in rows}


class TestStratifiedDraw:
    def test_each_stratum_holds_out_floor_share_n_plus_half(self, session: Session) -> None:
        book(session, [fresh_id("h") for _ in range(7)], tier="high_touch", segment="s1")
        book(session, [fresh_id("l") for _ in range(5)], tier="low_touch", segment="s1")
        book(session, [fresh_id("t") for _ in range(3)], tier="tech_touch", segment="s1")
        book(session, [fresh_id("n") for _ in range(10)], segment="s1")  # no tier
        xp = make_experiment(session, holdout_share="0.25", eligibility={"segment": "s1"})
        got = assign(session, experiment=xp.id, as_of="2026-01-05")
        # ⌊0.25 × 7 + ½⌋ = ⌊2.25⌋ = 2; ⌊0.25 × 5 + ½⌋ = ⌊1.75⌋ = 1; ⌊0.25 × 3 + ½⌋ = ⌊1.25⌋ = 1;
        # ⌊0.25 × 10 + ½⌋ = ⌊3.0⌋ = 3 (a half rounds up).
        counts = {s.stratum: (s.customers, s.holdout) for s in got.strata}
        assert counts == {
            "band=none|tier=high_touch": (7, 2),
            "band=none|tier=low_touch": (5, 1),
            "band=none|tier=tech_touch": (3, 1),
            "band=none|tier=none": (10, 3),
        }
        assert (got.enrolled, got.holdout, got.treatment) == (25, 7, 18)

    def test_the_draw_follows_the_sha256_order_of_the_ids(self, session: Session) -> None:
        ids = [fresh_id("o") for _ in range(8)]
        book(session, ids, segment="order")
        xp = make_experiment(session, holdout_share="0.5", stratify_by=[], eligibility={"segment": "order"})
        assign(session, experiment=xp.id, as_of="2026-01-05")
        first_four = sorted(ids, key=lambda cid: service.draw_order(xp.id, cid))[:4]
        held = {cid for cid, (arm, _, _) in assignments(session, xp.id).items() if arm == "holdout"}
        assert held == set(first_four)


class TestEligibility:
    def test_band_and_at_risk_come_from_the_latest_snapshot_on_or_before_the_day(self, session: Session) -> None:
        red, yellow_renewing, yellow, green, later_red = (fresh_id(p) for p in ("red", "yr", "y", "g", "lr"))
        book(session, [red, yellow_renewing, yellow, green, later_red], segment="risk")
        make_snapshot(session, customer=red, day="2026-01-01", score=20, band="red")
        make_snapshot(session, customer=yellow_renewing, day="2026-01-01", score=50, band="yellow")
        make_renewal(session, customer=yellow_renewing, due_date="2026-03-01")
        make_snapshot(session, customer=yellow, day="2026-01-01", score=50, band="yellow")
        make_snapshot(session, customer=green, day="2026-01-01", score=90, band="green")
        make_snapshot(session, customer=later_red, day="2026-01-01", score=90, band="green")
        make_snapshot(session, customer=later_red, day="2026-01-10", score=10, band="red")  # after the day
        xp = make_experiment(session, eligibility={"segment": "risk", "at_risk": True})
        assign(session, experiment=xp.id, as_of="2026-01-05")
        assert set(assignments(session, xp.id)) == {red, yellow_renewing}
        greens = make_experiment(session, eligibility={"segment": "risk", "band": "green"}, stratify_by=["at_risk"])
        assign(session, experiment=greens.id, as_of="2026-01-05")
        got = assignments(session, greens.id)
        assert set(got) == {green, later_red}
        assert {stratum for _, _, stratum in got.values()} == {"at_risk=false"}

    def test_only_paying_customers_above_min_arr_and_of_the_stage(self, session: Session) -> None:
        new, old, small, churned = (fresh_id(p) for p in ("new", "old", "small", "gone"))
        make_customers(session, [new, old, small, churned], segment="pay")
        post_revenue(
            session,
            revenue(new, "2025-12-01", 20_000),
            revenue(old, "2025-01-01", 20_000),
            revenue(small, "2025-01-01", 999.99),
            revenue(churned, "2025-01-01", 50_000),
            revenue(churned, "2025-11-01", 0),
        )
        xp = make_experiment(session, eligibility={"segment": "pay", "min_arr": 1000})
        assign(session, experiment=xp.id, as_of="2026-01-05")
        assert set(assignments(session, xp.id)) == {new, old}
        landing = make_experiment(session, eligibility={"segment": "pay", "stage": "land"}, stratify_by=["stage"])
        assign(session, experiment=landing.id, as_of="2026-01-05")
        assert {c: s for c, (_, _, s) in assignments(session, landing.id).items()} == {new: "stage=land"}


class TestAssignmentsNeverMove:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        first=st.lists(st.sampled_from(["high_touch", "low_touch", None]), max_size=12),
        later=st.lists(st.sampled_from(["high_touch", "low_touch", None]), max_size=12),
        churn=st.integers(0, 12),
        share=st.decimals(Decimal("0.05"), Decimal("0.5"), places=2),
        gap=st.integers(1, 60),
    )
    def test_a_later_assign_only_adds(
        self, session: Session, *, first: list, later: list, churn: int, share: Decimal, gap: int
    ) -> None:
        segment = fresh_id("seg")
        first_ids = [fresh_id("p") for _ in first]
        for cid, tier in zip(first_ids, first, strict=True):
            book(session, [cid], segment=segment, **({"tier": tier} if tier else {}))
        xp = make_experiment(session, holdout_share=str(share), eligibility={"segment": segment})
        assign(session, experiment=xp.id, as_of="2026-01-05")
        before = assignments(session, xp.id)

        # Later: some first customers churn (no longer eligible), new customers arrive; assign again.
        day = date(2026, 1, 5) + timedelta(days=gap)
        post_revenue(session, *[revenue(cid, day.isoformat(), 0) for cid in first_ids[:churn]])
        later_ids = [fresh_id("q") for _ in later]
        for cid, tier in zip(later_ids, later, strict=True):
            book(session, [cid], segment=segment, on=day.isoformat(), **({"tier": tier} if tier else {}))
        second = assign(session, experiment=xp.id, as_of=day)
        after = assignments(session, xp.id)

        assert {cid: after[cid] for cid in before} == before  # nothing moved
        assert set(after) - set(before) == set(later_ids)  # only the newcomers were added
        for stratum in second.strata:
            assert stratum.holdout == formulas.holdout_count(share, stratum.customers)
        assert assign(session, experiment=xp.id, as_of=day).enrolled == 0
