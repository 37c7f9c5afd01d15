"""Churn labels and the churn fit (SPEC §6, §10): churn movements, labelled (customer, date) pairs, the logistic.

A *labelled pair* is a customer paying on a day d (ARR > 0), labelled churned when it has a churn movement dated
after d and on or before d + horizon. `labelled_pairs` is its one definition, as one set-based statement: the
backtest (`app/health/backtest.py`) and the churn fit below both read their pairs through it.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    Integer,
    LargeBinary,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
    values,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from app.ledger import service as ledger
from app.models import ArrChange, ChurnModel, HealthSnapshot

CHURN_HORIZON_DAYS = 90


@dataclass(frozen=True)
class ChurnFit:
    """P(churn within 90 days) = 1 / (1 + exp(-(intercept + coefficient * score)))."""

    intercept: float
    coefficient: float
    examples: int
    churns: int


# A churn movement: a day the customer's total ARR fell to 0 (SPEC §3), stored on each product's change that day.
CHURN = ArrChange.movement_type == "churn"


def churn_movements() -> Select[str, date]:
    """Each churn movement once, as (customer_id, churned_on)."""
    # A churn is customer-level (total > 0 -> 0) but stored per product: one customer leaving two products on one
    # day is two rows and one churn, hence DISTINCT. A customer that churns, returns and churns again has two.
    return select(ArrChange.customer_id, ArrChange.effective_date.label("churned_on")).where(CHURN).distinct()


def churn_dates(session: Session) -> dict[str, list[date]]:
    """Each customer's churn days (its churn movements), oldest first."""
    moves = churn_movements().subquery()
    dates: dict[str, list[date]] = {}
    for customer_id, day in session.execute(select(moves).order_by(moves.c.customer_id, moves.c.churned_on)):
        dates.setdefault(customer_id, []).append(day)
    return dates


def labelled_pairs(days: Sequence[date], *, horizon_days: int, columns: Sequence[Any] = ()) -> Select[Any]:
    """The labelled pairs of `days` as ONE statement: every customer paying on each day, with its churn movements.

    One row per pair: (n, customer_id, churned_on, *columns). n is the day's index in `days`; churned_on lists the
    days of the customer's churn movements in (day, day + horizon_days], comma-separated (null: none, so the pair
    is retained); `columns` are read from the customer's stored snapshot of that day (outer-joined: null without
    one). A single scan of each customer's changes up to day + horizon answers both: ARR on the day is the ledger's
    `arr_before` the next day, the churns are the later changes of type churn.
    """
    table = (
        values(column("n", Integer), column("d", Date), column("after", Date), column("until", Date), name="days")
        .data([(n, d, d + timedelta(days=1), d + timedelta(days=horizon_days)) for n, d in enumerate(days)])
        .cte("days")
    )
    in_horizon = and_(CHURN, ArrChange.effective_date > table.c.d)
    paying = (
        select(
            table.c.n,
            table.c.d,
            ArrChange.customer_id,
            func.aggregate_strings(case((in_horizon, cast(ArrChange.effective_date, String))), ",").label("churned_on"),
        )
        .select_from(table)
        .join(ArrChange, ArrChange.effective_date <= table.c.until)
        .group_by(table.c.n, table.c.d, ArrChange.customer_id)
        .having(ledger.arr_before(table.c.after) > 0)
        .subquery("paying")
    )
    stmt = select(paying.c.n, paying.c.customer_id, paying.c.churned_on, *columns).select_from(paying)
    if columns:
        same_day = and_(HealthSnapshot.customer_id == paying.c.customer_id, HealthSnapshot.snapshot_date == paying.c.d)
        stmt = stmt.outerjoin(HealthSnapshot, same_day)
    return stmt


@dataclass(frozen=True)
class Labelled:
    """Labelled pairs, one per (day, customer), as arrays ordered by day then customer id; `columns` as fetched."""

    day: np.ndarray  # the day's index in the days asked for
    customer: np.ndarray  # customer ids (objects)
    churned: np.ndarray  # bool: a churn movement in the horizon
    columns: list[np.ndarray]  # the statement's extra columns (objects, or a float matrix for `doubles`)
    # Every (pair, churn movement) found: the pair's position, the customer, the churn day.
    churn_pair: np.ndarray
    churn_customer: np.ndarray
    churn_day: np.ndarray

    def __len__(self) -> int:
        return len(self.day)

    def churns(self, keep: np.ndarray | None = None) -> int:
        """Distinct churn movements among the labels (of the pairs `keep` marks): twice if a customer churned
        twice, once however many of its pairs precede the same churn (SPEC §10)."""
        found = np.ones(len(self.churn_pair), dtype=bool) if keep is None else keep[self.churn_pair]
        return len(set(zip(self.churn_customer[found].tolist(), self.churn_day[found].tolist(), strict=True)))

    def take(self, keep: np.ndarray) -> "Labelled":
        """Only the pairs `keep` marks (a boolean mask), their churn movements renumbered."""
        position = np.cumsum(keep) - 1
        found = keep[self.churn_pair]
        return Labelled(
            self.day[keep],
            self.customer[keep],
            self.churned[keep],
            [c[keep] for c in self.columns],
            position[self.churn_pair[found]],
            self.churn_customer[found],
            self.churn_day[found],
        )


def doubles(session: Session, values: Sequence[Any]) -> Any:
    """Numbers of a pair packed into one column that `fetch_labelled` returns as a row of a float matrix (NaN for
    null): big-endian doubles (`float8send`) on PostgreSQL, a JSON array on SQLite.

    A backtest of 10,000 customers over 26 weeks reads 2.3 million component scores: as doubles they travel
    without being written and parsed as decimal text, which cost more than the rest of the read.
    """
    if session.get_bind().dialect.name != "postgresql":
        return func.json_array(*values, type_=JSON)
    nan: ColumnElement[Any] = literal_column("'NaN'::float8")
    packed: list[ColumnElement[Any]] = [func.float8send(func.coalesce(value, nan)) for value in values]
    return type_coerce(reduce(lambda left, right: left.op("||")(right), packed), LargeBinary)


def fetch_labelled(
    session: Session, days: Sequence[date], *, horizon_days: int, columns: Sequence[Any] = ()
) -> Labelled:
    """`labelled_pairs` of `days`, one entry per pair: its rows gathered per day into arrays by the database.

    One row per day travels instead of one per pair, still in one statement: building a Python
    row per pair was most of the cost of a large backtest (`array_agg` on PostgreSQL, `json_group_array` on
    SQLite; the aggregates of a group see its rows in one order, so the arrays line up). A `doubles` column
    comes back as a float matrix, one row per pair.
    """
    packed = [isinstance(c.type, LargeBinary | JSON) for c in columns]
    if not days:
        return _merge([], packed)
    pairs = labelled_pairs(days, horizon_days=horizon_days, columns=columns).subquery("pairs")
    postgres = session.get_bind().dialect.name == "postgresql"

    def gather(value: Any) -> Any:
        if not postgres:
            return func.json_group_array(func.json(value) if isinstance(value.type, JSON) else value)
        if isinstance(value.type, LargeBinary):
            return type_coerce(func.string_agg(value, literal(b"", LargeBinary)), NullType())
        # As the driver reads it: SQLAlchemy's ARRAY type would walk every element again.
        return type_coerce(func.array_agg(value), NullType())

    stmt = select(pairs.c.n, *(gather(c) for c in list(pairs.c)[1:])).group_by(pairs.c.n)
    by_day = [(n, arrays if postgres else [json.loads(a) for a in arrays]) for n, *arrays in session.execute(stmt)]
    return _merge(by_day, packed)


def _objects(values: list[Any]) -> np.ndarray:
    """A one-dimensional array of these values, lists among them kept whole (np.array would nest them)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _column(values: Any, rows: int, packed: bool) -> np.ndarray:
    """One day's values of a column: a float matrix of `rows` rows for a `doubles` column, else objects."""
    if not packed:
        return _objects(values)
    if isinstance(values, bytes | memoryview):
        return np.frombuffer(values, dtype=">f8").reshape(rows, -1).astype(float)
    return np.array(values, dtype=float).reshape(rows, -1)  # JSON arrays (SQLite): null reads as NaN


def _merge(by_day: list[tuple[int, list[Any]]], packed: list[bool]) -> Labelled:
    """Per day (customer ids, churn days, *columns) arrays as one entry per pair, in (day, customer id) order,
    with each pair's churn movements listed for `churns`."""
    parts: list[tuple[np.ndarray, ...]] = []
    for n, arrays in sorted(by_day, key=lambda item: item[0]):
        customer = _objects(arrays[0])
        order = np.argsort(customer, kind="stable")
        churned_on = _objects(arrays[1])[order]
        extra = (_column(a, len(customer), p)[order] for a, p in zip(arrays[2:], packed, strict=True))
        parts.append((np.full(len(customer), n, dtype=np.int64), customer[order], churned_on, *extra))
    if not parts:
        empty = np.array([], dtype=object)
        extra = (np.empty((0, 0)) if p else empty for p in packed)
        parts = [(np.array([], dtype=np.int64), empty, empty, *extra)]
    column = [np.concatenate(c) for c in zip(*parts, strict=True)]
    day, customer, churned_on = column[:3]
    churned = churned_on != None  # noqa: E711 - elementwise over an object array
    # Only the churned pairs (a few percent) carry churn days: (pair, customer, day) once per distinct day.
    moves = [(at, customer[at], d) for at in np.flatnonzero(churned) for d in set(churned_on[at].split(","))]
    pair, who, when = (list(c) for c in zip(*moves, strict=True)) if moves else ([], [], [])
    return Labelled(
        day, customer, churned, column[3:],
        np.array(pair, dtype=np.int64), np.array(who, dtype=object), np.array(when, dtype=object),
    )  # fmt: skip


def snapshot_days(session: Session, *, first: date | None, last: date) -> dict[date, list[int]]:
    """The days with stored snapshots from `first` (None: the oldest) to `last`, each with the model versions that
    scored them."""
    stmt = select(HealthSnapshot.snapshot_date, HealthSnapshot.model_version).where(
        HealthSnapshot.snapshot_date <= last
    )
    if first is not None:
        stmt = stmt.where(HealthSnapshot.snapshot_date >= first)
    stmt = stmt.group_by(HealthSnapshot.snapshot_date, HealthSnapshot.model_version)
    days: dict[date, list[int]] = {}
    for day, version in session.execute(stmt.order_by(HealthSnapshot.snapshot_date, HealthSnapshot.model_version)):
        days.setdefault(day, []).append(version)
    return days


@dataclass(frozen=True)
class LabelledScores:
    """The churn fit's examples: scores, labels, and the distinct churn movements among them."""

    scores: np.ndarray
    churned: np.ndarray
    churns: int


def labelled_snapshots(session: Session, *, today: date) -> LabelledScores:
    """Every scored snapshot of a paying customer whose 90-day outcome is known by `today`, labelled churned when a
    churn movement follows within 90 days (the labelled pairs of `labelled_pairs`, on the stored snapshot days)."""
    days = list(snapshot_days(session, first=None, last=today - timedelta(days=CHURN_HORIZON_DAYS)))
    score = doubles(session, [HealthSnapshot.score])
    pairs = fetch_labelled(session, days, horizon_days=CHURN_HORIZON_DAYS, columns=[score])
    scores = pairs.columns[0].reshape(len(pairs), 1)[:, 0]
    kept = pairs.take(~np.isnan(scores))
    return LabelledScores(scores[~np.isnan(scores)], kept.churned, kept.churns())


def fit_churn(scores: np.ndarray, churned: np.ndarray, *, churns: int, min_churns: int) -> ChurnFit | None:
    """A logistic regression of churned-within-90-days on score; None with fewer than `min_churns` churns.

    `churns` counts churn movements (SPEC §10), not positive examples: a customer scored daily for the 90 days
    before it left is 90 positive examples and one churn.
    """
    positives = int(np.count_nonzero(churned))
    if churns < min_churns or positives in (0, len(churned)):
        return None  # too few churns (or one class only) to say anything better than the defaults
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - heavy import, only when fitting

    model = LogisticRegression()
    model.fit(np.asarray(scores, dtype=float).reshape(-1, 1), np.asarray(churned, dtype=int))
    return ChurnFit(float(model.intercept_[0]), float(model.coef_[0][0]), len(churned), churns)


def refit(session: Session, *, today: date, min_churns: int) -> ChurnModel | None:
    """Fit on the stored snapshots and churns; store and return the model, or None if too few churns."""
    examples = labelled_snapshots(session, today=today)
    fit = fit_churn(examples.scores, examples.churned, churns=examples.churns, min_churns=min_churns)
    if fit is None:
        return None
    row = ChurnModel(intercept=fit.intercept, coefficient=fit.coefficient, examples=fit.examples, churns=fit.churns)
    session.add(row)
    session.flush()
    return row
