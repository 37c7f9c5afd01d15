"""Stripe in, below HTTP: the mapping from a subscription event to revenue events, and its identities."""

import random
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.formulas import PERIODS_PER_YEAR
from app.ledger import service, stripe_ingest
from app.ledger.stripe_schemas import StripeEventIn
from tests.builders import clear_ledger
from tests.ledger.stripe_payloads import event, item, price, subscription, ts


def parsed(body: dict[str, Any]) -> StripeEventIn:
    return StripeEventIn.model_validate(body)


def arr_of(body: dict[str, Any], currency: str = "USD") -> dict[tuple[str, str], Decimal]:
    return {(e.customer, e.product): e.arr for e in stripe_ingest.revenue_events(parsed(body), currency=currency)}


class TestRevenueEvents:
    def test_one_event_per_product_with_ids_from_the_event(self) -> None:
        sub = subscription(item("si_1", price("prod_core", 4900), 5), item("si_2", price("prod_addon", 1000), 2))
        events = stripe_ingest.revenue_events(parsed(event("created", sub, event_id="evt_9")), currency="USD")
        assert [(e.id, e.customer, e.product, e.effective_date, e.arr) for e in events] == [
            (f"stripe:{ts('2026-01-01')}:evt_9:prod_core", "cus_1", "prod_core", date(2026, 1, 1), Decimal("2940.00")),
            (f"stripe:{ts('2026-01-01')}:evt_9:prod_addon", "cus_1", "prod_addon", date(2026, 1, 1), Decimal("240.00")),
        ]

    def test_every_seven_days_rounds_to_cents(self) -> None:
        # $10.00 every 7 days, 3 seats: 10 × 3 × 365 / 7 = 1,564.2857… → 1,564.29.
        weekly = price(unit_amount=1000, interval="day", interval_count=7)
        assert arr_of(event("created", subscription(item("si_1", weekly, 3)))) == {
            ("cus_1", "prod_core"): Decimal("1564.29")
        }

    def test_licensed_item_without_quantity_counts_one(self) -> None:
        assert arr_of(event("created", subscription(item("si_1", price(), None)))) == {
            ("cus_1", "prod_core"): Decimal("588.00")
        }

    def test_a_deletion_is_zero_for_every_product(self) -> None:
        sub = subscription(
            item("si_1", price("a")), item("si_2", price("b")), status="canceled", ended_at=ts("2026-05-02")
        )
        events = stripe_ingest.revenue_events(parsed(event("deleted", sub)), currency="USD")
        assert {(e.product, e.effective_date, e.arr) for e in events} == {
            ("a", date(2026, 5, 2), Decimal(0)),
            ("b", date(2026, 5, 2), Decimal(0)),
        }

    def test_a_price_moved_to_another_product_zeroes_the_old_one(self) -> None:
        """The same item repriced into another product: the product the previous items name drops to 0."""
        before = {"items": {"data": [item("si_1", price("prod_basic", 2900))]}}
        body = event("updated", subscription(item("si_1", price("prod_pro", 9900))), previous=before)
        assert arr_of(body) == {("cus_1", "prod_pro"): Decimal("1188.00"), ("cus_1", "prod_basic"): Decimal(0)}

    def test_a_remapped_customer_gets_a_distinct_id(self) -> None:
        body = event(
            "updated",
            subscription(item("si_1", price()), metadata={"csroi_customer": "acme"}),
            previous={"metadata": {"csroi_customer": "old-acme"}},
        )
        events = stripe_ingest.revenue_events(parsed(body), currency="USD")
        assert [(e.customer, e.arr, e.id.endswith(":moved")) for e in events] == [
            ("acme", Decimal("588.00"), False),
            ("old-acme", Decimal(0), True),
        ]

    def test_metadata_unchanged_moves_nothing(self) -> None:
        body = event(
            "updated",
            subscription(item("si_1", price()), metadata={"csroi_customer": "acme"}),
            previous={"metadata": {"plan_note": "x"}},
        )
        assert list(arr_of(body)) == [("acme", "prod_core")]

    def test_a_period_start_of_zero_is_1970_not_missing(self) -> None:
        body = event(
            "created", subscription(item("si_1", price()), period_start="1970-01-01"), created=ts("2026-01-01")
        )
        [only] = stripe_ingest.revenue_events(parsed(body), currency="USD")
        assert only.effective_date == date(1970, 1, 1)

    def test_no_period_anywhere_falls_back_to_the_event_time(self) -> None:
        body = event("created", subscription(item("si_1", price()), period_start=None), created=ts("2026-07-04") + 50)
        [only] = stripe_ingest.revenue_events(parsed(body), currency="USD")
        assert only.effective_date == date(2026, 7, 4)

    def test_every_refusal_is_listed_at_once(self) -> None:
        sub = subscription(
            item("si_1", price(currency="gbp")),
            item("si_2", price(unit_amount=None)),
            item("si_3", {**price(), "recurring": None}),
        )
        with pytest.raises(InvalidInput) as caught:
            stripe_ingest.revenue_events(parsed(event("created", sub)), currency="USD")
        assert [(e["loc"][5], e["type"]) for e in caught.value.errors()] == [
            (0, "currency"),
            (1, "tiered_price"),
            (2, "missing"),
        ]


# --- properties -------------------------------------------------------------------------------------------------

PRODUCTS = ["prod_a", "prod_b", "prod_c"]
line_items = st.lists(
    st.tuples(
        st.sampled_from(PRODUCTS),
        st.integers(0, 10**6),  # unit amount, cents
        st.integers(0, 500),  # quantity
        st.sampled_from(list(PERIODS_PER_YEAR)),
        st.integers(1, 12),  # interval_count
    ),
    min_size=1,
    max_size=8,
)


def build(rows: list[tuple[str, int, int, str, int]], **extra: Any) -> dict[str, Any]:
    items = [
        item(f"si_{i}", price(p, amount, interval=interval, interval_count=k), quantity)
        for i, (p, amount, quantity, interval, k) in enumerate(rows)
    ]
    return subscription(*items, **extra)


def expected(rows: list[tuple[str, int, int, str, int]]) -> dict[str, Decimal]:
    """Σ per product of cents / 100 × quantity × periods / interval_count, each item rounded to cents."""
    totals = dict.fromkeys([p for p, *_ in rows], Decimal(0))
    for p, amount, quantity, interval, k in rows:
        exact = Decimal(amount) / 100 * quantity * PERIODS_PER_YEAR[interval] / k
        totals[p] += exact.quantize(Decimal("0.01"))
    return totals


class TestMappingProperties:
    @given(rows=line_items)
    def test_each_product_is_the_sum_of_its_items(self, rows: list[tuple[str, int, int, str, int]]) -> None:
        arr = arr_of(event("updated", build(rows)))
        assert arr == {("cus_1", p): total for p, total in expected(rows).items()}

    @given(rows=line_items, previous=st.lists(st.sampled_from([*PRODUCTS, "prod_old"]), max_size=4))
    def test_every_product_named_before_or_now_gets_an_event(
        self, rows: list[tuple[str, int, int, str, int]], previous: list[str]
    ) -> None:
        before = {"items": {"data": [item(f"si_p{i}", price(p)) for i, p in enumerate(previous)]}}
        arr = arr_of(event("updated", build(rows), previous=before))
        now = {p for p, *_ in rows}
        assert {p for _, p in arr} == now | set(previous)
        assert all(arr[("cus_1", p)] == 0 for p in set(previous) - now)

    @given(rows=line_items, status=st.sampled_from(["trialing", "incomplete", "unpaid", "paused", "canceled"]))
    def test_statuses_that_bill_nothing_and_deletions_are_all_zero(
        self, rows: list[tuple[str, int, int, str, int]], status: str
    ) -> None:
        assert set(arr_of(event("updated", build(rows, status=status))).values()) == {Decimal(0)}
        assert set(arr_of(event("deleted", build(rows))).values()) == {Decimal(0)}

    @given(rows=line_items)
    def test_the_same_event_gives_the_same_ids_and_content(self, rows: list[tuple[str, int, int, str, int]]) -> None:
        body = event("updated", build(rows))
        first = stripe_ingest.revenue_events(parsed(body), currency="USD")
        assert stripe_ingest.revenue_events(parsed(body), currency="USD") == first
        assert len({e.id for e in first}) == len(first)


# One subscription's updates over three billing periods; each update states seats per product (0 drops it).
updates = st.lists(
    st.tuples(st.integers(0, 2), st.fixed_dictionaries({p: st.integers(0, 9) for p in PRODUCTS})),
    min_size=1,
    max_size=7,
)
PERIOD_STARTS = ["2026-01-01", "2026-02-01", "2026-03-01"]
SEAT_CENTS = 1000  # $10 a seat a month: $120 a seat a year


class TestDeliveryOrder:
    """Stripe neither orders nor deduplicates deliveries; the ledger must end as if it had."""

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(changes=updates, seed=st.integers(0, 10**6))
    def test_any_delivery_order_with_retries_gives_each_periods_latest_state(
        self, session: Session, changes: list[tuple[int, dict[str, int]]], seed: int
    ) -> None:
        clear_ledger(session)
        events = []
        for n, (period, seats) in enumerate(changes):
            sub = subscription(
                *[item(f"si_{p}", price(p, SEAT_CENTS), seats[p]) for p in PRODUCTS], period_start=PERIOD_STARTS[period]
            )
            events.append(event("updated", sub, event_id=f"evt_{n}", created=ts("2026-01-01") + 60 * n))
        rng = random.Random(seed)
        deliveries = events + rng.choices(events, k=len(events))  # every event once, some again (retries)
        rng.shuffle(deliveries)
        for body in deliveries:
            stripe_ingest.ingest_stripe_event(session, parsed(body), currency="USD")
        latest = {period: seats for period, seats in changes}  # later updates overwrite earlier ones
        for period, seats in latest.items():
            day = date.fromisoformat(PERIOD_STARTS[period])
            cents = {p: s * SEAT_CENTS * 12 for p, s in seats.items() if s}
            assert service.arr_by_product(session, "cus_1", day) == cents
