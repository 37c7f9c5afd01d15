"""Set-based SQL for health components: one query per component for a whole set of customers (SPEC §6)."""

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    column,
    distinct,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
    values,
)
from sqlalchemy.orm import Session

from app.db import day_end
from app.models import VALUE_MICROS, UsageEvent
from app.types import UsageComponent, from_micros

Group = tuple[str, Mapping[str, str] | None]  # a (kind, where) whose latest value `last` components read


def last_groups(lasts: Sequence[tuple[int, UsageComponent]]) -> list[Group]:
    """The distinct (kind, where) of the `last` components, in their order: one latest value per customer and
    group serves every `last` component of the group, whatever its window."""
    groups: list[Group] = []
    for _, c in lasts:
        if (c.kind, c.where) not in groups:
            groups.append((c.kind, c.where))
    return groups


def _filters(kind: str, where: Mapping[str, str] | None, end: datetime, customers: Sequence[str] | None) -> list[Any]:
    conditions: list[ColumnElement[bool]] = [UsageEvent.kind == kind, UsageEvent.occurred_at < end]
    for key, value in (where or {}).items():
        conditions.append(UsageEvent.properties[key].as_string() == value)
    if customers is not None:
        conditions.append(UsageEvent.customer_id.in_(customers))
    return conditions


def latest_values(
    session: Session, *, kind: str, where: Mapping[str, str] | None, as_of: date, customers: Sequence[str] | None
) -> dict[str, tuple[Decimal, datetime]]:
    """Each customer's latest value of `kind` up to as_of, with when it occurred (ties: highest id)."""
    rank = func.row_number().over(
        partition_by=UsageEvent.customer_id, order_by=(UsageEvent.occurred_at.desc(), UsageEvent.id.desc())
    )
    ranked = (
        select(UsageEvent.customer_id, VALUE_MICROS.label("value"), UsageEvent.occurred_at, rank.label("rn"))
        .where(*_filters(kind, where, day_end(as_of), customers))
        .subquery()
    )
    stmt = select(ranked.c.customer_id, ranked.c.value, ranked.c.occurred_at).where(ranked.c.rn == 1)
    result: dict[str, tuple[Decimal, datetime]] = {}
    for customer_id, micros, occurred in session.execute(stmt):
        value = from_micros(micros)
        assert value is not None  # noqa: S101 - the column is NOT NULL
        result[customer_id] = (value, occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC))
    return result


def _window_stmt(component: UsageComponent, as_of: date, customers: Sequence[str] | None) -> Select[Any]:
    end = day_end(as_of)
    in_window = UsageEvent.occurred_at >= end - timedelta(days=component.window_days)
    if component.aggregate == "distinct":
        assert component.property is not None  # noqa: S101 - the schema requires it
        measure: Any = func.count(distinct(case((in_window, UsageEvent.properties[component.property].as_string()))))
    else:
        measure = func.sum(case((in_window, VALUE_MICROS)))
    return (
        select(UsageEvent.customer_id, func.count(case((in_window, 1))), measure)
        .where(*_filters(component.kind, component.where, end, customers))
        .group_by(UsageEvent.customer_id)
    )


def component_raw(
    session: Session, component: UsageComponent, *, as_of: date, customers: Sequence[str] | None
) -> dict[str, Decimal | None]:
    """SPEC §6 raw values for every customer that ever had the component's events up to as_of.

    A customer missing from the answer has no data. An empty window is 0 for count, sum and distinct, and
    no data (None) for avg and last. Per-seat division happens in the service, which knows the seats.
    """
    if component.aggregate == "last":
        start = day_end(as_of) - timedelta(days=component.window_days)
        latest = latest_values(session, kind=component.kind, where=component.where, as_of=as_of, customers=customers)
        return {cid: (value if occurred >= start else None) for cid, (value, occurred) in latest.items()}
    result: dict[str, Decimal | None] = {}
    for customer_id, count, measure in session.execute(_window_stmt(component, as_of, customers)):
        distinct = component.aggregate == "distinct"
        result[customer_id] = Decimal(measure) if distinct else windowed_raw(component.aggregate, count, measure)
    return result


def _match(kind: str, where: Mapping[str, str] | None) -> ColumnElement[bool]:
    return and_(UsageEvent.kind == kind, *(UsageEvent.properties[k].as_string() == v for k, v in (where or {}).items()))


def latest_many(
    session: Session,
    groups: Sequence[Group],
    *,
    as_of: date,
    customers: Sequence[str] | None,
    since: Sequence[datetime | None] | None = None,
) -> list[dict[str, tuple[Decimal, datetime]]]:
    """`latest_values` for several (kind, where) groups in one statement: one UNION ALL, one window function.

    `since` (one per group, None: all history) leaves out older events: a customer whose latest event is older
    is then missing rather than answered with a value a window would discard anyway.
    """
    if not groups:
        return []
    end = day_end(as_of)
    parts = []
    for index, (kind, where) in enumerate(groups):
        lower = since[index] if since is not None else None
        bound = [] if lower is None else [UsageEvent.occurred_at >= lower]
        parts.append(
            select(
                literal(index, Integer).label("g"),
                UsageEvent.customer_id,
                VALUE_MICROS.label("value"),
                UsageEvent.occurred_at,
                UsageEvent.id,
            ).where(_match(kind, where), UsageEvent.occurred_at < end, *bound, *_customers_filter(customers))
        )
    united = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    rank = func.row_number().over(
        partition_by=(united.c.g, united.c.customer_id), order_by=(united.c.occurred_at.desc(), united.c.id.desc())
    )
    ranked = select(united.c.g, united.c.customer_id, united.c.value, united.c.occurred_at, rank.label("rn")).subquery()
    stmt = select(ranked.c.g, ranked.c.customer_id, ranked.c.value, ranked.c.occurred_at).where(ranked.c.rn == 1)
    results: list[dict[str, tuple[Decimal, datetime]]] = [{} for _ in groups]
    for g, customer_id, micros, occurred in session.execute(stmt):
        value = from_micros(micros)
        assert value is not None  # noqa: S101 - the column is NOT NULL
        results[g][customer_id] = (value, occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC))
    return results


def _customers_filter(customers: Sequence[str] | None) -> list[Any]:
    return [] if customers is None else [UsageEvent.customer_id.in_(customers)]


def windowed_raw(aggregate: str, count: int, measure: Any) -> Decimal | None:
    """A count, sum or avg component's raw value from its window's event count and summed millionths (SPEC §6):
    an empty window is 0 for count and sum, and no data (None) for avg."""
    if aggregate == "count":
        return Decimal(count)
    if aggregate == "sum":
        return from_micros(measure) if count else Decimal(0)
    total = from_micros(measure)
    return total / count if count and total is not None else None


def _windowed_raws(
    session: Session,
    components: Sequence[UsageComponent],
    raws: list[dict[str, Decimal | None]],
    *,
    end: datetime,
    customers: Sequence[str] | None,
    first: Sequence[Mapping[str, datetime]] | None = None,
) -> None:
    """Fill `raws` for the count, sum, avg and distinct components: one scan with conditional aggregates.

    With `first` (`first_seen`'s answer) the scan reads only each component's window, and whether a customer
    ever had the component's events comes from `first` instead of from all of its history.
    """
    windowed = [(i, c) for i, c in enumerate(components) if c.aggregate != "last"]
    if not windowed:
        return
    columns: list[Any] = [UsageEvent.customer_id]
    for _, c in windowed:
        match = _match(c.kind, c.where)
        in_window = and_(match, UsageEvent.occurred_at >= end - timedelta(days=c.window_days))
        columns.append(func.count(case((match, 1))))
        columns.append(func.count(case((in_window, 1))))
        columns.append(func.sum(case((in_window, VALUE_MICROS))) if c.aggregate in ("sum", "avg") else null())
    stmt = (
        select(*columns)
        .where(
            UsageEvent.occurred_at < end,
            UsageEvent.kind.in_(sorted({c.kind for _, c in windowed})),
            *_customers_filter(customers),
            *_window_bounds(windowed, end, bounded=first is not None),
        )
        .group_by(UsageEvent.customer_id)
    )
    distinct_ever: dict[int, list[str]] = {i: [] for i, c in windowed if c.aggregate == "distinct"}
    for row in session.execute(stmt):
        customer_id = row[0]
        for position, (i, c) in enumerate(windowed):
            ever, count, measure = row[1 + 3 * position : 4 + 3 * position]
            if not ever:
                continue
            if c.aggregate == "distinct":
                distinct_ever[i].append(customer_id)
            else:
                raws[i][customer_id] = windowed_raw(c.aggregate, count, measure)
    if first is not None:
        empty_windows(windowed, first, end, raws, distinct_ever)
    for i, ever in distinct_ever.items():
        counts = _distinct_counts(session, components[i], end=end, customers=customers)
        raws[i] = {cid: Decimal(counts.get(cid, 0)) for cid in ever}


def _window_bounds(windowed: Sequence[tuple[int, UsageComponent]], end: datetime, *, bounded: bool) -> list[Any]:
    """Only the events inside some component's window (when `bounded`)."""
    if not bounded:
        return []
    return [
        or_(
            *(
                and_(_match(c.kind, c.where), UsageEvent.occurred_at >= end - timedelta(days=c.window_days))
                for _, c in windowed
            )
        )
    ]


def empty_windows(
    windowed: Sequence[tuple[int, UsageComponent]],
    first: Sequence[Mapping[str, datetime]],
    end: datetime,
    raws: list[dict[str, Decimal | None]],
    distinct_ever: dict[int, list[str]],
) -> None:
    """The customers with history but nothing in the window: 0 for count, sum and distinct, None for avg."""
    for i, c in windowed:
        for customer_id, seen in first[i].items():
            if seen >= end or customer_id in raws[i] or (c.aggregate == "distinct" and customer_id in distinct_ever[i]):
                continue
            if c.aggregate == "distinct":
                distinct_ever[i].append(customer_id)
            else:
                raws[i][customer_id] = None if c.aggregate == "avg" else Decimal(0)


def first_seen(
    session: Session, components: Sequence[UsageComponent], *, customers: Sequence[str] | None
) -> list[dict[str, datetime]]:
    """When each customer first had each component's events (one scan of the history, per request rather than
    per day): lets `model_raws` read only the components' windows."""
    result: list[dict[str, datetime]] = [{} for _ in components]
    if not components:
        return result
    columns = [func.min(case((_match(c.kind, c.where), UsageEvent.occurred_at))) for c in components]
    stmt = (
        select(UsageEvent.customer_id, *columns)
        .where(UsageEvent.kind.in_(sorted({c.kind for c in components})), *_customers_filter(customers))
        .group_by(UsageEvent.customer_id)
    )
    for row in session.execute(stmt):
        for i, seen in enumerate(row[1:]):
            if seen is not None:
                result[i][row[0]] = seen if seen.tzinfo else seen.replace(tzinfo=UTC)
    return result


def _distinct_counts(
    session: Session, component: UsageComponent, *, end: datetime, customers: Sequence[str] | None
) -> dict[str, int]:
    """Distinct values of the component's property in its window, per customer with any in the window."""
    assert component.property is not None  # noqa: S101 - the schema requires it
    stmt = (
        select(UsageEvent.customer_id, func.count(distinct(UsageEvent.properties[component.property].as_string())))
        .where(
            _match(component.kind, component.where),
            UsageEvent.occurred_at < end,
            UsageEvent.occurred_at >= end - timedelta(days=component.window_days),
            *_customers_filter(customers),
        )
        .group_by(UsageEvent.customer_id)
    )
    return {customer_id: count for customer_id, count in session.execute(stmt)}


def model_raws(
    session: Session,
    components: Sequence[UsageComponent],
    *,
    as_of: date,
    customers: Sequence[str] | None,
    seats: bool,
    first: Sequence[Mapping[str, datetime]] | None = None,
) -> tuple[list[dict[str, Decimal | None]], dict[str, tuple[Decimal, datetime]]]:
    """`component_raw` of every component, and the latest seats when `seats`, in a few statements.

    One scan with conditional aggregates answers every count, sum and avg component and whether each
    customer ever had each component's events; each distinct component reads only its window (a DISTINCT
    aggregate in the big scan would make PostgreSQL sort all of it); every `last` group and the seats share
    one window-function statement. The answers equal `component_raw`'s (tested).
    """
    end = day_end(as_of)
    raws: list[dict[str, Decimal | None]] = [{} for _ in components]
    _windowed_raws(session, components, raws, end=end, customers=customers, first=first)
    lasts = [(i, c) for i, c in enumerate(components) if c.aggregate == "last"]
    groups = last_groups(lasts)
    since: list[datetime | None] = [
        None if first is None else end - timedelta(days=max(c.window_days for _, c in lasts if (c.kind, c.where) == g))
        for g in groups
    ]
    if seats:
        groups.append(("seats", None))
        since.append(None)
    latest = latest_many(session, groups, as_of=as_of, customers=customers, since=since)
    for i, c in lasts:
        start = end - timedelta(days=c.window_days)
        values = latest[groups.index((c.kind, c.where))]
        raws[i] = {cid: (value if occurred >= start else None) for cid, (value, occurred) in values.items()}
    return raws, (latest[-1] if seats else {})


def _windows_cte(windows: Sequence[tuple[str, str, date]], window_days: int) -> Any:
    """(customer, kind, day) windows as a VALUES list: n, customer_id, kind, lo (the window's first instant), hi."""
    when = UsageEvent.occurred_at.type
    return (
        values(
            column("n", Integer),
            column("customer_id", String),
            column("kind", String),
            column("lo", when),
            column("hi", when),
            name="wanted",
        )
        .data([(n, c, k, day_end(d) - timedelta(days=window_days), day_end(d)) for n, (c, k, d) in enumerate(windows)])
        .cte("wanted")
    )


def window_totals(
    session: Session, windows: set[tuple[str, str, date]], *, window_days: int
) -> dict[tuple[str, str, date], tuple[int, int | None]]:
    """The event count and Σ of values (millionths) of each (customer, kind, day) window: the `window_days` days
    ending that day ((0, None) without events), in one statement: the windows as a VALUES list joined to the events.
    `windowed_raw` turns a total into a count, sum or avg."""
    if not windows:
        return {}
    ordered = sorted(windows)
    wanted = _windows_cte(ordered, window_days)
    stmt = (
        select(wanted.c.n, func.count(UsageEvent.id), func.sum(VALUE_MICROS))
        .select_from(wanted)
        .join(
            UsageEvent,
            and_(
                UsageEvent.customer_id == wanted.c.customer_id,
                UsageEvent.kind == wanted.c.kind,
                UsageEvent.occurred_at >= wanted.c.lo,
                UsageEvent.occurred_at < wanted.c.hi,
            ),
        )
        .group_by(wanted.c.n)
    )
    found = {n: (count, micros) for n, count, micros in session.execute(stmt)}
    return {window: found.get(n, (0, None)) for n, window in enumerate(ordered)}


def latest_upto(session: Session, points: set[tuple[str, str, date]]) -> dict[tuple[str, str, date], Decimal]:
    """The latest value of each (customer, kind, day): the last event of that kind up to the end of the day, however
    old (ties: highest id); a point without any such event is missing. One statement: a VALUES list of the points,
    each looking up its own latest event through the (customer_id, kind, occurred_at) index."""
    if not points:
        return {}
    ordered = sorted(points)
    wanted = _windows_cte(ordered, 0)
    latest = (
        select(VALUE_MICROS)
        .where(
            UsageEvent.customer_id == wanted.c.customer_id,
            UsageEvent.kind == wanted.c.kind,
            UsageEvent.occurred_at < wanted.c.hi,
        )
        .order_by(UsageEvent.occurred_at.desc(), UsageEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    found = {n: from_micros(micros) for n, micros in session.execute(select(wanted.c.n, latest).select_from(wanted))}
    return {point: value for n, point in enumerate(ordered) if (value := found.get(n)) is not None}


def point_raws(
    session: Session, components: Sequence[UsageComponent], points: Sequence[tuple[str, date]], *, seats: bool
) -> tuple[list[dict[int, Decimal | None]], dict[int, tuple[Decimal, datetime]]]:
    """`model_raws` of many (customer, day) points at once, keyed by each point's index in `points`.

    The points are a VALUES list (customer, the day's end, and the start of every window width the model uses)
    joined to the events: one scan for the count, sum and avg components, one statement per distinct component,
    one window-function statement for every `last` group and the seats, whatever the number of points and days.
    """
    raws: list[dict[int, Decimal | None]] = [{} for _ in components]
    if not points:
        return raws, {}
    widths = sorted({c.window_days for c in components})
    when = UsageEvent.occurred_at.type
    wanted = (
        values(
            column("n", Integer),
            column("customer_id", String),
            column("hi", when),
            *(column(f"lo{w}", when) for w in widths),
            name="points",
        )
        .data(
            [
                (n, cid, day_end(day), *(day_end(day) - timedelta(days=w) for w in widths))
                for n, (cid, day) in enumerate(points)
            ]
        )
        .cte("points")
    )
    _point_windowed(session, components, raws, wanted)
    return raws, _point_lasts(session, components, raws, wanted, points, seats=seats)


def _upto(wanted: Any) -> ColumnElement[bool]:
    """The point's customer's events before the end of its day."""
    return and_(UsageEvent.customer_id == wanted.c.customer_id, UsageEvent.occurred_at < wanted.c.hi)


def _point_windowed(
    session: Session,
    components: Sequence[UsageComponent],
    raws: list[dict[int, Decimal | None]],
    wanted: Any,
) -> None:
    """Fill `raws` for the count, sum, avg and distinct components of `point_raws`' points."""
    windowed = [(i, c) for i, c in enumerate(components) if c.aggregate != "last"]
    if not windowed:
        return
    upto = _upto(wanted)
    columns: list[Any] = [wanted.c.n]
    for _, c in windowed:
        match = _match(c.kind, c.where)
        in_window = and_(match, UsageEvent.occurred_at >= wanted.c[f"lo{c.window_days}"])
        columns.append(func.count(case((match, 1))))
        columns.append(func.count(case((in_window, 1))))
        columns.append(func.sum(case((in_window, VALUE_MICROS))) if c.aggregate in ("sum", "avg") else null())
    kinds = UsageEvent.kind.in_(sorted({c.kind for _, c in windowed}))
    stmt = select(*columns).select_from(wanted).join(UsageEvent, and_(upto, kinds)).group_by(wanted.c.n)
    distinct_ever: dict[int, list[int]] = {i: [] for i, c in windowed if c.aggregate == "distinct"}
    for row in session.execute(stmt):
        n = row[0]
        for position, (i, c) in enumerate(windowed):
            ever, count, measure = row[1 + 3 * position : 4 + 3 * position]
            if not ever:
                continue
            if c.aggregate == "distinct":
                distinct_ever[i].append(n)
            else:
                raws[i][n] = windowed_raw(c.aggregate, count, measure)
    for i, ever in distinct_ever.items():
        c = components[i]
        assert c.property is not None  # noqa: S101 - the schema requires it
        counted = (
            select(wanted.c.n, func.count(distinct(UsageEvent.properties[c.property].as_string())))
            .select_from(wanted)
            .join(
                UsageEvent,
                and_(upto, _match(c.kind, c.where), UsageEvent.occurred_at >= wanted.c[f"lo{c.window_days}"]),
            )
            .group_by(wanted.c.n)
        )
        found = {n: count for n, count in session.execute(counted)}
        raws[i] = {n: Decimal(found.get(n, 0)) for n in ever}


def _point_lasts(
    session: Session,
    components: Sequence[UsageComponent],
    raws: list[dict[int, Decimal | None]],
    wanted: Any,
    points: Sequence[tuple[str, date]],
    *,
    seats: bool,
) -> dict[int, tuple[Decimal, datetime]]:
    """Fill `raws` for the `last` components of `point_raws`' points; the latest seats of each when `seats`."""
    lasts = [(i, c) for i, c in enumerate(components) if c.aggregate == "last"]
    groups = last_groups(lasts)
    if seats:
        groups.append(("seats", None))
    if not groups:
        return {}
    upto = _upto(wanted)
    parts = [
        select(
            literal(g, Integer).label("g"),
            wanted.c.n,
            VALUE_MICROS.label("value"),
            UsageEvent.occurred_at,
            UsageEvent.id,
        )
        .select_from(wanted)
        .join(UsageEvent, and_(upto, _match(kind, where)))
        for g, (kind, where) in enumerate(groups)
    ]
    united = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    rank = func.row_number().over(
        partition_by=(united.c.g, united.c.n), order_by=(united.c.occurred_at.desc(), united.c.id.desc())
    )
    ranked = select(united.c.g, united.c.n, united.c.value, united.c.occurred_at, rank.label("rn")).subquery()
    latest: list[dict[int, tuple[Decimal, datetime]]] = [{} for _ in groups]
    stmt = select(ranked.c.g, ranked.c.n, ranked.c.value, ranked.c.occurred_at).where(ranked.c.rn == 1)
    for g, n, micros, occurred in session.execute(stmt):
        value = from_micros(micros)
        assert value is not None  # noqa: S101 - the column is NOT NULL
        latest[g][n] = (value, occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC))
    for i, c in lasts:
        found_latest = latest[groups.index((c.kind, c.where))]
        raws[i] = {
            n: (value if occurred >= day_end(points[n][1]) - timedelta(days=c.window_days) else None)
            for n, (value, occurred) in found_latest.items()
        }
    return latest[-1] if seats else {}
