"""The `arr_month` rollup: kept equal to `arr_change` summed, and retention from it equal to retention from
`arr_change` on random ledgers (whole-month periods read the rollup; everything else reads `arr_change`)."""

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.metrics.periods import month_start, split_periods
from app.metrics.retention import _aggregate, _aggregate_months, _whole_months, retention
from app.metrics.schemas import RetentionQuery
from app.models import ArrChange, ArrMonth, RevenueEvent
from tests.builders import make_customer, post_revenue, revenue

CUSTOMERS = (("a", "x"), ("b", "x"), ("c", "y"), ("d", None), ("e", "y"))

ledgers = st.lists(
    st.tuples(
        st.sampled_from([c for c, _ in CUSTOMERS]),
        st.sampled_from(["core", "addon", "extra"]),
        st.dates(date(2024, 11, 1), date(2025, 8, 31)),
        st.sampled_from([0, 0, 100, 300, 1000, 99.99, 250.5]),
    ),
    min_size=1,
    max_size=40,
)


def _load(session: Session, events: list[Any], batches: int) -> None:
    """Post the events in `batches` batches, so later batches rebuild only the customers they touch."""
    session.execute(delete(ArrMonth))
    session.execute(delete(ArrChange))
    session.execute(delete(RevenueEvent))
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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=ledgers, batches=st.integers(1, 4), first=st.dates(date(2024, 10, 1), date(2025, 9, 30)))
def test_rollup_rows_equal_arr_change_rows(session: Session, events: list[Any], batches: int, first: date) -> None:
    """The rollup equals `arr_change` summed per month, and retention read from either gives the same sums."""
    for customer, segment in CUSTOMERS:
        make_customer(session, id=customer, segment=segment)
    _load(session, events, batches)
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


def test_only_whole_months_read_the_rollup(session: Session) -> None:
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
