"""Attribution (SPEC §5): episodes, overlapping windows, churn, never counting a dollar twice."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.interventions.impact import Window, allocate, attribute, cap_credits, rescue_years, risk_episodes
from app.models import ArrChange
from tests.books import spec_attribution_ledger
from tests.builders import clear_ledger, post_revenue, revenue

D = date.fromisoformat


def window(iid: str, customer: str, start: str, *, days: int = 90, at_risk: bool = True) -> Window:
    return Window(iid, customer, D(start), D(start) + timedelta(days=days), at_risk)


class TestAllocate:
    def test_shares_differ_by_at_most_a_cent_and_add_up(self) -> None:
        assert allocate(1000, 3) == [334, 333, 333]
        assert allocate(2, 3) == [1, 1, 0]  # 0.02 among three: never 0.01 × 3 = 0.03
        assert sum(allocate(123_457, 7)) == 123_457


class TestEpisodes:
    def test_starts_within_the_first_window_share_an_episode(self) -> None:
        ws = [
            window("a", "c", "2026-01-01"),
            window("b", "c", "2026-03-01"),
            window("c", "c", "2026-04-15"),
            window("d", "c", "2026-02-01", at_risk=False),
        ]
        # a's window ends 2026-04-01: b (1 Mar) joins it; c (15 Apr) starts a new episode; d is not at risk.
        assert [[w.id for w in e] for e in risk_episodes(ws)] == [["a", "b"], ["c"]]


class TestEpisodeCap:
    """SPEC §9: a customer's episodes fall into rescue years; each year retains at most the ARR at its start."""

    def test_rescue_years_open_365_days_from_their_first_episode(self) -> None:
        episodes = [
            [window(i, "c", day)]
            for i, day in (("a", "2025-02-01"), ("b", "2025-10-01"), ("c", "2026-01-31"), ("d", "2026-02-01"))
        ]
        # 2025-02-01 + 365 days = 2026-02-01: c (31 Jan) is still in the first year, d opens the second.
        assert rescue_years(episodes) == [[0, 1, 2], [3]]

    def test_credits_stop_at_the_cap_in_start_order(self) -> None:
        assert cap_credits([60_000, 60_000, 60_000], 100_000) == [60_000, 40_000, 0]

    def test_negative_amounts_are_never_cut_and_use_no_cap(self) -> None:
        assert cap_credits([-5_000, 80_000, 30_000], 100_000) == [-5_000, 80_000, 20_000]

    def test_three_episodes_in_a_year_retain_the_customer_once(self, session: Session) -> None:
        # Worked example (b): 100,000 ARR from 2025-01-01, still paying; three at-risk interventions on 1 Feb,
        # 1 Jun and 1 Oct 2025 (90-day windows: three episodes, one rescue year opened on 1 Feb).
        # Uncapped each would retain min(100,000, 100,000) = 100,000: 300,000 in all. Capped at the ARR at the
        # first start (100,000): 100,000 + 0 + 0.
        post_revenue(session, revenue("cap", "2025-01-01", 100000))
        ws = [window("i1", "cap", "2025-02-01"), window("i2", "cap", "2025-06-01"), window("i3", "cap", "2025-10-01")]
        got = attribute(session, ws, today=D("2026-11-23"))
        assert [got[i].retained_cents for i in ("i1", "i2", "i3")] == [100_000_00, 0, 0]

    def test_the_cut_comes_before_the_split_inside_an_episode(self) -> None:
        # An episode of two interventions after the year has used 70,000 of 100,000: 30,000 left, split 15,000 each.
        assert allocate(cap_credits([70_000_00, 50_000_00], 100_000_00)[1], 2) == [15_000_00, 15_000_00]

    def test_a_new_rescue_year_retains_again(self, session: Session) -> None:
        post_revenue(session, revenue("cap", "2025-01-01", 100000))
        ws = [window("i1", "cap", "2025-02-01"), window("i2", "cap", "2026-02-01")]
        got = attribute(session, ws, today=D("2026-11-23"))
        assert [got[i].retained_cents for i in ("i1", "i2")] == [100_000_00, 100_000_00]


class TestAttribute:
    def test_spec_worked_example_50000_retained_10000_expanded(self, session: Session) -> None:
        spec_attribution_ledger(session)
        ws = [
            window("a", "ra", "2026-04-05"),
            window("b", "rb", "2026-04-05"),
            window("c", "rc", "2026-04-06"),
            window("d", "rd", "2026-04-10", at_risk=False),
        ]
        got = attribute(session, ws, today=D("2026-11-23"))
        assert sum(a.retained_cents for a in got.values()) == (20000 + 20000 + 10000) * 100
        assert got["d"].expanded_cents == (40000 - 30000) * 100
        assert all(a.final for a in got.values())
        # Program ROI against $15,000 of CS cost: (50,000 + 10,000 − 15,000) / 15,000 = 3.0.
        assert (Decimal(50000 + 10000) - 15000) / 15000 == 3

    def test_an_episode_retains_once_split_evenly(self, session: Session) -> None:
        post_revenue(session, revenue("x", "2026-01-01", 10000))
        got = attribute(session, [window("a", "x", "2026-02-01"), window("b", "x", "2026-03-01")], D("2026-12-31"))
        assert (got["a"].retained_cents, got["b"].retained_cents) == (500_000, 500_000)
        assert got["a"].episode == ["a", "b"]

    def test_retained_is_min_of_start_and_window_end(self, session: Session) -> None:
        post_revenue(session, revenue("x", "2026-01-01", 10000), revenue("x", "2026-03-01", 7000))
        got = attribute(session, [window("a", "x", "2026-02-01")], D("2026-12-31"))
        assert got["a"].retained_cents == 7000 * 100  # min(10,000 at start, 7,000 at window end)

    def test_churn_inside_the_window_retains_nothing(self, session: Session) -> None:
        post_revenue(session, revenue("x", "2026-01-01", 10000), revenue("x", "2026-03-01", 0))
        assert attribute(session, [window("a", "x", "2026-02-01")], D("2026-12-31"))["a"].retained_cents == 0

    def test_churn_then_win_back_before_window_end_retains(self, session: Session) -> None:
        post_revenue(
            session, revenue("x", "2026-01-01", 10000), revenue("x", "2026-02-15", 0), revenue("x", "2026-03-15", 12000)
        )
        # Paying again at the window end (2026-05-02): min(10,000, 12,000) = 10,000 retained.
        assert attribute(session, [window("a", "x", "2026-02-01")], D("2026-12-31"))["a"].retained_cents == 1_000_000

    def test_an_upsell_on_the_start_day_is_expansion_not_also_retained(self, session: Session) -> None:
        # 1,000 before; +500 on the start day (1 Feb); +500 on 20 Apr. i1 (1 Feb) and i2 (15 Apr) form one episode.
        post_revenue(
            session,
            revenue("a", "2024-01-01", 1000),
            revenue("a", "2024-02-01", 1500),
            revenue("a", "2024-04-20", 2000),
        )
        got = attribute(session, [window("i1", "a", "2024-02-01"), window("i2", "a", "2024-04-15")], D("2024-12-31"))
        # Retained: min(1,000 before the start, 2,000 at the window end) = 1,000, split 500 + 500. Expanded: the
        # start-day +500 goes to i1 alone; the 20 Apr +500 is in both windows, 250 each. Total 2,000 = the real
        # growth from 1,000 to 2,000 plus the 1,000 kept: nothing counted twice.
        assert (got["i1"].retained_cents, got["i2"].retained_cents) == (50_000, 50_000)
        assert (got["i1"].expanded_cents, got["i2"].expanded_cents) == (75_000, 25_000)

    def test_the_window_holds_exactly_attribution_days(self) -> None:
        w = window("a", "x", "2026-01-01", days=90)
        assert (w.contains(D("2026-01-01")), w.contains(D("2026-03-31")), w.contains(D("2026-04-01"))) == (
            True,
            True,
            False,
        )

    def test_overlapping_windows_split_each_expansion(self, session: Session) -> None:
        post_revenue(
            session,
            revenue("x", "2026-01-01", 10000),
            revenue("x", "2026-03-01", 13000),
            revenue("x", "2026-06-01", 3000, product="addon"),
        )
        ws = [window("a", "x", "2026-02-01", at_risk=False), window("b", "x", "2026-02-15", at_risk=False)]
        got = attribute(session, ws, D("2026-12-31"))
        # Upsell 3,000 on 1 Mar is in both windows: 1,500 each. Cross-sell on 1 Jun: a's window ended 2 May,
        # b's ends 16 May: in neither.
        assert (got["a"].expanded_cents, got["b"].expanded_cents) == (150_000, 150_000)

    def test_open_window_counts_so_far_and_is_not_final(self, session: Session) -> None:
        post_revenue(session, revenue("x", "2026-01-01", 10000), revenue("x", "2026-03-01", 11000))
        got = attribute(session, [window("a", "x", "2026-02-01")], today=D("2026-03-15"))
        assert (got["a"].retained_cents, got["a"].expanded_cents, got["a"].final) == (1_000_000, 100_000, False)

    def test_later_movements_are_not_counted_before_they_happen(self, session: Session) -> None:
        post_revenue(session, revenue("x", "2026-01-01", 10000), revenue("x", "2026-03-01", 11000))
        assert attribute(session, [window("a", "x", "2026-02-01")], D("2026-02-20"))["a"].expanded_cents == 0


intervention_sets = st.lists(
    st.tuples(st.sampled_from(["p", "q"]), st.integers(0, 300), st.integers(10, 120), st.booleans()),
    min_size=1,
    max_size=8,
)
ledger_sets = st.lists(
    st.tuples(
        st.sampled_from(["p", "q"]),
        st.sampled_from(["core", "addon"]),
        st.integers(0, 400),
        st.sampled_from([0, 500, 1000, 2500, 99.99]),
    ),
    min_size=1,
    max_size=20,
    unique_by=lambda r: r[:3],
)


class TestAttributionBounds:
    """On random ledgers and interventions attribution never credits more than really moved."""

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(events=ledger_sets, plans=intervention_sets)
    def test_attributed_revenue_never_exceeds_real_movements(self, session: Session, events: list, plans: list) -> None:
        """Per customer: expanded ≤ real upsell + cross-sell in the windows; each episode retains ≤ ARR at its
        start; each rescue year retains ≤ the ARR at its first start (SPEC §9)."""
        clear_ledger(session)
        base = D("2025-01-01")
        post_revenue(
            session,
            *[
                revenue(c, (base + timedelta(days=d)).isoformat(), Decimal(str(v)), product=p, id=f"i{n}")
                for n, (c, p, d, v) in enumerate(events)
            ],
        )
        windows = [
            Window(f"w{n}", c, base + timedelta(days=d), base + timedelta(days=d + days), risk)
            for n, (c, d, days, risk) in enumerate(plans)
        ]
        got = attribute(session, windows, today=D("2026-06-30"))
        for customer in ("p", "q"):
            mine = [w for w in windows if w.customer_id == customer]
            expansions = (
                session.query(ArrChange)
                .filter(ArrChange.customer_id == customer, ArrChange.movement_type.in_(["upsell", "cross_sell"]))
                .all()
            )
            in_windows = sum(c.delta_cents for c in expansions if any(w.contains(c.effective_date) for w in mine))
            assert sum(got[w.id].expanded_cents for w in mine) <= in_windows
            for episode in risk_episodes(mine):
                at_start = sum(
                    c.delta_cents
                    for c in session.query(ArrChange).filter(
                        ArrChange.customer_id == customer, ArrChange.effective_date < episode[0].started_on
                    )
                )
                assert sum(got[w.id].retained_cents for w in episode) <= at_start
            episodes = risk_episodes(mine)
            for year in rescue_years(episodes):
                first = episodes[year[0]][0]
                at_first_start = sum(
                    c.delta_cents
                    for c in session.query(ArrChange).filter(
                        ArrChange.customer_id == customer, ArrChange.effective_date < first.started_on
                    )
                )
                # SPEC §9: a rescue year retains at most the ARR at the start of its first episode.
                assert sum(got[w.id].retained_cents for i in year for w in episodes[i]) <= at_first_start
            assert all(got[w.id].retained_cents == 0 for w in mine if not w.at_risk)
