"""Movements derived from revenue events exactly as SPEC §3 says, whatever the arrival order."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.ledger import ingest, service
from app.ledger.schemas import MovementQuery, RevenueEventIn
from app.models import ArrChange
from tests.builders import clear_ledger, post_revenue, revenue


def movements(session: Session, **filters: object) -> list[tuple[str, str, str | None, Decimal]]:
    page = service.list_movements(session, MovementQuery(limit=1000, **filters))  # type: ignore[arg-type]
    return [(m.effective_date.isoformat(), m.type, m.product, m.amount) for m in page.items]


def arr(session: Session, customer: str, day: str) -> int:
    return sum(service.arr_by_product(session, customer, date.fromisoformat(day)).values())


class TestClassification:
    def test_first_arr_is_new_and_its_end_is_churn(self, session: Session) -> None:
        post_revenue(session, revenue("a", "2025-01-01", 1200), revenue("a", "2025-06-01", 0))
        assert movements(session) == [
            ("2025-01-01", "new", None, Decimal("1200.00")),
            ("2025-06-01", "churn", None, Decimal("1200.00")),
        ]

    def test_coming_back_after_churn_is_reactivation_not_new(self, session: Session) -> None:
        post_revenue(
            session, revenue("a", "2025-01-01", 1000), revenue("a", "2025-03-01", 0), revenue("a", "2025-05-01", 800)
        )
        assert [m[1] for m in movements(session)] == ["new", "churn", "reactivation"]
        assert movements(session, type="reactivation")[0][3] == Decimal("800.00")

    def test_up_down_and_cross_sell_per_product(self, session: Session) -> None:
        post_revenue(
            session,
            revenue("a", "2025-01-01", 1000),
            revenue("a", "2025-02-01", 1500),
            revenue("a", "2025-03-01", 300, product="addon"),
            revenue("a", "2025-04-01", 1100),
        )
        assert movements(session)[1:] == [
            ("2025-02-01", "upsell", "core", Decimal("500.00")),
            ("2025-03-01", "cross_sell", "addon", Decimal("300.00")),
            ("2025-04-01", "downsell", "core", Decimal("400.00")),
        ]

    def test_a_product_removed_while_the_logo_stays_is_downsell(self, session: Session) -> None:
        post_revenue(
            session,
            revenue("a", "2025-01-01", 1000),
            revenue("a", "2025-01-01", 200, product="addon"),
            revenue("a", "2025-05-01", 0, product="addon"),
        )
        assert movements(session)[-1] == ("2025-05-01", "downsell", "addon", Decimal("200.00"))

    def test_new_with_two_products_is_one_movement_of_the_total(self, session: Session) -> None:
        post_revenue(session, revenue("a", "2025-01-01", 1000), revenue("a", "2025-01-01", 200, product="addon"))
        assert movements(session) == [("2025-01-01", "new", None, Decimal("1200.00"))]

    def test_unchanged_arr_is_no_movement(self, session: Session) -> None:
        post_revenue(session, revenue("a", "2025-01-01", 1000), revenue("a", "2025-02-01", 1000))
        assert len(movements(session)) == 1

    def test_same_customer_product_and_date_last_received_wins(self, session: Session) -> None:
        post_revenue(session, revenue("a", "2025-01-01", 1000), revenue("a", "2025-01-01", 900))
        post_revenue(session, revenue("a", "2025-01-01", 950))
        assert movements(session) == [("2025-01-01", "new", None, Decimal("950.00"))]
        assert arr(session, "a", "2025-01-01") == 95000

    def test_back_dated_event_reclassifies_later_movements(self, session: Session) -> None:
        post_revenue(session, revenue("a", "2025-03-01", 1000))
        assert movements(session)[0][1] == "new"
        post_revenue(session, revenue("a", "2025-01-01", 700))  # arrives late, dated earlier
        assert [m[1:3] for m in movements(session)] == [("new", None), ("upsell", "core")]

    def test_rebuild_touches_only_the_posted_customers(self, session: Session) -> None:
        post_revenue(session, revenue("a", "2025-01-01", 1000), revenue("b", "2025-01-01", 500))
        session.execute(delete(ArrChange).where(ArrChange.customer_id == "b"))  # tamper with b's ledger
        post_revenue(session, revenue("a", "2025-02-01", 1100))
        assert movements(session, customer="b") == []


def lose_the_race_to(monkeypatch: pytest.MonkeyPatch, *winners: RevenueEventIn) -> None:
    """The next batch finds `winners` stored between its look-up and its insert, as when a concurrent batch
    commits them in that moment (on PostgreSQL it does so while this one waits for the customers' locks).
    """
    lock = ingest.lock_customers
    pending = [list(winners)]

    def commit_winners_then_lock(session: Session, customer_ids: list[str]) -> None:
        if pending:
            post_revenue(session, *pending.pop())
        lock(session, customer_ids)

    monkeypatch.setattr(ingest, "lock_customers", commit_winners_then_lock)


class TestRacingBatches:
    """SPEC §13: a batch that loses a race to an identical one answers duplicates, never 409."""

    def test_events_stored_by_a_racing_batch_are_duplicates(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        raced, fresh = revenue("a", "2025-01-01", 1000, id="e1"), revenue("a", "2025-02-01", 1500, id="e2")
        lose_the_race_to(monkeypatch, raced)
        result = post_revenue(session, raced, fresh)
        assert (result.accepted, result.duplicates) == (1, 1)
        assert [m[1] for m in movements(session)] == ["new", "upsell"]

    def test_a_racing_event_with_other_content_is_still_a_conflict(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        lose_the_race_to(monkeypatch, revenue("a", "2025-01-01", 1000, id="e1"))
        with pytest.raises(Conflict) as raised:
            post_revenue(session, revenue("a", "2025-01-01", 999, id="e1"), revenue("a", "2025-02-01", 1, id="e2"))
        assert raised.value.extra["ids"] == ["e1"]


class TestArr:
    def test_arr_as_of_counts_changes_on_or_before_the_date(self, session: Session) -> None:
        post_revenue(session, revenue("a", "2025-01-01", 1000), revenue("a", "2025-02-01", 1500))
        assert (arr(session, "a", "2024-12-31"), arr(session, "a", "2025-01-31"), arr(session, "a", "2025-02-01")) == (
            0,
            100000,
            150000,
        )


ledgers = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["core", "addon"]),
        st.integers(0, 40),
        st.sampled_from([0, 0, 100, 250, 1000, 1234.56]),
    ),
    min_size=1,
    max_size=25,
)


def arrival_order(rows: list[tuple], rnd: random.Random) -> list[int]:
    """A random arrival order in which events for one customer, product and date keep their relative order.

    Those resolve by arrival (the last received wins), so only their order relative to others may change.
    """
    order = list(range(len(rows)))
    rnd.shuffle(order)
    same_key: dict[tuple, list[int]] = {}
    for index in range(len(rows)):
        same_key.setdefault(rows[index][:3], []).append(index)
    next_of = {key: iter(indexes) for key, indexes in same_key.items()}
    return [next(next_of[rows[i][:3]]) for i in order]


def _post(session: Session, rows: list[tuple[str, str, int, float]], order: list[int]) -> None:
    base = date(2025, 1, 1)
    events = [
        revenue(c, (base + timedelta(days=7 * d)).isoformat(), Decimal(str(v)), product=p, id=f"h{i}")
        for i, (c, p, d, v) in enumerate(rows)
    ]
    post_revenue(session, *[events[i] for i in order])


class TestRandomLedgers:
    """Properties on random ledgers: movements add up, and arrival order and retries change nothing."""

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=ledgers, data=st.data())
    def test_arr_at_end_is_start_plus_movements_in_any_order(
        self, session: Session, rows: list, data: st.DataObject
    ) -> None:
        """ARR at end = ARR at start + new + reactivation + upsell + cross_sell − downsell − churn (SPEC §3)."""
        clear_ledger(session)
        _post(session, rows, arrival_order(rows, data.draw(st.randoms())))
        start, end = date(2025, 2, 1), date(2025, 8, 1)
        signs = {"new": 1, "reactivation": 1, "upsell": 1, "cross_sell": 1, "downsell": -1, "churn": -1}
        for customer in ("a", "b", "c"):
            moved = sum(
                signs[t] * amount for _, t, _, amount in movements(session, customer=customer, start=start, end=end)
            )
            before = Decimal(arr(session, customer, (start - timedelta(days=1)).isoformat())) / 100
            after = Decimal(arr(session, customer, end.isoformat())) / 100
            assert after == before + moved

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=ledgers, seed=st.integers(0, 1000))
    def test_shuffled_or_repeated_posting_gives_the_same_movements(
        self, session: Session, rows: list, seed: int
    ) -> None:
        # Give each (customer, product, date) one value, so arrival order cannot matter.
        unique = list({r[:3]: r for r in rows}.values())
        clear_ledger(session)
        _post(session, unique, list(range(len(unique))))
        in_order = movements(session)
        clear_ledger(session)
        shuffled = list(range(len(unique)))
        random.Random(seed).shuffle(shuffled)
        _post(session, unique, shuffled)
        _post(session, unique, shuffled)  # a retry: all duplicates
        assert movements(session) == in_order
