"""Health model versions, point-in-time health scores, snapshots and history (SPEC §6)."""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Select, Table, and_, func, select
from sqlalchemy.orm import Session

from app import formulas, records
from app.batch import dialect_insert
from app.db import utcnow
from app.errors import Unprocessable
from app.health import events, queries
from app.health.defaults import DEFAULT_MODEL, DEFAULT_VERSION
from app.health.schemas import (
    ComponentIn,
    ComponentOut,
    CustomerHealthOut,
    HealthHistoryQuery,
    HealthModelIn,
    HealthModelOut,
    HealthSnapshotOut,
    SnapshotResult,
)
from app.models import ChurnModel, Customer, HealthModel, HealthSnapshot
from app.pagination import Page, make_page

_UPSERT_CHUNK = 1_000
K = TypeVar("K", str, int)  # a customer id, or the index of a (customer, day) point


@dataclass(frozen=True)
class ModelSpec:
    """The health model in force: its version, components and bands."""

    version: int
    model: HealthModelIn
    default: bool
    created_at: datetime | None = None


# One component of a customer's health: name, weight, raw, score, contribution (ComponentOut's fields).
Part = tuple[str, float, float | None, float | None, float | None]


@dataclass(frozen=True)
class Health:
    """One customer's health on one day."""

    score: float | None
    band: str | None
    coverage: float
    parts: tuple[Part, ...] = ()

    @property
    def components(self) -> list[ComponentOut]:
        """The parts as response models (built on demand: a snapshot of every customer needs only `parts`)."""
        return [ComponentOut(name=n, weight=w, raw=r, score=s, contribution=p) for n, w, r, s, p in self.parts]


def latest_churn_fit(session: Session) -> ChurnModel | None:
    """The most recently fitted churn model, if any (SPEC §6: until one exists, per-band defaults apply)."""
    return session.scalars(select(ChurnModel).order_by(ChurnModel.id.desc()).limit(1)).first()


def latest_snapshots(*, customer_ids: Sequence[str] | None = None, through: date | None = None) -> Select[Any]:
    """Each customer's latest health snapshot (on or before `through`): the rows portfolio reads use (SPEC §6)."""
    return _latest(HealthSnapshot, customer_ids=customer_ids, through=through)


def customers_in_band(band: str) -> Select[Any]:
    """Ids of the customers whose latest health snapshot is in `band`, as a subquery for filters."""
    return _latest(HealthSnapshot.customer_id).where(HealthSnapshot.band == band)


def _latest(*columns: Any, customer_ids: Sequence[str] | None = None, through: date | None = None) -> Select[Any]:
    latest = select(HealthSnapshot.customer_id, func.max(HealthSnapshot.snapshot_date).label("day"))
    if customer_ids is not None:
        latest = latest.where(HealthSnapshot.customer_id.in_(customer_ids))
    if through is not None:
        latest = latest.where(HealthSnapshot.snapshot_date <= through)
    day = latest.group_by(HealthSnapshot.customer_id).subquery()
    same = and_(day.c.customer_id == HealthSnapshot.customer_id, day.c.day == HealthSnapshot.snapshot_date)
    return select(*columns).join(day, same)


def usage_sum(session: Session, customer_id: str, kind: str, *, as_of: date, window_days: int) -> Decimal | None:
    """Σ of the customer's `kind` event values over the `window_days` days ending `as_of` (a sum component, 0
    without events): how an intervention's expected usage metric is measured (SPEC §5)."""
    component = ComponentIn(
        name="outcome", weight=1, kind=kind, aggregate="sum", window_days=window_days, bad=0, good=1
    )
    return queries.component_raw(session, component, as_of=as_of, customers=[customer_id]).get(customer_id, Decimal(0))


def usage_sums(
    session: Session, windows: set[tuple[str, str, date]], window_days: int
) -> dict[tuple[str, str, date], Decimal]:
    """`usage_sum` of every (customer, kind, day) window, in one statement however many windows."""
    return queries.window_sums(session, windows, window_days=window_days)


def current_model(session: Session) -> ModelSpec:
    """The highest stored model version, or the built-in default (version 1) when none is stored."""
    row = session.scalars(select(HealthModel).order_by(HealthModel.version.desc()).limit(1)).first()
    if row is None:
        return ModelSpec(DEFAULT_VERSION, DEFAULT_MODEL, default=True)
    model = HealthModelIn.model_validate({"components": row.components, "bands": row.bands})
    return ModelSpec(row.version, model, default=False, created_at=row.created_at)


def _model_out(spec: ModelSpec) -> HealthModelOut:
    return HealthModelOut(
        version=spec.version,
        default=spec.default,
        created_at=spec.created_at,
        components=spec.model.components,
        bands=spec.model.bands,
    )


def get_health_model(session: Session) -> HealthModelOut:
    """The health model in force."""
    return _model_out(current_model(session))


def put_health_model(session: Session, body: HealthModelIn) -> HealthModelOut:
    """Store `body` as the next model version (versions are never edited, so old scores stay replayable)."""
    stored = session.scalar(select(func.max(HealthModel.version))) or DEFAULT_VERSION
    row = HealthModel(
        version=max(stored, DEFAULT_VERSION) + 1,
        components=[c.model_dump(mode="json") for c in body.components],
        bands=body.bands.model_dump(mode="json"),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _model_out(ModelSpec(row.version, body, default=False, created_at=row.created_at))


def _per_seat(raw: Decimal | None, seats: Decimal | None) -> Decimal | None:
    # No seats value (or a non-positive one) means the per-seat component has no data (SPEC §6).
    return None if raw is None or seats is None or seats <= 0 else raw / seats


def _customer_health(
    cid: K, spec: ModelSpec, raws: Sequence[Mapping[K, Decimal | None]], seats: Mapping[K, tuple[Decimal, datetime]]
) -> Health:
    components: Sequence[ComponentIn] = spec.model.components
    values: list[float | None] = []
    scores: list[float | None] = []
    seat = seats[cid][0] if cid in seats else None
    for component, raw_by_customer in zip(components, raws, strict=True):
        raw = raw_by_customer.get(cid)
        if component.per_seat:
            raw = _per_seat(raw, seat)
        value = None if raw is None else float(raw)
        values.append(value)
        scores.append(
            None if value is None else formulas.component_score(value, bad=component.bad, good=component.good)
        )
    combined = formulas.combine([(c.weight, s) for c, s in zip(components, scores, strict=True)])
    bands = spec.model.bands
    parts = tuple(
        (c.name, float(c.weight), v, s, p)
        for c, v, s, p in zip(components, values, scores, combined.contributions, strict=True)
    )
    band = formulas.band_of(combined.score, red_below=bands.red_below, green_from=bands.green_from)
    return Health(combined.score, band, combined.coverage, parts)


def compute_health(
    session: Session,
    *,
    as_of: date,
    customers: Sequence[str] | None,
    spec: ModelSpec,
    first: Sequence[Mapping[str, datetime]] | None = None,
) -> dict[str, Health]:
    """Health on `as_of` for `customers` (None: all), from events up to that day, in a few set-based queries.

    `first` (`first_seen(session, spec)`, read once for many days) lets each day read only the model's windows.
    """
    components = spec.model.components
    raws, seats = queries.model_raws(
        session, components, as_of=as_of, customers=customers, seats=any(c.per_seat for c in components), first=first
    )
    ids = customers if customers is not None else session.scalars(select(Customer.id)).all()
    return {cid: _customer_health(cid, spec, raws, seats) for cid in ids}


def health_on(session: Session, customer_id: str, as_of: date, *, spec: ModelSpec | None = None) -> Health:
    """One customer's health on `as_of` (point in time: events up to that day), by `spec` or the current model."""
    model = spec or current_model(session)
    return compute_health(session, as_of=as_of, customers=[customer_id], spec=model)[customer_id]


def _snapshot_scores(
    session: Session, days: Sequence[date], customers: Sequence[str] | None
) -> dict[tuple[str, date], float | None]:
    """Stored snapshot scores on `days` (of `customers`, None: all), keyed by (customer, day), in one statement.

    Any stored snapshot counts: snapshots are computed with the model in force when taken, and the health model
    has no rule yet for replaying an older version's snapshot under a newer one.
    """
    if not days:
        return {}
    stmt = select(HealthSnapshot.customer_id, HealthSnapshot.snapshot_date, HealthSnapshot.score).where(
        HealthSnapshot.snapshot_date.in_(sorted(set(days)))
    )
    if customers is not None:
        stmt = stmt.where(HealthSnapshot.customer_id.in_(sorted(set(customers))))
    return {(cid, day): score for cid, day, score in session.execute(stmt)}


def scores_on(
    session: Session, pairs: set[tuple[str, date]], *, spec: ModelSpec | None = None
) -> dict[tuple[str, date], float | None]:
    """The health score of each (customer, day) pair: the stored snapshot of that day when there is one, else the
    point-in-time score, computed for all the remaining pairs in one set-based pass (`queries.point_raws`)."""
    if not pairs:
        return {}
    found = _snapshot_scores(session, [d for _, d in pairs], [c for c, _ in pairs])
    result = {pair: found[pair] for pair in pairs if pair in found}
    points = sorted(pairs - found.keys())
    if points:
        model = spec or current_model(session)
        components = model.model.components
        raws, seats = queries.point_raws(session, components, points, seats=any(c.per_seat for c in components))
        result.update({point: _customer_health(n, model, raws, seats).score for n, point in enumerate(points)})
    return result


def first_seen(session: Session, spec: ModelSpec) -> list[dict[str, datetime]]:
    """When each customer first had each of the model's components' events (for `compute_health`'s `first`)."""
    return queries.first_seen(session, spec.model.components, customers=None)


def book_scores(
    session: Session, day: date, *, spec: ModelSpec, first: Sequence[Mapping[str, datetime]] | None = None
) -> dict[str, float | None]:
    """Every customer's health score on `day`: the day's stored snapshots when it has any (point in time for the
    customers they miss), else point in time for the whole book in one set-based pass."""
    stored = {cid: score for (cid, _), score in _snapshot_scores(session, [day], None).items()}
    if not stored:
        health = compute_health(session, as_of=day, customers=None, spec=spec, first=first)
        return {cid: h.score for cid, h in health.items()}
    others = sorted(set(session.scalars(select(Customer.id))) - stored.keys())
    if others:
        health = compute_health(session, as_of=day, customers=others, spec=spec, first=first)
        stored.update({cid: h.score for cid, h in health.items()})
    return stored


def get_customer_health(
    session: Session, customer_id: str, *, as_of: date, churn_defaults: Mapping[str, float]
) -> CustomerHealthOut:
    """A customer's score, band, coverage, components, 30-day change and churn probability on `as_of`."""
    records.get_record(session, Customer, customer_id)
    spec = current_model(session)
    now = health_on(session, customer_id, as_of, spec=spec)
    before = compute_health(session, as_of=as_of - timedelta(days=30), customers=[customer_id], spec=spec)
    earlier = before[customer_id].score
    return CustomerHealthOut(
        customer=customer_id,
        as_of=as_of,
        score=now.score,
        band=now.band,
        coverage=now.coverage,
        model_version=spec.version,
        components=now.components,
        change_30d=None if now.score is None or earlier is None else now.score - earlier,
        churn_probability=formulas.churn_probability(
            now.score, now.band, fit=latest_churn_fit(session), defaults=churn_defaults
        ),
    )


def snapshot_health(session: Session, *, day: date) -> SnapshotResult:
    """Compute every customer's health on `day` set-based and store it, replacing that day's snapshot."""
    spec = current_model(session)
    results = compute_health(session, as_of=day, customers=None, spec=spec)
    forget_snapshot_reads(session)
    now = utcnow()
    rows = [
        {
            "customer_id": cid,
            "snapshot_date": day,
            "score": health.score,
            "band": health.band,
            "coverage": health.coverage,
            "model_version": spec.version,
            "components": [
                {"name": n, "weight": w, "raw": r, "score": s, "contribution": p} for n, w, r, s, p in health.parts
            ],
            "created_at": now,
        }
        for cid, health in results.items()
    ]
    table: Table = HealthSnapshot.__table__  # type: ignore[assignment]
    for start in range(0, len(rows), _UPSERT_CHUNK):
        stmt = dialect_insert(session, table)
        keep = ("customer_id", "snapshot_date")
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.customer_id, table.c.snapshot_date],
            set_={c.name: stmt.excluded[c.name] for c in table.c if c.name not in keep},
        )
        session.execute(stmt, rows[start : start + _UPSERT_CHUNK])
    events.emit_snapshot_events(session, day)  # webhooks (SPEC §11), in the snapshot's transaction
    return SnapshotResult(date=day, customers=len(rows), model_version=spec.version)


def list_health_history(session: Session, customer_id: str, query: HealthHistoryQuery) -> Page[HealthSnapshotOut]:
    """A customer's stored snapshots between start and end (inclusive), oldest first."""
    records.get_record(session, Customer, customer_id)
    stmt = select(HealthSnapshot).where(HealthSnapshot.customer_id == customer_id)
    if query.start:
        stmt = stmt.where(HealthSnapshot.snapshot_date >= query.start)
    if query.end:
        stmt = stmt.where(HealthSnapshot.snapshot_date <= query.end)
    after = query.after()
    if after:
        try:
            last = date.fromisoformat(str(after[0]))
        except ValueError:
            raise Unprocessable(
                "The cursor does not belong to this list.",
                [{"loc": ["query", "cursor"], "msg": "not a cursor of this list", "type": "value_error"}],
            ) from None
        stmt = stmt.where(HealthSnapshot.snapshot_date > last)
    rows = session.scalars(stmt.order_by(HealthSnapshot.snapshot_date).limit(query.limit + 1)).all()
    items = [HealthSnapshotOut.model_validate(r) for r in rows]
    return make_page(items, query.limit, key=lambda r: [r.snapshot_date.isoformat()])


# --- The whole book on many days: what the ROI baseline and matched controls read ------------------------------
# A customer's score on a day is its latest stored snapshot taken on that day or in the CARRY_DAYS before (the
# snapshot job runs weekly, so a weekly snapshot stands for the days until the next one, as experiments'
# eligibility reads it); a (customer, day) without one gets its point-in-time score, all such pairs in one
# set-based pass (`scores_on`). A few statements whatever the number of days or customers.

POINTS_CHUNK = 5_000  # (customer, day) points per point-in-time pass: well inside PostgreSQL's 65,535 parameters
CARRY_DAYS = 6  # a snapshot stands for its own day and the 6 days after it (a weekly snapshot covers the week)

# Band codes in the `bands` arrays.
NO_BAND, RED, YELLOW, GREEN = 0, 1, 2, 3
BAND_CODES = {"red": RED, "yellow": YELLOW, "green": GREEN}


@dataclass(frozen=True)
class BookHealth:
    """Scores of every customer (rows, in id order) on each requested day (columns); NaN: no score."""

    customers: list[str]
    index: dict[str, int]
    days: dict[date, int]
    scores: np.ndarray
    red_below: float
    green_from: float

    def score(self, day: date) -> np.ndarray:
        """Every customer's score on `day` (NaN: none)."""
        return self.scores[:, self.days[day]]

    def band(self, day: date) -> np.ndarray:
        """Every customer's band code on `day` (NO_BAND, RED, YELLOW, GREEN), by the model's thresholds."""
        return self.bands[:, self.days[day]]

    @cached_property
    def bands(self) -> np.ndarray:
        """The band codes of every (customer, day), computed once."""
        return band_codes(self.scores, red_below=self.red_below, green_from=self.green_from)


def band_codes(scores: np.ndarray, *, red_below: float, green_from: float) -> np.ndarray:
    """`formulas.band_of` over an array: red below `red_below`, green from `green_from`, yellow between."""
    codes = np.full(scores.shape, NO_BAND, dtype=np.int8)
    scored = ~np.isnan(scores)
    codes[scored & (scores < red_below)] = RED
    codes[scored & (scores >= red_below) & (scores < green_from)] = YELLOW
    codes[scored & (scores >= green_from)] = GREEN
    return codes


def customer_ids(session: Session) -> list[str]:
    """Every customer id, in id order: the rows of a `BookHealth` (and of the ledger's arrays)."""
    return list(session.scalars(select(Customer.id).order_by(Customer.id)))


def book_health(session: Session, days: Iterable[date], *, spec: ModelSpec | None = None) -> BookHealth:
    """Every customer's score (rows in `customer_ids` order) on each of `days` (see above for which score)."""
    ids = customer_ids(session)
    index = {cid: n for n, cid in enumerate(ids)}
    wanted = sorted(set(days))
    columns = {day: n for n, day in enumerate(wanted)}
    scores = np.full((len(ids), len(wanted)), np.nan)
    covered = np.zeros((len(ids), len(wanted)), dtype=bool)
    model = spec or current_model(session)
    if wanted and ids:
        _from_snapshots(session, wanted, index, scores, covered)
        _whole_days(session, wanted, ids, model, scores=scores, covered=covered)
        missing = np.argwhere(~covered)
        for first in range(0, len(missing), POINTS_CHUNK):
            chunk = missing[first : first + POINTS_CHUNK]
            found = scores_on(session, {(ids[row], wanted[col]) for row, col in chunk}, spec=model)
            for row, col in chunk:
                value = found.get((ids[row], wanted[col]))
                if value is not None:
                    scores[row, col] = value
    bands = model.model.bands
    return BookHealth(ids, index, columns, scores, bands.red_below, bands.green_from)


def _whole_days(
    session: Session, wanted: list[date], ids: list[str], spec: ModelSpec, *, scores: np.ndarray, covered: np.ndarray
) -> None:
    """Days no snapshot covers at all (a book that never ran the snapshot job): the whole book point in time, each
    day reading only the model's windows (`first_seen` once). A statement or two per such day: run the snapshot
    job (POST /v1/health/snapshots) to make these reads a single one."""
    bare = [col for col in range(len(wanted)) if not covered[:, col].any()]
    if not bare:
        return
    first = first_seen(session, spec)
    for col in bare:
        health = compute_health(session, as_of=wanted[col], customers=None, spec=spec, first=first)
        column = np.array([np.nan if (h := health.get(cid)) is None or h.score is None else h.score for cid in ids])
        scores[:, col] = column
        covered[:, col] = True


def _snapshot_columns(session: Session, first: date, last: date) -> dict[date, tuple[np.ndarray, np.ndarray]]:
    """Stored snapshots from `first` to `last`, one row per day: each customer's position in `customer_ids` order
    and its score, as two arrays (a year of weekly snapshots of 10,000 customers is 52 rows of numbers to read,
    not 520,000 rows with an id each)."""
    # One request may ask twice (the ROI baseline, then its controls): days already read come from the session.
    cache: dict[date, tuple[np.ndarray, np.ndarray]] = session.info.setdefault(_SNAPSHOT_CACHE, {})
    ranges: list[tuple[date, date]] = session.info.setdefault(_SNAPSHOT_RANGES, [])
    if not any(a <= first and last <= b for a, b in ranges):
        postgres = session.get_bind().dialect.name == "postgresql"
        aggregate = func.array_agg if postgres else func.json_group_array
        # The same order as customer_ids' ORDER BY id, in the database's own collation.
        ranked = select(Customer.id, (func.row_number().over(order_by=Customer.id) - 1).label("rn")).subquery()
        known = sorted(d for d in cache if first <= d <= last)
        stmt = (
            select(HealthSnapshot.snapshot_date, aggregate(ranked.c.rn), aggregate(HealthSnapshot.score))
            .join(ranked, ranked.c.id == HealthSnapshot.customer_id)
            .where(HealthSnapshot.snapshot_date >= first, HealthSnapshot.snapshot_date <= last)
            .group_by(HealthSnapshot.snapshot_date)
        )
        if known:
            stmt = stmt.where(HealthSnapshot.snapshot_date.not_in(known))
        for day, positions, day_scores in session.execute(stmt):
            rows, values = (positions, day_scores) if postgres else (json.loads(positions), json.loads(day_scores))
            cache[day] = (np.array(rows, dtype=np.int64), np.array(values, dtype=float))
        ranges.append((first, last))
    return {day: columns for day, columns in cache.items() if first <= day <= last}


_SNAPSHOT_CACHE, _SNAPSHOT_RANGES = "csroi.snapshot_columns", "csroi.snapshot_ranges"


def forget_snapshot_reads(session: Session) -> None:
    """Drop what `_snapshot_columns` kept for this session (a write of snapshots makes it stale)."""
    session.info.pop(_SNAPSHOT_CACHE, None)
    session.info.pop(_SNAPSHOT_RANGES, None)


def _from_snapshots(
    session: Session, wanted: list[date], index: dict[str, int], scores: np.ndarray, covered: np.ndarray
) -> None:
    """Fill the (customer, day) cells a snapshot of that day or of the `CARRY_DAYS` before it covers (the latest)."""
    by_day = _snapshot_columns(session, wanted[0] - timedelta(days=CARRY_DAYS), wanted[-1])
    if not by_day:
        return
    snapshot_days = sorted(by_day)
    taken = np.zeros((len(index), len(snapshot_days)), dtype=bool)
    values = np.full((len(index), len(snapshot_days)), np.nan)
    for slot, day in enumerate(snapshot_days):
        rows, day_scores = by_day[day]
        taken[rows, slot] = True
        values[rows, slot] = day_scores  # a null score reads as NaN: no score
    ordinals = np.array([d.toordinal() for d in snapshot_days])
    for col, day in enumerate(wanted):
        # The snapshot days that may stand for `day`, latest first: the latest one a customer has wins.
        lo = np.searchsorted(ordinals, day.toordinal() - CARRY_DAYS, side="left")
        hi = np.searchsorted(ordinals, day.toordinal(), side="right")
        for s in range(hi - 1, lo - 1, -1):
            fill = taken[:, s] & ~covered[:, col]
            scores[fill, col] = values[fill, s]
            covered[fill, col] = True
