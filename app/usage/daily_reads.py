"""Health reads from the daily rollup (SPEC §14): `app/usage/raw_reads.py`'s answers from `usage_daily`.

The same five functions with the same answers (the property test in tests/usage/test_store.py compares them), but
their cost follows customers × days instead of raw events. Windows are whole UTC days, so "the events of as_of -
window_days < d ≤ as_of" is exactly the rows with day in that range; a component's `where` is its facet; the latest
value is the latest day's `last` (each day already keeps its latest event by (occurred_at, id)); `distinct` counts
the kept values of the window's days. Statement counts are those of the raw reads, whatever the number of
customers: `model_raws` one statement of per-customer probes for the count, sum, avg and distinct components, one
per distinct component, one of probes for every `last` group and the seats (and on PostgreSQL two more that turn JIT
off and back); `point_raws` one join for the windows, one per distinct component, one window-function statement for
every `last` group and the seats.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    case,
    column,
    distinct,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
    values,
)
from sqlalchemy.orm import Session

from app.db import day_end
from app.models import Customer, UsageDaily, UsageDailyValue
from app.types import UsageComponent, from_micros
from app.usage.raw_reads import Group, empty_windows, last_groups, windowed_raw
from app.usage.rollup import facet_of


def _match(kind: str, where: Mapping[str, str] | None) -> ColumnElement[bool]:
    return and_(UsageDaily.kind == kind, UsageDaily.facet == facet_of(where))


def _customers(customers: Sequence[str] | None) -> list[Any]:
    return [] if customers is None else [UsageDaily.customer_id.in_(customers)]


def _micros(value: Any) -> int | None:
    return None if value is None else int(value)


def _windowed_columns(windowed: Sequence[tuple[int, UsageComponent]], since: Any) -> list[Any]:
    """Per component: days with its events up to the end (ever), events in its window, Σ in its window."""
    columns: list[Any] = []
    for _, c in windowed:
        match = _match(c.kind, c.where)
        in_window = and_(match, UsageDaily.day > since(c.window_days))
        columns.append(func.count(case((match, 1))))
        columns.append(func.sum(case((in_window, UsageDaily.events))))
        columns.append(func.sum(case((in_window, UsageDaily.sum_micros))) if c.aggregate in ("sum", "avg") else None)
    return [c if c is not None else literal(None, Integer) for c in columns]


def _fill(row: Sequence[Any], key: Any, windowed: Sequence[tuple[int, UsageComponent]], raws: Any, ever: Any) -> None:
    for position, (i, c) in enumerate(windowed):
        days, count, measure = row[1 + 3 * position : 4 + 3 * position]
        if not days:
            continue
        if c.aggregate == "distinct":
            ever[i].append(key)
        else:
            raws[i][key] = windowed_raw(c.aggregate, int(count or 0), _micros(measure))


def _distinct_values(c: UsageComponent) -> ColumnElement[bool]:
    """The kept values of the component's facet and property (a daily row's values, under '', answer any)."""
    assert c.property is not None  # noqa: S101 - the schema requires it
    return and_(
        UsageDailyValue.kind == c.kind,
        UsageDailyValue.facet == facet_of(c.where),
        UsageDailyValue.property.in_((c.property, "")),
    )


def _in_window(
    who: Any, kind: str, where: Mapping[str, str] | None, as_of: date, days: int | None
) -> list[ColumnElement[bool]]:
    """A probe from a customer id (`who`): its rows of (kind, facet) up to as_of, in the `days` ending then (None:
    all), a range of the rollup's key (customer, kind, facet, day)."""
    lower = [] if days is None else [UsageDaily.day > as_of - timedelta(days=days)]
    return [UsageDaily.customer_id == who, _match(kind, where), UsageDaily.day <= as_of, *lower]


Ever = list[tuple[Group, list[int]]]  # (kind, where) and the probes whose non-NULL answer shows it had rows


def _probe_customers(
    session: Session, probes: list[Any], ever: Ever, *, as_of: date, customers: Sequence[str] | None
) -> Iterator[tuple[str, Sequence[Any], list[bool]]]:
    """Each customer (of `customers`, None: all) with its `probes` (scalar subqueries correlated to `customer`) and,
    for each of `ever`, whether it had rows of that (kind, where) up to as_of: known when one of the group's probes
    answered, else an index probe for any day, which CASE runs only then (most customers with history have rows in
    their windows). The probes are computed once in a subquery (OFFSET 0 keeps PostgreSQL from pulling it up and
    copying them into the CASE)."""
    inner = select(Customer.id.label("id"), *(p.label(f"p{j}") for j, p in enumerate(probes)))
    if customers is not None:
        inner = inner.where(Customer.id.in_(customers))
    probed = inner.offset(0).subquery()
    flags = [
        case(
            (or_(*(probed.c[f"p{j}"].is_not(None) for j in known)), 1),
            else_=case((select(UsageDaily.day).where(*_in_window(probed.c.id, *group, as_of, None)).exists(), 1)),
        )
        for group, known in ever
    ]
    for row in session.execute(select(probed, *flags)):
        yield row[0], row[1 : 1 + len(probes)], [bool(flag) for flag in row[1 + len(probes) :]]


def _window_probes(windowed: Sequence[tuple[int, UsageComponent]], as_of: date) -> tuple[list[Any], Ever]:
    """Per component: Σ events in its window (NULL: no day of them there) and, for sum and avg, Σ of values;
    index range probes of each customer's windows rather than a scan of the table, so the cost follows customers ×
    the rows in their windows, not the history the rollup holds. And which probes show each (kind, where)."""

    def total(c: UsageComponent, column: Any) -> Any:
        in_window = _in_window(Customer.id, c.kind, c.where, as_of, c.window_days)
        return select(func.sum(column)).where(*in_window).scalar_subquery()

    probes: list[Any] = []
    ever: Ever = []
    for _, c in windowed:
        known = next((j for g, j in ever if g == (c.kind, c.where)), None)
        if known is None:
            ever.append(((c.kind, c.where), known := []))
        known.append(len(probes))
        probes.append(total(c, UsageDaily.events))
        probes.append(total(c, UsageDaily.sum_micros) if c.aggregate in ("sum", "avg") else literal(None, Integer))
    return probes, ever


def model_raws(
    session: Session,
    components: Sequence[UsageComponent],
    *,
    as_of: date,
    customers: Sequence[str] | None,
    seats: bool,
    first: Sequence[Mapping[str, datetime]] | None = None,
) -> tuple[list[dict[str, Decimal | None]], dict[str, tuple[Decimal, datetime]]]:
    """`queries.model_raws` from the rollup, reading only the components' windows.

    Every statement starts from `customer` and probes the rollup's key (customer, kind, facet, day) per customer:
    the rows of each window (`_window_probes`), the distinct values of the window's days, the latest day of each
    `last` group and of seats, and whether a customer ever had a component's events before its window (from
    `first` when given, else a probe for any day, run only for the customers whose window is empty). Never a scan
    of the table, so the cost follows customers × the rows in their windows, however long the history and however
    many events each day's row sums.
    """
    with _without_jit(session):
        return _model_raws(session, components, as_of=as_of, customers=customers, seats=seats, first=first)


@contextmanager
def _without_jit(session: Session) -> Iterator[None]:
    """PostgreSQL's JIT off for the statements inside (transaction-local, restored after): their estimated cost,
    customers × a dozen probes, is far above `jit_above_cost`, so it compiled and optimised them at every call (1.7 s
    in an EXPLAIN ANALYZE of the 10,000-customer, 2M-event book, against ~1 s for the whole read without it) for no
    gain: each probe reads a handful of index entries. After an error the transaction is rolled back, which ends
    the setting too."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    # The select list is evaluated in order: the setting as it was, then JIT off until restored.
    before = session.scalar(text("SELECT current_setting('jit'), set_config('jit', 'off', true)"))
    yield
    session.execute(text("SELECT set_config('jit', :before, true)"), {"before": before})


def _model_raws(
    session: Session,
    components: Sequence[UsageComponent],
    *,
    as_of: date,
    customers: Sequence[str] | None,
    seats: bool,
    first: Sequence[Mapping[str, datetime]] | None,
) -> tuple[list[dict[str, Decimal | None]], dict[str, tuple[Decimal, datetime]]]:
    raws: list[dict[str, Decimal | None]] = [{} for _ in components]
    # Per component, the customers with any of its rows up to as_of (when `first` does not tell).
    ever: list[set[str]] | None = None if first is not None else [set() for _ in components]
    windowed = [(i, c) for i, c in enumerate(components) if c.aggregate != "last"]
    if windowed:
        _model_windowed(session, components, windowed, raws, ever, first=first, as_of=as_of, customers=customers)
    latest = _model_lasts(session, components, raws, ever, as_of=as_of, customers=customers, seats=seats)
    if ever is not None:  # history before the window: no data (None), as raw reads of all history answer
        for i, c in enumerate(components):
            if c.aggregate == "last":
                raws[i].update({cid: None for cid in ever[i] if cid not in raws[i]})
    return raws, latest


def _model_windowed(
    session: Session,
    components: Sequence[UsageComponent],
    windowed: Sequence[tuple[int, UsageComponent]],
    raws: list[dict[str, Decimal | None]],
    ever: list[set[str]] | None,
    *,
    first: Sequence[Mapping[str, datetime]] | None,
    as_of: date,
    customers: Sequence[str] | None,
) -> None:
    """Fill `raws` for the count, sum, avg and distinct components, and `ever` for them when given."""
    probes, groups = _window_probes(windowed, as_of)
    wanted = groups if ever is not None else []
    distinct_ever: dict[int, list[str]] = {i: [] for i, c in windowed if c.aggregate == "distinct"}
    flag_of = [[g for g, _ in wanted].index((c.kind, c.where)) if wanted else -1 for _, c in windowed]
    for cid, row, had in _probe_customers(session, probes, wanted, as_of=as_of, customers=customers):
        for position, (i, c) in enumerate(windowed):
            if ever is not None and had[flag_of[position]]:
                ever[i].add(cid)
            count, measure = row[2 * position : 2 * position + 2]
            if count is None:  # no day of its events in the window (events is NOT NULL: Σ is NULL only then)
                continue
            if c.aggregate == "distinct":
                distinct_ever[i].append(cid)
            else:
                raws[i][cid] = windowed_raw(c.aggregate, int(count), _micros(measure))
    if first is not None:
        empty_windows(windowed, first, day_end(as_of), raws, distinct_ever)
    else:
        assert ever is not None  # noqa: S101 - made above when `first` is not given
        _empty_from_ever(windowed, ever, raws, distinct_ever)
    for i, customers_ever in distinct_ever.items():
        counts = _distinct_counts(session, components[i], as_of=as_of, customers=customers)
        raws[i] = {cid: Decimal(counts.get(cid, 0)) for cid in customers_ever}


def _model_lasts(
    session: Session,
    components: Sequence[UsageComponent],
    raws: list[dict[str, Decimal | None]],
    ever: list[set[str]] | None,
    *,
    as_of: date,
    customers: Sequence[str] | None,
    seats: bool,
) -> dict[str, tuple[Decimal, datetime]]:
    """Fill `raws` for the `last` components (their widest window per group), and `ever` for them when given; the
    latest seats, however old, when `seats`. One statement: per customer and group an index probe for the latest
    day with a last value (the rollup's key read backwards), rather than a scan of every day in the windows, so the
    cost follows customers, not the days or events a year holds."""
    lasts = [(i, c) for i, c in enumerate(components) if c.aggregate == "last"]
    groups = last_groups(lasts)
    bounds: list[int | None] = [max(c.window_days for _, c in lasts if (c.kind, c.where) == g) for g in groups]
    wanted: Ever = [] if ever is None else [(g, [2 * n]) for n, g in enumerate(groups)]
    if seats:
        groups.append(("seats", None))
        bounds.append(None)
    if not groups:
        return {}

    def latest(kind: str, where: Mapping[str, str] | None, days: int | None, column: Any) -> Any:
        return (
            select(column)
            .where(*_in_window(Customer.id, kind, where, as_of, days), UsageDaily.last_micros.is_not(None))
            .order_by(UsageDaily.day.desc())
            .limit(1)
            .scalar_subquery()
        )

    probes: list[Any] = []
    for (kind, where), days in zip(groups, bounds, strict=True):
        probes += [latest(kind, where, days, UsageDaily.last_micros), latest(kind, where, days, UsageDaily.last_at)]
    found: list[dict[str, tuple[Decimal, datetime]]] = [{} for _ in groups]
    flag_of = [(i, groups.index((c.kind, c.where))) for i, c in lasts]
    for cid, row, had in _probe_customers(session, probes, wanted, as_of=as_of, customers=customers):
        for g in range(len(groups)):
            value = from_micros(row[2 * g])
            if value is not None:
                found[g][cid] = (value, row[2 * g + 1])
        if ever is not None:
            for i, flag in flag_of:
                if had[flag]:
                    ever[i].add(cid)
    end = day_end(as_of)
    for i, c in lasts:
        start = end - timedelta(days=c.window_days)
        values_of = found[groups.index((c.kind, c.where))]
        raws[i] = {cid: (value if at >= start else None) for cid, (value, at) in values_of.items()}
    return found[-1] if seats else {}


def _empty_from_ever(
    windowed: Sequence[tuple[int, UsageComponent]],
    ever: Sequence[set[str]],
    raws: list[dict[str, Decimal | None]],
    distinct_ever: dict[int, list[str]],
) -> None:
    """Customers with history but an empty window: 0 for count, sum and distinct, None for avg (SPEC §6)."""
    for i, c in windowed:
        if c.aggregate == "distinct":
            known = set(distinct_ever[i])
            distinct_ever[i].extend(sorted(ever[i] - known))
        else:
            raws[i].update({cid: (None if c.aggregate == "avg" else Decimal(0)) for cid in ever[i] - raws[i].keys()})


def _days(c: UsageComponent) -> timedelta:
    return timedelta(days=c.window_days)


def _distinct_counts(
    session: Session, c: UsageComponent, *, as_of: date, customers: Sequence[str] | None
) -> dict[str, int]:
    """The distinct kept values in the component's window per customer with any: an index-only probe of each
    customer's window days (the values' key starts with customer, kind, facet, day), not a scan of the table."""
    counted = (
        select(func.count(distinct(UsageDailyValue.value)))
        .where(
            UsageDailyValue.customer_id == Customer.id,
            _distinct_values(c),
            UsageDailyValue.day <= as_of,
            UsageDailyValue.day > as_of - _days(c),
        )
        .scalar_subquery()
    )
    stmt = select(Customer.id, counted)
    if customers is not None:
        stmt = stmt.where(Customer.id.in_(customers))
    return {cid: count for cid, count in session.execute(stmt) if count}


def _ranked_latest(parts: list[Any], key: str, n_groups: int) -> tuple[Any, list[dict[Any, tuple[Decimal, datetime]]]]:
    united: Any = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
    rank = func.row_number().over(partition_by=(united.c.g, united.c[key]), order_by=united.c.day.desc())
    columns: list[Any] = [united.c.g, united.c[key], united.c.value, united.c.at, rank.label("rn")]
    ranked: Any = select(*columns).subquery()
    picked: list[Any] = [ranked.c.g, ranked.c[key], ranked.c.value, ranked.c.at]
    stmt = select(*picked).where(ranked.c.rn == 1)
    return stmt, [{} for _ in range(n_groups)]


def first_seen(
    session: Session, components: Sequence[UsageComponent], *, customers: Sequence[str] | None
) -> list[dict[str, datetime]]:
    """`queries.first_seen` from the rollup: per customer and component, the first day's first instant, found by an
    index probe (the rollup's key) rather than a scan of the history."""
    result: list[dict[str, datetime]] = [{} for _ in components]
    if not components:
        return result
    probes = [
        select(UsageDaily.first_at)
        .where(UsageDaily.customer_id == Customer.id, _match(c.kind, c.where))
        .order_by(UsageDaily.day)
        .limit(1)
        .scalar_subquery()
        for c in components
    ]
    stmt = select(Customer.id, *probes)
    if customers is not None:
        stmt = stmt.where(Customer.id.in_(customers))
    for row in session.execute(stmt):
        for i, seen in enumerate(row[1:]):
            if seen is not None:
                result[i][row[0]] = seen
    return result


def window_totals(
    session: Session, windows: set[tuple[str, str, date]], *, window_days: int
) -> dict[tuple[str, str, date], tuple[int, int | None]]:
    """`queries.window_totals` from the rollup (facet '': every event of the kind)."""
    if not windows:
        return {}
    ordered = sorted(windows)
    wanted = (
        values(
            column("n", Integer),
            column("customer_id", String),
            column("kind", String),
            column("lo", Date),
            column("hi", Date),
            name="wanted",
        )
        .data([(n, c, k, d - timedelta(days=window_days), d) for n, (c, k, d) in enumerate(ordered)])
        .cte("wanted")
    )
    stmt = (
        select(wanted.c.n, func.sum(UsageDaily.events), func.sum(UsageDaily.sum_micros))
        .select_from(wanted)
        .join(
            UsageDaily,
            and_(
                UsageDaily.customer_id == wanted.c.customer_id,
                UsageDaily.kind == wanted.c.kind,
                UsageDaily.facet == "",
                UsageDaily.day > wanted.c.lo,
                UsageDaily.day <= wanted.c.hi,
            ),
        )
        .group_by(wanted.c.n)
    )
    found = {n: (int(count or 0), _micros(micros)) for n, count, micros in session.execute(stmt)}
    return {window: found.get(n, (0, None)) for n, window in enumerate(ordered)}


def latest_upto(session: Session, points: set[tuple[str, str, date]]) -> dict[tuple[str, str, date], Decimal]:
    """`queries.latest_upto` from the rollup: the latest day's last value up to each point's day."""
    if not points:
        return {}
    ordered = sorted(points)
    wanted = (
        values(column("n", Integer), column("customer_id", String), column("kind", String), column("hi", Date))
        .data([(n, c, k, d) for n, (c, k, d) in enumerate(ordered)])
        .cte("wanted")
    )
    latest = (
        select(UsageDaily.last_micros)
        .where(
            UsageDaily.customer_id == wanted.c.customer_id,
            UsageDaily.kind == wanted.c.kind,
            UsageDaily.facet == "",
            UsageDaily.day <= wanted.c.hi,
            UsageDaily.last_micros.is_not(None),
        )
        .order_by(UsageDaily.day.desc())
        .limit(1)
        .scalar_subquery()
    )
    found = {n: from_micros(micros) for n, micros in session.execute(select(wanted.c.n, latest).select_from(wanted))}
    return {point: value for n, point in enumerate(ordered) if (value := found.get(n)) is not None}


def point_raws(
    session: Session, components: Sequence[UsageComponent], points: Sequence[tuple[str, date]], *, seats: bool
) -> tuple[list[dict[int, Decimal | None]], dict[int, tuple[Decimal, datetime]]]:
    """`queries.point_raws` from the rollup: the points as a VALUES list (customer, day, each window's last day
    before it) joined to the rollup; one pass per statement kind whatever the number of points."""
    raws: list[dict[int, Decimal | None]] = [{} for _ in components]
    if not points:
        return raws, {}
    widths = sorted({c.window_days for c in components})
    wanted = (
        values(
            column("n", Integer),
            column("customer_id", String),
            column("hi", Date),
            *(column(f"lo{w}", Date) for w in widths),
            name="points",
        )
        .data([(n, cid, day, *(day - timedelta(days=w) for w in widths)) for n, (cid, day) in enumerate(points)])
        .cte("points")
    )
    upto = and_(UsageDaily.customer_id == wanted.c.customer_id, UsageDaily.day <= wanted.c.hi)
    windowed = [(i, c) for i, c in enumerate(components) if c.aggregate != "last"]
    if windowed:
        kinds = UsageDaily.kind.in_(sorted({c.kind for _, c in windowed}))
        stmt = (
            select(wanted.c.n, *_windowed_columns(windowed, lambda w: wanted.c[f"lo{w}"]))
            .select_from(wanted)
            .join(UsageDaily, and_(upto, kinds))
            .group_by(wanted.c.n)
        )
        ever: dict[int, list[int]] = {i: [] for i, c in windowed if c.aggregate == "distinct"}
        for row in session.execute(stmt):
            _fill(row, row[0], windowed, raws, ever)
        for i, points_ever in ever.items():
            c = components[i]
            counted = (
                select(wanted.c.n, func.count(distinct(UsageDailyValue.value)))
                .select_from(wanted)
                .join(
                    UsageDailyValue,
                    and_(
                        UsageDailyValue.customer_id == wanted.c.customer_id,
                        UsageDailyValue.day <= wanted.c.hi,
                        UsageDailyValue.day > wanted.c[f"lo{c.window_days}"],
                        _distinct_values(c),
                    ),
                )
                .group_by(wanted.c.n)
            )
            found = {n: count for n, count in session.execute(counted)}
            raws[i] = {n: Decimal(found.get(n, 0)) for n in points_ever}
    return raws, _point_lasts(session, components, raws, wanted, points, upto=upto, seats=seats)


def _point_lasts(
    session: Session,
    components: Sequence[UsageComponent],
    raws: list[dict[int, Decimal | None]],
    wanted: Any,
    points: Sequence[tuple[str, date]],
    *,
    upto: ColumnElement[bool],
    seats: bool,
) -> dict[int, tuple[Decimal, datetime]]:
    lasts = [(i, c) for i, c in enumerate(components) if c.aggregate == "last"]
    groups = last_groups(lasts)
    if seats:
        groups.append(("seats", None))
    if not groups:
        return {}
    parts = [
        select(
            literal(g, Integer).label("g"),
            wanted.c.n,
            UsageDaily.day,
            UsageDaily.last_micros.label("value"),
            UsageDaily.last_at.label("at"),
        )
        .select_from(wanted)
        .join(UsageDaily, and_(upto, _match(kind, where), UsageDaily.last_micros.is_not(None)))
        for g, (kind, where) in enumerate(groups)
    ]
    stmt, latest = _ranked_latest(parts, "n", len(groups))
    for g, n, micros, at in session.execute(stmt):
        value = from_micros(micros)
        assert value is not None  # noqa: S101 - only rows with a last value
        latest[g][n] = (value, at)
    for i, c in lasts:
        found = latest[groups.index((c.kind, c.where))]
        raws[i] = {
            n: (value if at >= day_end(points[n][1]) - timedelta(days=c.window_days) else None)
            for n, (value, at) in found.items()
        }
    return latest[-1] if seats else {}
