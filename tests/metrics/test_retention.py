"""Retention rows on seeded ledgers: worked examples with the arithmetic written out, identities, and the
monthly rollup read for whole-month periods."""

import random
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.metrics.periods import month_start, split_periods
from app.metrics.retention import _aggregate, _aggregate_months, _whole_months, retention
from app.metrics.schemas import RetentionQuery, RetentionRow
from app.models import ArrChange, ArrMonth
from tests.builders import clear_ledger, make_customer, post_revenue, revenue


def rows(session: Session, start: str, end: str, **options: object) -> list[RetentionRow]:
    query = RetentionQuery(start=date.fromisoformat(start), end=date.fromisoformat(end), **options)  # type: ignore[arg-type]
    return retention(session, query).rows


def book(session: Session) -> None:
    """The conformance book: c1, c3, c4, c5 smb; c2 enterprise."""
    for cid, segment in (("c1", "smb"), ("c2", "enterprise"), ("c3", "smb"), ("c4", "smb"), ("c5", "smb")):
        make_customer(session, id=cid, segment=segment)
    post_revenue(
        session,
        revenue("c3", "2026-02-28", 0),
        revenue("c1", "2025-06-01", 12000),
        revenue("c4", "2026-02-01", 10000),
        revenue("c2", "2026-01-15", 20000),
        revenue("c1", "2026-02-10", 15000),
        revenue("c2", "2025-09-01", 24000),
        revenue("c3", "2025-03-01", 6000),
        revenue("c1", "2026-03-01", 2400, product="addon"),
        revenue("c5", "2025-01-01", 5000),
        revenue("c5", "2025-11-01", 0),
        revenue("c5", "2026-03-15", 4000),
    )
    post_revenue(session, revenue("c2", "2026-01-15", 18000))  # a correction, received later: it wins


class TestWorkedExamples:
    def test_quarter(self, session: Session) -> None:
        book(session)
        [q1] = rows(session, "2026-01-01", "2026-03-31")
        # Cohort at start: c1 12,000 + c2 24,000 + c3 6,000 = 42,000 (c5 churned in Nov, c4 not yet new).
        # At end: c1 15,000 + 2,400 = 17,400; c2 18,000; c3 0 → 35,400.
        assert (q1.customers_start, q1.starting_arr, q1.ending_arr) == (3, Decimal(42000), Decimal(35400))
        assert (q1.upsell, q1.cross_sell, q1.downsell, q1.churn, q1.reactivation) == (
            Decimal(3000),
            Decimal(2400),
            Decimal(6000),
            Decimal(6000),
            Decimal(0),
        )
        assert q1.nrr == Decimal(42000 - 6000 - 6000 + 3000 + 2400 + 0) / Decimal(42000)
        assert q1.grr == Decimal(12000 + 18000 + 0) / Decimal(42000)
        assert q1.logo_churn_rate == Decimal(1) / Decimal(3)
        # Whole book at end: 17,400 + 18,000 + 0 + 10,000 (c4, new) + 4,000 (c5, reactivated) = 49,400.
        assert (q1.total_starting_arr, q1.total_ending_arr, q1.new, q1.new_customers) == (
            Decimal(42000),
            Decimal(49400),
            Decimal(10000),
            1,
        )
        assert q1.arr_growth == Decimal(49400) / Decimal(42000)

    def test_months(self, session: Session) -> None:
        book(session)
        jan, feb, mar = rows(session, "2026-01-01", "2026-03-31", interval="month")
        assert (jan.period_start, jan.period_end, mar.period_end) == (
            date(2026, 1, 1),
            date(2026, 1, 31),
            date(2026, 3, 31),
        )
        # Jan: 42,000 → 12,000 + 18,000 + 6,000.  Feb: 36,000 → 15,000 + 18,000 + 0 (c4 starts on 1 Feb: not in
        # the cohort).  Mar: 15,000 + 18,000 + 10,000 = 43,000 → 17,400 + 18,000 + 10,000.
        assert jan.nrr == Decimal(36000) / Decimal(42000)
        assert feb.nrr == Decimal(33000) / Decimal(36000)
        assert (mar.starting_arr, mar.nrr) == (Decimal(43000), Decimal(45400) / Decimal(43000))

    def test_segments_show_the_loss_the_total_hides(self, session: Session) -> None:
        book(session)
        by = {r.group: r for r in rows(session, "2026-01-01", "2026-03-31", group_by="segment")}
        assert by["enterprise"].nrr == Decimal(18000) / Decimal(24000)  # 0.75
        assert by["smb"].nrr == Decimal(17400) / Decimal(12000 + 6000)
        assert by["smb"].grr == Decimal(12000 + 0) / Decimal(18000)

    def test_by_product_cohort_and_product_arr_only(self, session: Session) -> None:
        book(session)
        by = {r.group: r for r in rows(session, "2026-01-01", "2026-03-31", group_by="product")}
        # core cohort: c1 12,000, c2 24,000, c3 6,000. addon was cross-sold during Q1: no cohort.
        assert (by["core"].starting_arr, by["core"].ending_arr) == (Decimal(42000), Decimal(15000 + 18000 + 0))
        assert by["addon"].customers_start == 0
        assert by["addon"].nrr is None

    def test_churn_and_reactivation_inside_one_period(self, session: Session) -> None:
        post_revenue(
            session, revenue("a", "2025-01-01", 1000), revenue("a", "2025-02-10", 0), revenue("a", "2025-03-05", 1200)
        )
        [q] = rows(session, "2025-01-15", "2025-03-31")
        # 1,000 at start; churn 1,000; reactivation 1,200 → 1,200 at end: NRR 1.2, GRR min(1,200, 1,000)/1,000.
        assert (q.churn, q.reactivation, q.ending_arr) == (Decimal(1000), Decimal(1200), Decimal(1200))
        assert (q.nrr, q.grr, q.churned_customers) == (Decimal("1.2"), Decimal(1), 0)

    def test_empty_period_and_periods_before_any_data_are_null_not_errors(self, session: Session) -> None:
        [q] = rows(session, "2020-01-01", "2020-12-31")
        assert (q.customers_start, q.nrr, q.grr, q.logo_churn_rate, q.arr_growth) == (0, None, None, None, None)
        post_revenue(session, revenue("a", "2025-06-01", 1000))
        quarters = rows(session, "2025-01-01", "2025-12-31", interval="quarter")
        assert [q.nrr for q in quarters] == [None, None, Decimal(1), Decimal(1)]
        assert quarters[1].new == Decimal(1000)

    def test_grouped_rows_only_for_groups_with_data(self, session: Session) -> None:
        make_customer(session, id="a", segment="smb")
        post_revenue(session, revenue("a", "2025-06-01", 1000))
        assert rows(session, "2020-01-01", "2020-12-31", group_by="segment") == []


ledgers = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["core", "addon"]),
        st.dates(date(2024, 10, 1), date(2025, 9, 30)),
        st.sampled_from([0, 0, 100, 300, 1000, 99.99]),
    ),
    min_size=1,
    max_size=30,
    unique_by=lambda r: r[:3],
)


def _load(session: Session, events: list, order: list[int], *, twice: bool = False) -> None:
    clear_ledger(session)
    built = [revenue(c, d.isoformat(), Decimal(str(v)), product=p, id=f"p{i}") for i, (c, p, d, v) in enumerate(events)]
    for _ in range(2 if twice else 1):
        post_revenue(session, *[built[i] for i in order])


class TestIdentities:
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(events=ledgers, seed=st.integers(0, 10_000))
    def test_grr_nrr_and_movements_agree_whatever_the_posting_order(
        self, session: Session, events: list, seed: int
    ) -> None:
        """0 ≤ GRR ≤ 1, GRR ≤ NRR, end = start + movements, and one NRR whatever the posting order."""
        for customer, segment in (("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")):
            make_customer(session, id=customer, segment=segment)
        in_order = list(range(len(events)))
        _load(session, events, in_order)
        first = rows(session, "2025-01-01", "2025-06-30", interval="quarter") + rows(
            session, "2025-01-01", "2025-06-30", group_by="segment"
        )
        for row in first:
            if row.grr is not None:
                assert Decimal(0) <= row.grr <= 1
                assert row.nrr is not None
                assert row.grr <= row.nrr
            moved = row.upsell + row.cross_sell + row.reactivation - row.downsell - row.churn
            assert row.ending_arr == row.starting_arr + moved
        shuffled = in_order[:]
        random.Random(seed).shuffle(shuffled)
        _load(session, events, shuffled, twice=True)
        again = rows(session, "2025-01-01", "2025-06-30", interval="quarter") + rows(
            session, "2025-01-01", "2025-06-30", group_by="segment"
        )
        assert again == first


ROLLUP_CUSTOMERS = (("a", "x"), ("b", "x"), ("c", "y"), ("d", None), ("e", "y"))

rollup_ledgers = st.lists(
    st.tuples(
        st.sampled_from([c for c, _ in ROLLUP_CUSTOMERS]),
        st.sampled_from(["core", "addon", "extra"]),
        st.dates(date(2024, 11, 1), date(2025, 8, 31)),
        st.sampled_from([0, 0, 100, 300, 1000, 99.99, 250.5]),
    ),
    min_size=1,
    max_size=40,
)


def _load_in_batches(session: Session, events: list[Any], batches: int) -> None:
    """Post the events in `batches` batches, so later batches rebuild only the customers they touch."""
    clear_ledger(session)
    built = [revenue(c, d.isoformat(), Decimal(str(v)), product=p) for c, p, d, v in events]
    size = max(1, -(-len(built) // batches))
    for at in range(0, len(built), size):
        post_revenue(session, *built[at : at + size])


def _rollup_from_changes(session: Session) -> dict[tuple[str, date], tuple[int, ...]]:
    """What `arr_month` must hold, computed in Python from `arr_change`."""
    changes = session.execute(
        select(ArrChange.customer_id, ArrChange.effective_date, ArrChange.delta_cents, ArrChange.movement_type)
    ).all()
    months: dict[tuple[str, date], dict[str, int]] = {}
    for customer, day, delta, movement in changes:
        sums = months.setdefault((customer, month_start(day)), {"delta": 0})
        sums["delta"] += delta
        sums[movement] = sums.get(movement, 0) + abs(delta)
    expected: dict[tuple[str, date], tuple[int, ...]] = {}
    for customer, month in sorted(months):
        sums = months[(customer, month)]
        opening = sum(delta["delta"] for (c, m), delta in months.items() if c == customer and m < month)
        moved = (sums.get(t, 0) for t in ("new", "reactivation", "upsell", "cross_sell", "downsell", "churn"))
        expected[(customer, month)] = (opening, sums["delta"], *moved)
    return expected


def _rollup(session: Session) -> dict[tuple[str, date], tuple[int, ...]]:
    t = ArrMonth
    rows = session.execute(
        select(
            t.customer_id,
            t.month,
            t.opening_cents,
            t.delta_cents,
            t.new,
            t.reactivation,
            t.upsell,
            t.cross_sell,
            t.downsell,
            t.churn,
        )
    ).all()
    return {(r[0], r[1]): tuple(int(v) for v in r[2:]) for r in rows}


class TestMonthlyRollup:
    """Whole-month periods read the `arr_month` rollup kept by `rebuild_ledger`: the same rows as `arr_change` summed.

    Everything else (a range cut mid-month, quarters, product groups) reads `arr_change`.
    """

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(events=rollup_ledgers, batches=st.integers(1, 4), first=st.dates(date(2024, 10, 1), date(2025, 9, 30)))
    def test_rollup_rows_equal_arr_change_rows(
        self, session: Session, events: list[Any], batches: int, first: date
    ) -> None:
        """The rollup equals `arr_change` summed per month, and retention read from either gives the same sums."""
        for customer, segment in ROLLUP_CUSTOMERS:
            make_customer(session, id=customer, segment=segment)
        _load_in_batches(session, events, batches)
        assert _rollup(session) == _rollup_from_changes(session)

        start = month_start(first)
        for end in (date(2025, 9, 30), date(2025, 2, 28), start.replace(day=28)):
            if end < start:
                continue
            periods = split_periods(start, end, "month")
            if not _whole_months(periods):  # the last period is cut short: retention reads arr_change
                continue
            for group_by in (None, "segment"):
                from_changes = [
                    {k: v if k == "grp" else int(v or 0) for k, v in r.items()}
                    for r in _aggregate(session, periods, group_by)
                ]
                from_rollup = _aggregate_months(session, periods, group_by)
                assert from_rollup == from_changes, (start, end, group_by)

    def test_only_whole_months_read_the_rollup(self, session: Session) -> None:
        """A range starting or ending mid-month, quarters and product groups are answered from `arr_change`."""
        make_customer(session, id="a", segment="x")
        post_revenue(session, revenue("a", "2025-01-10", 1000), revenue("a", "2025-02-10", 1500))
        assert _whole_months(split_periods(date(2025, 1, 1), date(2025, 3, 31), "month"))
        assert _whole_months(split_periods(date(2025, 1, 1), date(2025, 1, 31), None))
        assert not _whole_months(split_periods(date(2025, 1, 15), date(2025, 3, 31), "month"))
        assert not _whole_months(split_periods(date(2025, 1, 1), date(2025, 3, 30), "month"))
        assert not _whole_months(split_periods(date(2025, 1, 1), date(2025, 3, 31), "quarter"))
        session.execute(delete(ArrMonth))  # an empty rollup: only whole-month answers lose the customer
        whole = retention(session, RetentionQuery(start=date(2025, 2, 1), end=date(2025, 2, 28), interval="month"))
        part = retention(session, RetentionQuery(start=date(2025, 2, 2), end=date(2025, 2, 28), interval="month"))
        assert whole.rows[0].customers_start == 0
        assert part.rows[0].customers_start == 1
