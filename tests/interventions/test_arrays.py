"""The array forms behind ROI's speed (SPEC §9 "Speed") agree with their rules written as plain loops.

Matched pools, the ledger's day grids, interval marks and snapshot carry-forward are computed on customers × days
arrays. Each test here draws a random small book and checks the arrays against the SPEC §9 "Exact rules" (or the
definition the array replaces) evaluated one customer and one day at a time. No database: pure functions.
"""

from collections import defaultdict
from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.health import service as health_service
from app.interventions import incremental
from app.interventions.impact import Window
from app.ledger.service import LedgerSeries

DAY0 = date(2026, 1, 1)
SPAN = 1 << 22  # the ledger's sort key: customer row * SPAN + day ordinal


def series(changes: list[tuple[int, int, int, bool]], customers: int) -> LedgerSeries:
    """A ledger's arrays from (customer row, day offset, cents, is expansion) changes, summed per customer and day."""
    per_day: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for row, offset, cents, expansion in changes:
        per_day[(row, (DAY0 + timedelta(days=offset)).toordinal())][0] += cents
        per_day[(row, (DAY0 + timedelta(days=offset)).toordinal())][1] += cents if expansion else 0
    keys, arr, grown = [], [], []
    running: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for (row, day), (cents, expansion) in sorted(per_day.items()):
        running[row][0] += cents
        running[row][1] += expansion
        keys.append(row * SPAN + day)
        arr.append(running[row][0])
        grown.append(running[row][1])
    as_array = [np.array(values, dtype=np.int64) for values in (keys, arr, grown)]
    return LedgerSeries({f"c{n:02d}": n for n in range(customers)}, *as_array)


def arr_on(changes: list[tuple[int, int, int, bool]], row: int, day: int) -> int:
    """ARR of a customer on a day ordinal by the definition: the sum of its changes dated on or before it."""
    return sum(c for r, o, c, _ in changes if r == row and (DAY0 + timedelta(days=o)).toordinal() <= day)


def grown_by(changes: list[tuple[int, int, int, bool]], row: int, day: int) -> int:
    """Expansion of a customer up to and including a day ordinal."""
    return sum(c for r, o, c, x in changes if x and r == row and (DAY0 + timedelta(days=o)).toordinal() <= day)


changes_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 120), st.integers(-50_000, 100_000), st.booleans()), max_size=25
)


@settings(max_examples=150, deadline=None)
@given(changes=changes_strategy, offsets=st.lists(st.integers(-5, 130), min_size=1, max_size=8))
def test_ledger_grids_are_arr_on_every_customer_and_day(
    changes: list[tuple[int, int, int, bool]], offsets: list[int]
) -> None:
    ledger = series(changes, 6)
    days = np.array(sorted((DAY0 + timedelta(days=o)).toordinal() for o in offsets), dtype=np.int64)
    arr, grown = ledger.arr_grid(days, 6), ledger.expansion_grid(days, 6)
    for j, day in enumerate(days):
        for row in range(6):
            assert arr[j, row] == arr_on(changes, row, int(day))
            assert grown[j, row] == grown_by(changes, row, int(day))


@settings(max_examples=150, deadline=None)
@given(
    intervals=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 60), st.integers(-5, 40)), max_size=12),
    offsets=st.lists(st.integers(0, 80), min_size=1, max_size=10),
)
def test_marks_are_interval_membership(intervals: list[tuple[int, int, int]], offsets: list[int]) -> None:
    rows = np.array([r for r, _, _ in intervals], dtype=np.int64)
    first = np.array([f for _, f, _ in intervals], dtype=np.int64)
    last = np.array([f + extra for _, f, extra in intervals], dtype=np.int64)  # extra < 0: an empty interval
    days = np.array(sorted(offsets), dtype=np.int64)
    marked = incremental._marks(rows, first, last, days, 5)
    for j, day in enumerate(days):
        for row in range(5):
            inside = any(r == row and f <= day <= f + e for r, f, e in intervals)
            assert marked[j, row] == inside


@settings(max_examples=150, deadline=None)
@given(
    snapshots=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 5), st.one_of(st.none(), st.floats(0, 100))), max_size=30
    ),
    offsets=st.lists(st.integers(0, 50), min_size=1, max_size=8, unique=True),
)
def test_carry_forward_takes_the_latest_snapshot_of_the_last_seven_days(
    snapshots: list[tuple[int, int, float | None]], offsets: list[int]
) -> None:
    taken: dict[tuple[int, int], float | None] = {}
    for offset, row, score in snapshots:
        taken[(offset, row)] = score  # one snapshot per (day, customer): the last drawn wins
    by_day: dict[date, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for (offset, row), score in sorted(taken.items()):
        by_day[DAY0 + timedelta(days=offset)][0].append(row)
        by_day[DAY0 + timedelta(days=offset)][1].append(np.nan if score is None else score)
    columns = {day: (np.array(rows, dtype=np.int64), np.array(values)) for day, (rows, values) in by_day.items()}
    wanted = [DAY0 + timedelta(days=o) for o in sorted(offsets)]
    scores = np.full((len(wanted), 6), np.nan)
    covered = np.zeros((len(wanted), 6), dtype=bool)
    health_service.carry_forward(columns, wanted, scores, covered)
    for col, day in enumerate(wanted):
        for row in range(6):
            # The latest snapshot of the customer taken on the day or in the CARRY_DAYS before it.
            candidates = [o for (o, r) in taken if r == row and 0 <= (day - (DAY0 + timedelta(days=o))).days <= 6]
            assert covered[col, row] == bool(candidates)
            if candidates:
                expected = taken[(max(candidates), row)]
                assert (np.isnan(scores[col, row]) and expected is None) or scores[col, row] == expected


# --- Matched pools: the arrays against SPEC §9's "Exact rules" -------------------------------------------------

TIERS = ["high_touch", None]
BANDS = ["red", "yellow", "green"]


def reference_pools(
    waiting: list[incremental.Unit],
    book: incremental._Book,
    health: health_service.BookHealth,
    changes: list[tuple[int, int, int, bool]],
    today: date,
) -> dict[tuple[object, ...], tuple[list[int], list[int], list[int], list[int]]]:
    """Every pool by the rule, one customer and one day at a time: (customers, Σ a, Σ a of churned, Σ expansion)."""
    tiers = len(book.tier_codes)
    customers = len(book.tiers)
    members: dict[tuple[object, ...], list[incremental.Unit]] = defaultdict(list)
    for unit in waiting:
        first = unit.first
        tier = int(book.tiers[int(first.customer_id[1:])])
        members[("matched", first.at_risk, first.band, tier, first.days, f"{first.started_on:%Y-%m}")].append(unit)
    pools = {}
    for key, units in members.items():
        _, at_risk, band, tier, length, _ = key
        assert isinstance(length, int)
        assert isinstance(tier, int)
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        for day in sorted({u.first.started_on for u in units}):
            s = day.toordinal()
            for c in range(customers):
                code = int(health.band(day)[c])
                soon = any(
                    rc == c and s <= due <= s + 90 and closed >= s
                    for rc, due, closed in zip(
                        book.renewal_customer, book.renewal_due, book.renewal_closed, strict=True
                    )
                )
                risky = code == health_service.RED or (code == health_service.YELLOW and soon)
                busy = any(
                    bc == c and bs < s + length and be > s
                    for bc, bs, be in zip(book.busy_customer, book.busy_start, book.busy_end, strict=True)
                )
                stratum = code * tiers + int(book.tiers[c])
                wanted = health_service.BAND_CODES.get(str(band), 0) * tiers + tier
                if code == health_service.NO_BAND or risky != at_risk or busy or stratum != wanted:
                    continue
                a = arr_on(changes, c, s - 1)
                if a <= 0:
                    continue
                last = min(s + length - 1, today.toordinal())
                sums[c][0] += a
                sums[c][1] += a if arr_on(changes, c, last) <= 0 else 0
                sums[c][2] += grown_by(changes, c, last) - grown_by(changes, c, s - 1) if last >= s else 0
        ids = sorted(sums)
        pools[key] = (ids, [sums[c][0] for c in ids], [sums[c][1] for c in ids], [sums[c][2] for c in ids])
    return pools


@settings(max_examples=100, deadline=None)
@given(
    tiers=st.lists(st.sampled_from(TIERS), min_size=16, max_size=16),
    changes=st.lists(
        st.tuples(st.integers(0, 15), st.integers(1, 120), st.integers(-80_000, 120_000), st.booleans()), max_size=30
    ),
    scores=st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=16 * 6, max_size=16 * 6),
    busy=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 100), st.integers(1, 90)), max_size=8),
    renewals=st.lists(
        st.tuples(st.integers(0, 15), st.integers(0, 150), st.one_of(st.none(), st.integers(0, 150))), max_size=8
    ),
    treated=st.lists(
        st.tuples(
            st.integers(0, 7), st.integers(0, 5), st.booleans(), st.sampled_from(BANDS), st.sampled_from([30, 90])
        ),
        min_size=1,
        max_size=10,
    ),
    today_offset=st.integers(20, 200),
)
def test_matched_pools_are_the_exact_rules(  # noqa: PLR0917 - one drawn book
    tiers: list[str | None],
    changes: list[tuple[int, int, int, bool]],
    scores: list[float | None],
    busy: list[tuple[int, int, int]],
    renewals: list[tuple[int, int, int | None]],
    treated: list[tuple[int, int, bool, str, int]],
    today_offset: int,
) -> None:
    """Six start days (every 20 days from 1 February: two calendar months have two each), 16 customers paying 10,000
    from 1 January, then the drawn changes."""
    changes = [(c, 0, 1_000_000, False) for c in range(16)] + changes
    start_days = [date(2026, 2, 1) + timedelta(days=20 * n) for n in range(6)]
    codes: dict[str | None, int] = {}
    tier_codes = np.array([codes.setdefault(t, len(codes)) for t in tiers], dtype=np.int64)
    ordinal = (DAY0 + timedelta(days=0)).toordinal()
    book = incremental._Book(
        tier_codes,
        codes,
        np.array([c for c, _, _ in busy], dtype=np.int64),
        np.array([ordinal + s for _, s, _ in busy], dtype=np.int64),
        np.array([ordinal + s + d for _, s, d in busy], dtype=np.int64),
        np.array([c for c, _, _ in renewals], dtype=np.int64),
        np.array([ordinal + due for _, due, _ in renewals], dtype=np.int64),
        np.array([incremental.BIG if closed is None else ordinal + closed for _, _, closed in renewals], np.int64),
    )
    matrix = np.array([np.nan if s is None else s for s in scores]).reshape(6, 16)
    bands = health_service.band_codes(matrix, red_below=40, green_from=70)
    health = health_service.BookHealth(
        [f"c{n:02d}" for n in range(16)],
        {f"c{n:02d}": n for n in range(16)},
        {day: (matrix[n], bands[n]) for n, day in enumerate(start_days)},
    )
    today = DAY0 + timedelta(days=today_offset)
    waiting = [
        incremental.Unit(
            [Window(f"iv{n}", f"c{c:02d}", start_days[d], start_days[d] + timedelta(days=length), risk, band=band)]
        )
        for n, (c, d, risk, band, length) in enumerate(treated)
    ]
    found = incremental.Incremental()
    rows = {f"c{n:02d}": n for n in range(16)}
    ledger = series(changes, 16)
    incremental._match(waiting, book=book, health=health, ledger=ledger, rows=rows, found=found, today=today,
                       min_controls=1)  # fmt: skip
    expected = {key: pool for key, pool in reference_pools(waiting, book, health, changes, today).items() if pool[0]}
    assert set(found.pools) == set(expected)
    for key, pool in found.pools.items():
        got = (list(pool.customers), list(pool.start_cents), list(pool.churned_cents), list(pool.expansion_cents))
        assert got == expected[key]
    assert all(u.pool in expected and u.method == "matched" for u in waiting if u.pool is not None)
