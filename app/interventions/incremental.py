"""Incremental ROI (SPEC §9): what the interventions earned against what the same customers would have done anyway.

Each *treated unit* is an at-risk episode (SPEC §5: at-risk interventions of a customer that start within the first
one's window) or a non-at-risk intervention on its own. Its counterfactual comes from the first of:

1. `holdout`: its first intervention belongs to an experiment (SPEC §9): the experiment's holdout arm, each
   holdout customer's window of the unit's length starting on its enrollment day;
2. `matched`: a *pool* of control windows. Units of one stratum (band at start × tier), one window length and one
   at-risk flag whose starts fall in one calendar month share a pool: for each distinct start day s, every other
   customer that on s pays, is at risk (or not) by SPEC §5's rule, is in the stratum, and has no intervention that
   is not cancelled whose window overlaps [s, s + L). Used with at least `min_controls` distinct customers;
3. `model`: the churn probability at the start (fitted model, else the band's default) scaled to the window,
   1 − (1 − p90)^(L/90), and no expansion.

`p` (churned share of starting ARR) and `e` (expansion per starting ARR) are ARR-weighted over the pool's windows.
Per unit: incremental retained = a × (p − c) (at-risk units only), expected expansion = a × e, each to the cent,
half to even; the retained figure is capped per rescue year like the naive one (negatives uncut), then both are
split among the unit's interventions as SPEC §5 splits them.

Everything is read in a fixed number of statements (interventions, customers, renewals, the ledger, snapshots,
experiments) and computed on arrays: no statement per unit, day or customer.
"""

import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import formulas, risk
from app.db import in_values, read_cache
from app.health import service as health_service
from app.interventions.impact import Attribution, Window, allocate, cap_credits, rescue_years, risk_episodes
from app.ledger import service as ledger_service
from app.models import Customer, Experiment, ExperimentAssignment, Intervention, Renewal
from app.money import from_cents, to_cents
from app.types import RoiMethod

RESAMPLES = 1_000
MIN_EPISODES = 10  # fewer treated units than this: no interval (SPEC §9)
EXACT_POOL = 100  # control pools up to this many customers are resampled exactly; larger ones by their normal limit
BIG = 1 << 40  # an ordinal later than any day: a window without an end, a renewal still open


@dataclass
class Unit:
    """A treated episode (or non-at-risk intervention): its windows, ARR at start and what happened."""

    windows: list[Window]
    arr_cents: int = 0  # a: ARR on the day before the first start
    churned: bool = False  # c: ARR 0 on the window's last day (or today while open)
    expansion_cents: int = 0  # the expansion credited to its windows (SPEC §5)
    method: RoiMethod = "model"
    pool: tuple[object, ...] | None = None
    p: Decimal = Decimal(0)  # control churn rate
    e: Decimal = Decimal(0)  # control expansion rate

    @property
    def first(self) -> Window:
        return self.windows[0]

    @property
    def at_risk(self) -> bool:
        return self.first.at_risk


@dataclass
class Pool:
    """A pool's control windows, summed per control customer (the bootstrap resamples customers, whose windows are
    not independent of each other)."""

    method: RoiMethod
    customers: np.ndarray  # customer rows
    start_cents: np.ndarray  # Σ ARR at start of each customer's windows
    churned_cents: np.ndarray  # Σ ARR at start of its windows that churned
    expansion_cents: np.ndarray  # Σ expansion inside its windows

    @property
    def p(self) -> Decimal:
        return _rate(int(self.churned_cents.sum()), int(self.start_cents.sum()))

    @property
    def e(self) -> Decimal:
        return _rate(int(self.expansion_cents.sum()), int(self.start_cents.sum()))


def _rate(part: int, whole: int) -> Decimal:
    return Decimal(part) / Decimal(whole) if whole else Decimal(0)


@dataclass(frozen=True)
class Share:
    """One intervention's incremental figures, in cents, and where its counterfactual came from."""

    retained_cents: int
    expanded_cents: int  # credited − its part of a × e
    credited_cents: int  # the expansion credited to it (SPEC §5)
    method: RoiMethod
    unit: str  # the unit's first intervention id


@dataclass
class Incremental:
    """Every intervention's share, and the units and pools behind them (for row totals and intervals)."""

    shares: dict[str, Share] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    pools: dict[tuple[object, ...], Pool] = field(default_factory=dict)
    customers: list[str] = field(default_factory=list)
    draws: dict[tuple[tuple[object, ...], int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True)
class Book:
    """Every customer (in id order) and the ledger of all of them as arrays: read once per request."""

    customers: list[str]
    ledger: ledger_service.LedgerSeries


def read_book(session: Session) -> Book:
    """The customers and their ledger, two statements, once per session until it writes (`read_cache`)."""
    cache = read_cache(session, "interventions.book")
    if "book" not in cache:
        customers = health_service.customer_ids(session)
        cache["book"] = Book(customers, ledger_service.ledger_series(session, customers))
    book: Book = cache["book"]
    return book


def measure(
    session: Session,
    windows: Sequence[Window],
    attributions: Mapping[str, Attribution],
    today: date,
    *,
    min_controls: int,
    churn_defaults: Mapping[str, float],
    book: Book | None = None,
    shown: Collection[str] | None = None,
) -> Incremental:
    """Incremental shares of every window (the caller's windows: all started interventions of its customers).

    `shown`: the interventions whose figures the caller reads (None: every one). Only their units, and the episodes
    their cap depends on (the customer's other episodes of the same rescue year), are pooled and kept in the
    answer; the caller's other units still add their start days to the pools, as every unit of the book does."""
    found = Incremental()
    if not windows:
        return found
    units = _units(windows)
    book = book or read_book(session)
    found.customers = book.customers
    rows = book.ledger.index  # each customer's row: its position in `book.customers`
    ledger = book.ledger
    _outcomes(units, ledger, rows, attributions, today)
    # The other customers' units: a pool holds the control windows of every treated unit of its key in the book
    # (SPEC §9), so theirs join the pools of the caller's units, whichever customers the caller reads.
    eligibility = _book(session, found.customers, rows)
    mine = {w.customer_id for w in windows}
    others = _units([w for w in eligibility.windows if w.customer_id not in mine])
    _holdout(session, units + others, ledger=ledger, rows=rows, found=found, today=today)
    needed = units if shown is None else _needed(units, set(shown))
    kept = {id(u) for u in needed}
    peers = others + [u for u in units if id(u) not in kept]
    _matched(session, needed, peers, ledger=ledger, rows=rows, found=found, today=today, min_controls=min_controls)
    _model(session, needed, churn_defaults)
    found.units = {u.first.id: u for u in needed}
    # The units left out are in no rescue year of a needed one: their (unpooled) figures move no kept share.
    shares = _shares(units, attributions)
    found.shares = {i: share for i, share in shares.items() if share.unit in found.units}
    return found


def _needed(units: list[Unit], shown: set[str]) -> list[Unit]:
    """The units holding a shown intervention, and every episode of a rescue year holding a shown one (the cap of
    a year's episodes takes them in start order)."""
    by_customer: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        by_customer[unit.first.customer_id].append(unit)
    needed: list[Unit] = []
    for customer_units in by_customer.values():
        chosen = {id(u) for u in customer_units if any(w.id in shown for w in u.windows)}
        if not chosen:
            continue
        episodes = [u for u in customer_units if u.at_risk]  # in start order, as `_shares` caps them
        for year in rescue_years([u.windows for u in episodes]):
            if any(id(episodes[i]) in chosen for i in year):
                chosen.update(id(episodes[i]) for i in year)
        needed.extend(u for u in customer_units if id(u) in chosen)
    return needed


def _units(windows: Sequence[Window]) -> list[Unit]:
    by_customer: dict[str, list[Window]] = defaultdict(list)
    for window in windows:
        by_customer[window.customer_id].append(window)
    units: list[Unit] = []
    for customer_windows in by_customer.values():
        if len(customer_windows) == 1:  # most customers: one window, one unit (what the rules below give it)
            units.append(Unit(customer_windows))
            continue
        units.extend(Unit(episode) for episode in risk_episodes(customer_windows))
        units.extend(Unit([w]) for w in sorted(customer_windows, key=lambda w: (w.started_on, w.id)) if not w.at_risk)
    return units


def _last_seen(start: np.ndarray, days: np.ndarray, today: date) -> np.ndarray:
    """Ordinal of each window's last day, or today while it is open."""
    last: np.ndarray = np.minimum(start + days - 1, today.toordinal())
    return last


def _outcomes(
    units: list[Unit],
    ledger: ledger_service.LedgerSeries,
    rows: Mapping[str, int],
    attributions: Mapping[str, Attribution],
    today: date,
) -> None:
    """a, c and the credited expansion of every unit, from the ledger's arrays."""
    if not units:
        return
    customer = np.array([rows.get(u.first.customer_id, -1) for u in units], dtype=np.int64)
    start = np.array([u.first.started_on.toordinal() for u in units], dtype=np.int64)
    days = np.array([u.first.days for u in units], dtype=np.int64)
    at_start = ledger.arr_on(customer, start - 1)
    at_end = ledger.arr_on(customer, _last_seen(start, days, today))
    for n, unit in enumerate(units):
        unit.arr_cents, unit.churned = int(at_start[n]), bool(at_end[n] <= 0)
        unit.expansion_cents = sum(attributions[w.id].expanded_cents for w in unit.windows if w.id in attributions)


def _control_windows(
    ledger: ledger_service.LedgerSeries, customer: np.ndarray, start: np.ndarray, days: np.ndarray, today: date
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ARR at start, whether churned, and expansion inside, of control windows (customer rows, start ordinals)."""
    last = _last_seen(start, days, today)
    a = ledger.arr_on(customer, start - 1)
    churned = ledger.arr_on(customer, last) <= 0
    expanded = ledger.expansion_between(customer, start, last)
    return a, churned, expanded


def _pool(method: RoiMethod, customer: np.ndarray, a: np.ndarray, churned: np.ndarray, x: np.ndarray) -> Pool:
    """Sum control windows per customer (only windows with ARR at start: the rest weigh nothing)."""
    paying = a > 0
    customer, a, churned, x = customer[paying], a[paying], churned[paying], x[paying]
    ids, inverse = np.unique(customer, return_inverse=True)
    return Pool(
        method,
        ids,
        np.bincount(inverse, weights=a, minlength=len(ids)).astype(np.int64),
        np.bincount(inverse, weights=a * churned, minlength=len(ids)).astype(np.int64),
        np.bincount(inverse, weights=x, minlength=len(ids)).astype(np.int64),
    )


def _holdout(
    session: Session,
    units: list[Unit],
    *,
    ledger: ledger_service.LedgerSeries,
    rows: Mapping[str, int],
    found: Incremental,
    today: date,
) -> None:
    """Units whose first intervention belongs to an experiment: the holdout arm is their control (SPEC §9)."""
    customers = sorted({u.first.customer_id for u in units})
    if not customers:
        return
    e, a = Experiment, ExperimentAssignment
    enrolled = session.execute(
        select(a.customer_id, a.enrolled_on, e.id, e.play_type, e.play_framework, e.ends_on, e.stopped_on)
        .join(e, e.id == a.experiment_id)
        .where(in_values(session, a.customer_id, customers))
    ).all()
    if not enrolled:
        return
    belongs: dict[str, list[tuple[date, str, str, str, date]]] = defaultdict(list)
    for customer_id, enrolled_on, experiment_id, play_type, play_framework, ends_on, stopped_on in enrolled:
        last = min(ends_on, stopped_on - timedelta(days=1)) if stopped_on else ends_on
        belongs[customer_id].append((enrolled_on, experiment_id, play_type, play_framework, last))
    chosen: dict[int, str] = {}
    for n, unit in enumerate(units):
        first = unit.first
        for enrolled_on, experiment_id, play_type, play_framework, last in sorted(belongs[first.customer_id]):
            if (first.type, first.framework) == (play_type, play_framework) and enrolled_on <= first.started_on <= last:
                chosen[n] = experiment_id
                break
    if not chosen:
        return
    holdouts = session.execute(
        select(a.experiment_id, a.customer_id, a.enrolled_on).where(
            a.experiment_id.in_(sorted(set(chosen.values()))), a.arm == "holdout"
        )
    ).all()
    arm: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for experiment_id, customer_id, enrolled_on in holdouts:
        arm[experiment_id].append((customer_id, enrolled_on))
    for n, experiment_id in chosen.items():
        unit = units[n]
        key: tuple[object, ...] = ("holdout", experiment_id, unit.first.days)
        if key not in found.pools:
            members = [(rows[c], d.toordinal()) for c, d in arm[experiment_id] if c in rows]
            customer = np.array([m[0] for m in members], dtype=np.int64)
            start = np.array([m[1] for m in members], dtype=np.int64)
            days = np.full(len(members), unit.first.days, dtype=np.int64)
            found.pools[key] = _pool("holdout", customer, *_control_windows(ledger, customer, start, days, today))
        pool = found.pools[key]
        if len(pool.customers):
            unit.method, unit.pool, unit.p, unit.e = "holdout", key, pool.p, pool.e


@dataclass(frozen=True)
class _Book:
    """What eligibility reads on any day, as arrays over every customer."""

    tiers: np.ndarray  # tier code per customer row
    tier_codes: dict[str | None, int]
    busy_customer: np.ndarray  # per window of an intervention that is not cancelled: customer row
    busy_start: np.ndarray  # its start ordinal
    busy_end: np.ndarray  # its end ordinal (first day after)
    renewal_customer: np.ndarray
    renewal_due: np.ndarray
    renewal_closed: np.ndarray  # ordinal of the day it closed; BIG while open
    windows: Sequence[Window] = ()  # every started intervention's window that is not cancelled (`started_windows`)


def _book(session: Session, customers: list[str], rows: Mapping[str, int]) -> _Book:
    """Tiers, intervention windows and renewals of the book, three statements once per session until it writes."""
    cache = read_cache(session, "interventions.eligibility")
    if "book" not in cache:
        cache["book"] = _read_eligibility(session, customers, rows)
    book: _Book = cache["book"]
    return book


def started_windows(session: Session, customer_ids: set[str] | None) -> list[Window]:
    """The window of every started, not cancelled intervention of these customers (None: of every customer), read as
    plain columns (no ORM objects: a book's thousands of windows load in one light statement)."""
    i = Intervention
    stmt = select(
        i.id,
        i.customer_id,
        i.started_on,
        i.window_end,
        i.at_risk,
        i.type,
        i.framework,
        i.context["band"].as_string(),
        i.context["health_score"].as_float(),
    ).where(i.started_on.is_not(None), i.window_end.is_not(None), i.status != "cancelled")
    if customer_ids is not None:
        stmt = stmt.where(in_values(session, i.customer_id, customer_ids))
    return [
        Window(iid, cid, start, end, bool(risk), type=kind, framework=framework, band=band, score=score)
        for iid, cid, start, end, risk, kind, framework, band, score in session.execute(stmt)
    ]


def book_windows(session: Session, customer_ids: set[str]) -> list[Window]:
    """`started_windows` of these customers, taken from the book's (read once per session until it writes)."""
    book = read_book(session)
    eligibility = _book(session, book.customers, book.ledger.index)
    return [w for w in eligibility.windows if w.customer_id in customer_ids]


def _read_eligibility(session: Session, customers: list[str], rows: Mapping[str, int]) -> _Book:
    tier_of = {cid: tier for cid, tier in session.execute(select(Customer.id, Customer.tier))}
    codes: dict[str | None, int] = {}
    tiers = np.array([codes.setdefault(tier_of.get(c), len(codes)) for c in customers], dtype=np.int64)
    windows = [w for w in started_windows(session, None) if w.customer_id in rows]
    busy = [(rows[w.customer_id], w.started_on.toordinal(), w.window_end.toordinal()) for w in windows]
    renewals = [
        (rows[c], due.toordinal(), BIG if status == "open" or closed is None else closed.toordinal())
        for c, due, status, closed in session.execute(
            select(Renewal.customer_id, Renewal.due_date, Renewal.status, Renewal.closed_on)
        )
        if c in rows
    ]

    def columns(found: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not found:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        table = np.array(found, dtype=np.int64)
        return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()

    return _Book(tiers, codes, *columns(busy), *columns(renewals), windows)


def _marks(rows: np.ndarray, first: np.ndarray, last: np.ndarray, days: np.ndarray, customers: int) -> np.ndarray:
    """len(days) × customers booleans: whether some interval [first[i], last[i]] of customer rows[i] (ordinals)
    contains the day (`days` ascending). A difference array along the days, one cumulative sum: no loop."""
    lo = np.searchsorted(days, first, side="left")
    hi = np.searchsorted(days, last, side="right")
    kept = lo < hi
    size = (len(days) + 1) * customers
    opened = np.bincount(lo[kept] * customers + rows[kept], minlength=size)
    closed = np.bincount(hi[kept] * customers + rows[kept], minlength=size)
    diff = (opened - closed).reshape(len(days) + 1, customers)[:-1]
    marked: np.ndarray = np.cumsum(diff, axis=0) > 0
    return marked


@dataclass(frozen=True)
class _Grids:
    """The ledger on every day the matched pools read (each start's day before and each window's last day), as days ×
    customers arrays computed once per request and shared by every month and window length."""

    days: np.ndarray  # ordinals, ascending, distinct
    arr: np.ndarray  # cents of ARR of every customer on each day
    expanded: np.ndarray  # cents of expansion up to and including each day

    def rows(self, ordinals: np.ndarray) -> np.ndarray:
        """The grid rows of these days (each one of `days`)."""
        found: np.ndarray = np.searchsorted(self.days, ordinals)
        return found


def _grids(ledger: ledger_service.LedgerSeries, ordinals: set[int], customers: int) -> _Grids:
    days = np.array(sorted(ordinals), dtype=np.int64)
    return _Grids(days, ledger.arr_grid(days, customers), ledger.expansion_grid(days, customers))


@dataclass(frozen=True)
class _Month:
    """What eligibility needs on the start days of one calendar month, as days × customers arrays (rows: the month's
    start days): a few megabytes, whatever the number of pools."""

    days: np.ndarray  # the start days' ordinals, ascending
    # (stratum × 2 + at risk) of a customer with a band that day, else -1; stratum = band code × tiers + tier, at
    # risk by SPEC §5's rule: red, or yellow with a renewal due within 90 days still open that day.
    labels: np.ndarray
    before: np.ndarray  # per start day, the grid row of the day before (a control window's ARR at start)
    paying: np.ndarray  # ARR the day before > 0 (a window without ARR at start weighs nothing)


def _month(book: _Book, health: health_service.BookHealth, grids: _Grids, days: list[date]) -> _Month:
    ordinals = np.array([d.toordinal() for d in days], dtype=np.int64)
    codes = np.stack([health.band(d) for d in days]).astype(np.int64)
    customers = codes.shape[1]
    soon = _marks(
        book.renewal_customer,
        book.renewal_due - risk.RENEWAL_HORIZON_DAYS,
        np.minimum(book.renewal_due, book.renewal_closed),
        ordinals,
        customers,
    )
    risky = risk.at_risk_array(codes, soon, red=health_service.RED, yellow=health_service.YELLOW)
    strata = codes * len(book.tier_codes) + book.tiers
    labels = np.where(codes != health_service.NO_BAND, strata * 2 + risky, -1)
    before = grids.rows(ordinals - 1)
    return _Month(ordinals, labels, before, grids.arr[before] > 0)


def _matched(
    session: Session,
    units: list[Unit],
    peers: list[Unit],
    *,
    ledger: ledger_service.LedgerSeries,
    rows: Mapping[str, int],
    found: Incremental,
    today: date,
    min_controls: int,
) -> None:
    """Pools of matched control windows for the units without a holdout (SPEC §9 "Exact rules"), a calendar month
    and a window length at a time: all of them are masks over the month's start days × customers arrays. `peers`:
    the book's other units, whose start days join the pools of `units` (they make no pool of their own)."""
    waiting = [u for u in units if u.pool is None and u.first.band is not None]
    if not waiting:
        return
    book = _book(session, found.customers, rows)
    months = {u.first.started_on.replace(day=1) for u in waiting}  # a cheap first cut before the keys
    keys = {_pool_key(u, book, rows) for u in waiting}
    joining = [
        (u, key)
        for u in peers
        if u.pool is None
        and u.first.band is not None
        and u.first.started_on.replace(day=1) in months
        and (key := _pool_key(u, book, rows)) in keys
    ]
    health = health_service.book_health(session, {u.first.started_on for u in waiting + [u for u, _ in joining]})
    _match(
        waiting,
        book=book,
        health=health,
        ledger=ledger,
        rows=rows,
        found=found,
        today=today,
        min_controls=min_controls,
        peers=joining,
    )


def _pool_key(unit: Unit, book: _Book, rows: Mapping[str, int]) -> tuple[object, ...]:
    """The matched pool a unit belongs to: ("matched", at risk, band, tier code, window length, "YYYY-MM")."""
    first = unit.first
    stratum = int(book.tiers[rows[first.customer_id]])
    start = first.started_on  # "YYYY-MM" without strftime (the key's repr seeds its bootstrap draws: same text)
    return ("matched", first.at_risk, first.band, stratum, first.days, f"{start.year:04d}-{start.month:02d}")


def _match(
    waiting: list[Unit],
    *,
    book: _Book,
    health: health_service.BookHealth,
    ledger: ledger_service.LedgerSeries,
    rows: Mapping[str, int],
    found: Incremental,
    today: date,
    min_controls: int,
    peers: Sequence[tuple[Unit, tuple[object, ...]]] = (),
) -> None:
    """`_matched` on what it read: pool the waiting units and set each one's method, pool, p and e (`peers`: units
    whose start days join the pools of the waiting ones' keys, each with its pool key)."""
    pools: dict[tuple[object, ...], list[Unit]] = defaultdict(list)
    for unit in waiting:
        pools[_pool_key(unit, book, rows)].append(unit)
    for unit, key in peers:
        if key in pools:  # `_matched` passes only these
            pools[key].append(unit)
    by_month: dict[object, list[tuple[object, ...]]] = defaultdict(list)
    for key in pools:
        by_month[key[5]].append(key)
    # Every day the pools read the ledger on: each start's day before, each window's last day (today while open).
    windows = {(u.first.started_on.toordinal(), u.first.days) for units in pools.values() for u in units}
    read_on = {s - 1 for s, _ in windows} | {min(s + length - 1, today.toordinal()) for s, length in windows}
    grids = _grids(ledger, read_on, len(book.tiers))
    for keys in by_month.values():
        days = sorted({u.first.started_on for key in keys for u in pools[key]})
        month = _month(book, health, grids, days)
        row = {day: n for n, day in enumerate(days)}
        for length in sorted({_key_int(key, LENGTH) for key in keys}):
            of_length = [key for key in keys if _key_int(key, LENGTH) == length]
            starts = [{row[u.first.started_on] for u in pools[key]} for key in of_length]
            found_pools = _month_pools(book, grids, month, of_length, starts, length=length, today=today)
            for key, pool in zip(of_length, found_pools, strict=True):
                if len(pool.customers) >= min_controls:
                    found.pools[key] = pool
                    for unit in pools[key]:
                        unit.method, unit.pool, unit.p, unit.e = "matched", key, pool.p, pool.e


LENGTH, TIER = 4, 3  # positions in a matched pool's key: ("matched", at_risk, band, tier, length, month)


def _key_int(key: tuple[object, ...], at: int) -> int:
    """The window length (`LENGTH`) or the tier code (`TIER`) of a matched pool's key."""
    value = key[at]
    assert isinstance(value, int)  # noqa: S101 - the key's shape, for the type checker
    return value


def _month_pools(
    book: _Book,
    grids: _Grids,
    month: _Month,
    keys: list[tuple[object, ...]],
    starts: list[set[int]],
    *,
    length: int,
    today: date,
) -> list[Pool]:
    """The pools of `keys` (one month, one window length; `starts`: each key's start days, rows of `month`).

    A control window is a (start day, customer) cell; its label is its stratum and at-risk flag when the customer is
    eligible that day (has a band, no intervention window overlapping), and it belongs to the key with that label
    when the key has that start day. Per key and customer, the windows' sums are then one `bincount` (exact: sums
    of cents stay far below 2^53)."""
    used = np.array(sorted(set().union(*starts)), dtype=np.int64)  # the month's days some key starts on
    customers = month.labels.shape[1]
    busy = _busy(book, month.days[used], length=length, customers=customers)
    tiers = len(book.tier_codes)
    # used day × label → key index (-1: none); the last column, -1, is where an ineligible cell's label (-1) lands.
    owner = np.full((len(used), (health_service.GREEN + 1) * tiers * 2 + 1), -1, dtype=np.int64)
    for n, (key, days) in enumerate(zip(keys, starts, strict=True)):
        code = health_service.BAND_CODES.get(str(key[2]), health_service.NO_BAND)
        if code != health_service.NO_BAND:  # no band code: no customer matches (an empty pool)
            owner[np.searchsorted(used, sorted(days)), (code * tiers + _key_int(key, TIER)) * 2 + bool(key[1])] = n
    cell_key = owner[np.arange(len(used))[:, None], month.labels[used]]
    day, customer = np.nonzero((cell_key >= 0) & ~busy & month.paying[used])
    keyed = cell_key[day, customer]
    group = keyed * customers + customer
    # Each window's ARR at start, whether it churned and the expansion inside, read from the shared grids.
    opens = month.days[used]
    last = _last_seen(opens, np.full(len(opens), length), today)
    before, end = month.before[used][day], grids.rows(last)[day]
    a = grids.arr[before, customer]
    churned = grids.arr[end, customer] <= 0
    grown = np.where((last >= opens)[day], grids.expanded[end, customer] - grids.expanded[before, customer], 0)

    def per_key(weights: np.ndarray | None) -> np.ndarray:
        sums: np.ndarray = np.bincount(group, weights=weights, minlength=len(keys) * customers)
        return sums.reshape(len(keys), customers)

    windows, start = per_key(None), per_key(a)
    lost, expanded = per_key(np.where(churned, a, 0)), per_key(grown)
    pools = []
    for n in range(len(keys)):
        ids = np.flatnonzero(windows[n])
        pools.append(
            Pool(
                "matched",
                ids,
                start[n, ids].astype(np.int64),
                lost[n, ids].astype(np.int64),
                expanded[n, ids].astype(np.int64),
            )
        )
    return pools


def _busy(book: _Book, starts: np.ndarray, *, length: int, customers: int) -> np.ndarray:
    """For windows of `length` days starting on `starts` (ordinals, ascending), days × customers: whether an
    intervention window (not cancelled) overlaps it."""
    # A window [ws, we) overlaps [s, s + length) when ws < s + length and we > s.
    return _marks(book.busy_customer, book.busy_start - length + 1, book.busy_end - 1, starts, customers)


def _model(session: Session, units: list[Unit], churn_defaults: Mapping[str, float]) -> None:
    """The units without a pool: the churn probability at start, scaled to the window; no expected expansion."""
    fit = health_service.latest_churn_fit(session)
    for unit in units:
        if unit.pool is not None:
            continue
        first = unit.first
        p90 = formulas.churn_probability(first.score, first.band, fit=fit, defaults=churn_defaults)
        unit.method = "model"
        unit.p = formulas.window_churn_probability(Decimal(str(p90 or 0)), first.days)
        unit.e = Decimal(0)


def _shares(units: list[Unit], attributions: Mapping[str, Attribution]) -> dict[str, Share]:
    """Each unit's a × (p − c) (capped per rescue year) and a × e, split among its interventions (SPEC §9)."""
    shares: dict[str, Share] = {}
    by_customer: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        by_customer[unit.first.customer_id].append(unit)
    for customer_units in by_customer.values():
        episodes = [u for u in customer_units if u.at_risk]
        retained = [_retained_cents(u) for u in episodes]
        capped: dict[int, int] = {}
        for year in rescue_years([u.windows for u in episodes]):
            cap = episodes[year[0]].arr_cents
            for index, cents in zip(year, cap_credits([retained[i] for i in year], cap), strict=True):
                capped[id(episodes[index])] = cents
        for unit in customer_units:
            expected = to_cents(formulas.expected_expansion(from_cents(unit.arr_cents) or Decimal(0), unit.e))
            parts = len(unit.windows)
            kept = allocate(capped.get(id(unit), 0), parts)
            foreseen = allocate(expected, parts)
            for window, kept_cents, foreseen_cents in zip(unit.windows, kept, foreseen, strict=True):
                credited = attributions[window.id].expanded_cents if window.id in attributions else 0
                shares[window.id] = Share(kept_cents, credited - foreseen_cents, credited, unit.method, unit.first.id)
    return shares


def _retained_cents(unit: Unit) -> int:
    """a × (p − c) to the cent, half to even (SPEC §9)."""
    return to_cents(formulas.incremental_retained(from_cents(unit.arr_cents) or Decimal(0), unit.p, unit.churned))


# --- Row totals and their interval -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RowFigures:
    """The incremental fields of one ROI row (SPEC §9)."""

    retained: Decimal
    expanded: Decimal
    revenue: Decimal
    roi: Decimal | None
    low: Decimal | None
    high: Decimal | None
    method: RoiMethod | None
    treated_episodes: int
    control_customers: int


def row_figures(found: Incremental, intervention_ids: Iterable[str], cost: Decimal, *, seed: int) -> RowFigures:
    """Totals over a row's interventions, the method they used, and the seeded bootstrap interval of its ROI."""
    ids = [i for i in intervention_ids if i in found.shares]
    retained = sum(found.shares[i].retained_cents for i in ids)
    expanded = sum(found.shares[i].expanded_cents for i in ids)
    revenue = from_cents(retained + expanded) or Decimal(0)
    methods = {found.shares[i].method for i in ids}
    members: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        members[found.shares[i].unit].append(i)
    pools = [key for u in members if (key := found.units[u].pool) is not None]
    customers = np.unique(np.concatenate([found.pools[k].customers for k in set(pools)])) if pools else np.zeros(0)
    low, high = _interval(found, members, cost, seed=seed) if len(members) >= MIN_EPISODES else (None, None)
    return RowFigures(
        retained=from_cents(retained) or Decimal(0),
        expanded=from_cents(expanded) or Decimal(0),
        revenue=revenue,
        roi=formulas.roi(revenue, cost),
        low=low,
        high=high,
        method=None if not methods else (methods.pop() if len(methods) == 1 else "mixed"),
        treated_episodes=len(members),
        control_customers=len(customers),
    )


def _generator(seed: int, *key: object) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(repr(key).encode())])


def _resample_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """RESAMPLES × n: how many times each of n items is drawn in each resample of n draws with replacement.

    Each resample draws n uniform indexes and counts them: exactly a multinomial(n, 1/n, …, 1/n) count vector, the
    bootstrap's resample, at a fraction of the cost of sampling the multinomial itself."""
    drawn = rng.integers(0, n, size=(RESAMPLES, n)) + (np.arange(RESAMPLES) * n)[:, None]
    counts: np.ndarray = np.bincount(drawn.ravel(), minlength=RESAMPLES * n).reshape(RESAMPLES, n)
    return counts


def _pool_draws(found: Incremental, key: tuple[object, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """RESAMPLES bootstrap values of the pool's p and e: control customers resampled with replacement (exactly up
    to EXACT_POOL customers; above, from the normal limit of the resampled sums, which is what the bootstrap
    converges to and costs nothing)."""
    if (key, seed) in found.draws:
        return found.draws[(key, seed)]
    pool = found.pools[key]
    rng = _generator(seed, "pool", key)
    stats = np.stack([pool.start_cents, pool.churned_cents, pool.expansion_cents]).astype(float)
    n = stats.shape[1]
    if n <= EXACT_POOL:
        sums = _resample_counts(rng, n) @ stats.T
    else:
        # The covariance of real columns is positive semidefinite; an eigenvalue a hair below 0 is rounding in
        # sums of ~1e14 cents² (a zero column, or churned = start for every churner). numpy's default check uses an
        # absolute tolerance of 1e-8 and warns on it; its eigh factor takes |eigenvalues| either way, so the draws are
        # the same with the check off.
        cov = np.cov(stats) * n
        sums = rng.multivariate_normal(stats.sum(axis=1), cov, size=RESAMPLES, method="eigh", check_valid="ignore")
    whole = np.where(sums[:, 0] > 0, sums[:, 0], np.nan)
    found.draws[(key, seed)] = (sums[:, 1] / whole, sums[:, 2] / whole)
    return found.draws[(key, seed)]


def _interval(
    found: Incremental, members: Mapping[str, list[str]], cost: Decimal, *, seed: int
) -> tuple[Decimal | None, Decimal | None]:
    """2.5th and 97.5th percentiles of the row's ROI over resampled treated units and control pools (SPEC §9).

    The resamples use the uncapped unit figures (the cap binds only on repeated rescues of one customer).
    """
    if cost <= 0:
        return None, None
    keys = sorted(members)
    units = [found.units[k] for k in keys]
    share = np.array([len(members[k]) / len(found.units[k].windows) for k in keys])
    a = np.array([u.arr_cents for u in units], dtype=float) * share
    churned = np.array([u.churned for u in units], dtype=float)
    at_risk = np.array([u.at_risk for u in units], dtype=float)
    credited = np.array([sum(found.shares[i].credited_cents for i in members[k]) for k in keys], dtype=float)
    p = np.tile(np.array([float(u.p) for u in units]), (RESAMPLES, 1))
    e = np.tile(np.array([float(u.e) for u in units]), (RESAMPLES, 1))
    columns: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for n, unit in enumerate(units):
        if unit.pool is not None:
            columns[unit.pool].append(n)
    for key, of_pool in columns.items():
        draws_p, draws_e = _pool_draws(found, key, seed)
        p[:, of_pool], e[:, of_pool] = draws_p[:, None], draws_e[:, None]
    counts = _resample_counts(_generator(seed, "units", tuple(keys)), len(units))
    value = (counts * (at_risk * a * (p - churned) + credited - a * e)).sum(axis=1) / 100
    roi = (value - float(cost)) / float(cost)
    roi = roi[~np.isnan(roi)]
    if not len(roi):
        return None, None
    low, high = np.percentile(roi, [2.5, 97.5])
    return Decimal(f"{low:.6f}"), Decimal(f"{high:.6f}")
