"""Health reads from the daily rollup (SPEC §14): `app/usage/raw_reads.py`'s answers from `usage_daily`.

The same five functions with the same answers (the property test in tests/usage/test_store.py compares them), but
their cost follows customers × days instead of raw events. Windows are whole UTC days, so "the events of as_of -
window_days < d ≤ as_of" is exactly the rows with day in that range; a component's `where` is its facet; the latest
value is the latest day's `last` (each day already keeps its latest event by (occurred_at, id)); `distinct` counts
the kept values of the window's days. Statement counts are those of the raw reads: one scan for the count, sum and
avg components, one per distinct component, one window-function statement for every `last` group and the seats.
"""

from collections.abc import Mapping, Sequence
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
    union_all,
    values,
)
from sqlalchemy.orm import Session

from app.db import day_end
from app.models import Customer, UsageDaily, UsageDailyValue
from app.types import UsageComponent, from_micros
from app.usage.raw_reads import empty_windows, windowed_raw
from app.usage.rollup import facet_of

Group = tuple[str, Mapping[str, str] | None]


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

    Whether a customer ever had a component's events before its window comes from `first` when given, else from
    an index probe per customer and (kind, facet) (`_ever`): never from a scan of the whole history, so the cost
    follows customers × window days, however long the history.
    """
    raws: list[dict[str, Decimal | None]] = [{} for _ in components]
    ever = None if first is not None else _ever(session, components, as_of=as_of, customers=customers)
    windowed = [(i, c) for i, c in enumerate(components) if c.aggregate != "last"]
    if windowed:
        stmt = (
            select(UsageDaily.customer_id, *_windowed_columns(windowed, lambda w: as_of - timedelta(days=w)))
            .where(
                UsageDaily.day <= as_of,
                UsageDaily.kind.in_(sorted({c.kind for _, c in windowed})),
                or_(*(and_(_match(c.kind, c.where), UsageDaily.day > as_of - _days(c)) for _, c in windowed)),
                *_customers(customers),
            )
            .group_by(UsageDaily.customer_id)
        )
        distinct_ever: dict[int, list[str]] = {i: [] for i, c in windowed if c.aggregate == "distinct"}
        for row in session.execute(stmt):
            _fill(row, row[0], windowed, raws, distinct_ever)
        if first is not None:
            empty_windows(windowed, first, day_end(as_of), raws, distinct_ever)
        else:
            assert ever is not None  # noqa: S101 - read above when `first` is not given
            _empty_from_ever(windowed, ever, raws, distinct_ever)
        for i, customers_ever in distinct_ever.items():
            counts = _distinct_counts(session, components[i], as_of=as_of, customers=customers)
            raws[i] = {cid: Decimal(counts.get(cid, 0)) for cid in customers_ever}
    latest = _model_lasts(session, components, raws, as_of=as_of, customers=customers, seats=seats)
    if ever is not None:  # history before the window: no data (None), as raw reads of all history answer
        for i, c in enumerate(components):
            if c.aggregate == "last":
                raws[i].update({cid: None for cid in ever[i] if cid not in raws[i]})
    return raws, latest


def _model_lasts(
    session: Session,
    components: Sequence[UsageComponent],
    raws: list[dict[str, Decimal | None]],
    *,
    as_of: date,
    customers: Sequence[str] | None,
    seats: bool,
) -> dict[str, tuple[Decimal, datetime]]:
    """Fill `raws` for the `last` components (their windows' days only); the latest seats when `seats`."""
    lasts = [(i, c) for i, c in enumerate(components) if c.aggregate == "last"]
    groups: list[Group] = []
    for _, c in lasts:
        if (c.kind, c.where) not in groups:
            groups.append((c.kind, c.where))
    widest = [max(c.window_days for _, c in lasts if (c.kind, c.where) == g) for g in groups]
    since: list[date | None] = [as_of - timedelta(days=w) for w in widest]
    latest = _latest_many(session, groups, as_of=as_of, customers=customers, since=since)
    end = day_end(as_of)
    for i, c in lasts:
        start = end - timedelta(days=c.window_days)
        found = latest[groups.index((c.kind, c.where))]
        raws[i] = {cid: (value if at >= start else None) for cid, (value, at) in found.items()}
    return _latest_seats(session, as_of=as_of, customers=customers) if seats else {}


def _latest_seats(
    session: Session, *, as_of: date, customers: Sequence[str] | None
) -> dict[str, tuple[Decimal, datetime]]:
    """Each customer's latest seats value up to as_of, however old, and its instant: an index probe per customer
    (the latest day of its seats rows, by the rollup's key) rather than a scan of every seats day."""

    def latest(column: Any) -> Any:
        return (
            select(column)
            .where(
                UsageDaily.customer_id == Customer.id,
                UsageDaily.kind == "seats",
                UsageDaily.facet == "",
                UsageDaily.day <= as_of,
                UsageDaily.last_micros.is_not(None),
            )
            .order_by(UsageDaily.day.desc())
            .limit(1)
            .scalar_subquery()
        )

    stmt = select(Customer.id, latest(UsageDaily.last_micros), latest(UsageDaily.last_at))
    if customers is not None:
        stmt = stmt.where(Customer.id.in_(customers))
    found: dict[str, tuple[Decimal, datetime]] = {}
    for customer_id, micros, at in session.execute(stmt):
        value = from_micros(micros)
        if value is not None:
            found[customer_id] = (value, at)
    return found


def _ever(
    session: Session, components: Sequence[UsageComponent], *, as_of: date, customers: Sequence[str] | None
) -> list[set[str]]:
    """Per component, the customers with any of its rows up to as_of: one statement over the customers, an index
    probe (the rollup's key: customer, kind, facet, day) per customer and distinct (kind, facet)."""
    keys = sorted({(c.kind, facet_of(c.where)) for c in components})
    if not keys:
        return []
    probes = [
        select(UsageDaily.day)
        .where(
            UsageDaily.customer_id == Customer.id,
            UsageDaily.kind == kind,
            UsageDaily.facet == facet,
            UsageDaily.day <= as_of,
        )
        .exists()
        for kind, facet in keys
    ]
    stmt = select(Customer.id, *probes)
    if customers is not None:
        stmt = stmt.where(Customer.id.in_(customers))
    found: dict[tuple[str, str], set[str]] = {key: set() for key in keys}
    for row in session.execute(stmt):
        for key, had in zip(keys, row[1:], strict=True):
            if had:
                found[key].add(row[0])
    return [found[(c.kind, facet_of(c.where))] for c in components]


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
    stmt = (
        select(UsageDailyValue.customer_id, func.count(distinct(UsageDailyValue.value)))
        .where(
            _distinct_values(c),
            UsageDailyValue.day <= as_of,
            UsageDailyValue.day > as_of - _days(c),
            *([] if customers is None else [UsageDailyValue.customer_id.in_(customers)]),
        )
        .group_by(UsageDailyValue.customer_id)
    )
    return {cid: count for cid, count in session.execute(stmt)}


def _ranked_latest(parts: list[Any], key: str, n_groups: int) -> tuple[Any, list[dict[Any, tuple[Decimal, datetime]]]]:
    united: Any = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
    rank = func.row_number().over(partition_by=(united.c.g, united.c[key]), order_by=united.c.day.desc())
    columns: list[Any] = [united.c.g, united.c[key], united.c.value, united.c.at, rank.label("rn")]
    ranked: Any = select(*columns).subquery()
    picked: list[Any] = [ranked.c.g, ranked.c[key], ranked.c.value, ranked.c.at]
    stmt = select(*picked).where(ranked.c.rn == 1)
    return stmt, [{} for _ in range(n_groups)]


def _latest_many(
    session: Session,
    groups: Sequence[Group],
    *,
    as_of: date,
    customers: Sequence[str] | None,
    since: Sequence[date | None],
) -> list[dict[str, tuple[Decimal, datetime]]]:
    """Each group's latest value and instant per customer up to as_of (days after `since` only, when given)."""
    if not groups:
        return []
    parts = [
        select(
            literal(g, Integer).label("g"),
            UsageDaily.customer_id,
            UsageDaily.day,
            UsageDaily.last_micros.label("value"),
            UsageDaily.last_at.label("at"),
        ).where(
            _match(kind, where),
            UsageDaily.day <= as_of,
            UsageDaily.last_micros.is_not(None),
            *([] if since[g] is None else [UsageDaily.day > since[g]]),
            *_customers(customers),
        )
        for g, (kind, where) in enumerate(groups)
    ]
    stmt, results = _ranked_latest(parts, "customer_id", len(groups))
    for g, customer_id, micros, at in session.execute(stmt):
        value = from_micros(micros)
        assert value is not None  # noqa: S101 - only rows with a last value
        results[g][customer_id] = (value, at)
    return results


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
    groups: list[Group] = []
    for _, c in lasts:
        if (c.kind, c.where) not in groups:
            groups.append((c.kind, c.where))
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
