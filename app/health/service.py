"""Health model versions, point-in-time health scores, snapshots and history (SPEC §6)."""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Float, LargeBinary, Select, Table, and_, func, literal, select
from sqlalchemy.orm import Session

from app import formulas, records
from app.batch import dialect_insert
from app.db import forget_reads, read_cache, utcnow
from app.errors import Unprocessable
from app.health import events
from app.health.schemas import (
    ComponentIn,
    ComponentOut,
    CustomerHealthOut,
    HealthHistoryQuery,
    HealthSnapshotOut,
    SnapshotResult,
)
from app.health.versions import ModelSpec as ModelSpec  # noqa: PLC0414 - re-exported: other features score with it
from app.health.versions import Versions, load_versions
from app.health.versions import get_health_model as get_health_model  # noqa: PLC0414 - re-exported for the router
from app.health.versions import get_health_model_version as get_health_model_version  # noqa: PLC0414 - the router's
from app.health.versions import list_health_models as list_health_models  # noqa: PLC0414 - re-exported: the router's
from app.health.versions import put_health_model as put_health_model  # noqa: PLC0414 - re-exported: the router's
from app.models import ChurnModel, Customer, HealthSnapshot
from app.pagination import Page, make_page
from app.usage import service as usage

_UPSERT_CHUNK = 1_000
K = TypeVar("K", str, int)  # a customer id, or the index of a (customer, day) point


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


def latest_snapshot_days(
    *, customer_ids: Sequence[str] | None = None, through: date | None = None
) -> Select[str, date]:
    """Each customer's latest snapshot day (on or before `through`): columns customer_id, day. Join `HealthSnapshot`
    on both to read those snapshots beside other per-customer subqueries (SQLite then finds each by its key)."""
    latest = select(HealthSnapshot.customer_id, func.max(HealthSnapshot.snapshot_date).label("day"))
    if customer_ids is not None:
        latest = latest.where(HealthSnapshot.customer_id.in_(customer_ids))
    if through is not None:
        latest = latest.where(HealthSnapshot.snapshot_date <= through)
    return latest.group_by(HealthSnapshot.customer_id)


def _latest(*columns: Any, customer_ids: Sequence[str] | None = None, through: date | None = None) -> Select[Any]:
    day = latest_snapshot_days(customer_ids=customer_ids, through=through).subquery()
    same = and_(day.c.customer_id == HealthSnapshot.customer_id, day.c.day == HealthSnapshot.snapshot_date)
    return select(*columns).join(day, same)


UsageWindow = tuple[str, str, str, date]  # (customer, kind, aggregate, day)


def usage_value(
    session: Session, customer_id: str, kind: str, *, aggregate: str, as_of: date, window_days: int
) -> Decimal | None:
    """A usage kind's value for a customer on `as_of`, by `aggregate`: how an intervention's expected usage metric is
    measured (SPEC §5, §10). See `usage_values`."""
    window = (customer_id, kind, aggregate, as_of)
    return usage_values(session, {window}, window_days=window_days)[window]


def usage_values(session: Session, windows: set[UsageWindow], *, window_days: int) -> dict[UsageWindow, Decimal | None]:
    """`usage_value` of every (customer, kind, aggregate, day), in two statements however many windows.

    sum, count and avg read the `window_days` days ending the day, as a health component does (SPEC §6): an empty
    window sums and counts 0 and has no average (None). last is the latest value up to the day however old: a level
    (seats held) stands until a new value is sent; None before the first one.
    """
    store = usage.usage_store()
    totals = store.window_totals(session, {(c, k, d) for c, k, a, d in windows if a != "last"}, window_days=window_days)
    latest = store.latest_upto(session, {(c, k, d) for c, k, a, d in windows if a == "last"})
    return {
        (c, k, a, d): latest.get((c, k, d)) if a == "last" else usage.windowed_raw(a, *totals[(c, k, d)])
        for c, k, a, d in windows
    }


def versions(session: Session) -> Versions:
    """Every health model version and when each is in force (SPEC §10), in one statement: read it once for many
    days (`Versions.on`, `Versions.by_version`)."""
    return load_versions(session)


def model_on(session: Session, day: date) -> ModelSpec:
    """The health model version in force on `day` (SPEC §10): what a point-in-time read of that day uses."""
    return load_versions(session).on(day)


def current_model(session: Session) -> ModelSpec:
    """The version in force today (UTC)."""
    return model_on(session, utcnow().date())


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
    raws, seats = usage.usage_store().model_raws(
        session, components, as_of=as_of, customers=customers, seats=any(c.per_seat for c in components), first=first
    )
    ids = customers if customers is not None else session.scalars(select(Customer.id)).all()
    return {cid: _customer_health(cid, spec, raws, seats) for cid in ids}


def health_on(session: Session, customer_id: str, as_of: date, *, spec: ModelSpec | None = None) -> Health:
    """One customer's health on `as_of` (point in time: events up to that day), by `spec` or the version in force
    that day."""
    model = spec or model_on(session, as_of)
    return compute_health(session, as_of=as_of, customers=[customer_id], spec=model)[customer_id]


def _snapshot_scores(
    session: Session, days: Sequence[date], customers: Sequence[str] | None
) -> dict[tuple[str, date], float | None]:
    """Stored snapshot scores on `days` (of `customers`, None: all), keyed by (customer, day), in one statement.

    A stored snapshot is the record of its day and stands as stored: it was computed with the version in force on
    that day (or one its run asked for). A version stored later with an earlier effective_from changes the replays
    of those days, not their snapshots, until the snapshot job is run for them again (SPEC §10).
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
    session: Session,
    pairs: set[tuple[str, date]],
    *,
    spec: ModelSpec | None = None,
    catalog: Versions | None = None,
) -> dict[tuple[str, date], float | None]:
    """The health score of each (customer, day) pair: the stored snapshot of that day when there is one, else the
    point-in-time score by the version in force that day, computed for all the remaining pairs of one version in
    one set-based pass (the usage store's `point_raws`): a pass per version in force, not per day. With `spec`,
    every pair is computed point in time by that version (snapshots of other versions would not answer for it)."""
    if not pairs:
        return {}
    if spec is not None:
        return _point_scores(session, sorted(pairs), spec)
    found = _snapshot_scores(session, [d for _, d in pairs], [c for c, _ in pairs])
    result = {pair: found[pair] for pair in pairs if pair in found}
    rest = pairs - found.keys()
    if rest:
        known = catalog or load_versions(session)
        for version, days in known.by_version({d for _, d in rest}).items():
            wanted = set(days)
            result.update(_point_scores(session, sorted(p for p in rest if p[1] in wanted), known.specs[version]))
    return result


def _point_scores(
    session: Session, points: list[tuple[str, date]], spec: ModelSpec
) -> dict[tuple[str, date], float | None]:
    """Point-in-time scores of (customer, day) points by one version, one set-based pass per chunk of points."""
    components = spec.model.components
    # Each point is a VALUES row of 3 + one per window width bind parameters: keep a statement well inside
    # SQLite's 32,766 and PostgreSQL's 65,535 parameters.
    size = min(POINTS_CHUNK, POINT_PARAMETERS // (3 + len({c.window_days for c in components})))
    found: dict[tuple[str, date], float | None] = {}
    for first in range(0, len(points), size):
        chunk = points[first : first + size]
        raws, seats = usage.usage_store().point_raws(
            session, components, chunk, seats=any(c.per_seat for c in components)
        )
        found.update({point: _customer_health(n, spec, raws, seats).score for n, point in enumerate(chunk)})
    return found


def first_seen(session: Session, spec: ModelSpec) -> list[dict[str, datetime]]:
    """When each customer first had each of the model's components' events (for `compute_health`'s `first`)."""
    return usage.usage_store().first_seen(session, spec.model.components, customers=None)


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
    session: Session,
    customer_id: str,
    *,
    as_of: date,
    churn_defaults: Mapping[str, float],
    model_version: int | None = None,
) -> CustomerHealthOut:
    """A customer's score, band, coverage, components, 30-day change and churn probability on `as_of`, by the
    version in force that day or `model_version`; the score 30 days before is by the same version, so that
    change_30d is the customer's change and not the model's."""
    records.get_record(session, Customer, customer_id)
    spec = load_versions(session).choose(as_of, model_version)
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


def snapshot_health(session: Session, *, day: date, model_version: int | None = None) -> SnapshotResult:
    """Compute every customer's health on `day` set-based, by the version in force that day (or `model_version`),
    and store it, replacing that day's snapshot."""
    spec = load_versions(session).choose(day, model_version)
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
POINT_PARAMETERS = 30_000  # bind parameters of one point-in-time pass at most (SQLite allows 32,766)
CARRY_DAYS = 6  # a snapshot stands for its own day and the 6 days after it (a weekly snapshot covers the week)

# Band codes in the `bands` arrays.
NO_BAND, RED, YELLOW, GREEN = 0, 1, 2, 3
BAND_CODES = {"red": RED, "yellow": YELLOW, "green": GREEN}


@dataclass(frozen=True)
class BookHealth:
    """Scores and band codes of every customer (positions in id order) on each requested day; NaN: no score."""

    customers: list[str]
    index: dict[str, int]
    columns: Mapping[date, tuple[np.ndarray, np.ndarray]]  # day → (scores, band codes), one value per customer

    @property
    def days(self) -> list[date]:
        """The requested days, ascending."""
        return sorted(self.columns)

    def score(self, day: date) -> np.ndarray:
        """Every customer's score on `day` (NaN: none)."""
        return self.columns[day][0]

    def band(self, day: date) -> np.ndarray:
        """Every customer's band code on `day` (NO_BAND, RED, YELLOW, GREEN), by the thresholds of the version that
        scored that day."""
        return self.columns[day][1]


def band_codes(scores: np.ndarray, *, red_below: float | np.ndarray, green_from: float | np.ndarray) -> np.ndarray:
    """`formulas.band_of` over an array: red below `red_below`, green from `green_from`, yellow between (thresholds
    one for all, or one per column)."""
    codes = np.full(scores.shape, NO_BAND, dtype=np.int8)
    scored = ~np.isnan(scores)
    codes[scored & (scores < red_below)] = RED
    codes[scored & (scores >= red_below) & (scores < green_from)] = YELLOW
    codes[scored & (scores >= green_from)] = GREEN
    return codes


def customer_ids(session: Session) -> list[str]:
    """Every customer id, in id order: the rows of a `BookHealth` (and of the ledger's arrays); read once per
    session until it writes (`read_cache`)."""
    cache = read_cache(session, "health.customer_ids")
    if "ids" not in cache:
        cache["ids"] = list(session.scalars(select(Customer.id).order_by(Customer.id)))
    ids: list[str] = cache["ids"]
    return ids


def book_health(session: Session, days: Iterable[date], *, spec: ModelSpec | None = None) -> BookHealth:
    """Every customer's score (positions in `customer_ids` order) on each of `days` (see above for which score), each
    day by the version in force on it (SPEC §10); with `spec`, every day point in time by that version.

    A day's scores and bands, once computed, are kept for the session's later calls (`read_cache`): the ROI metric
    asks for its controls' start days and then for its baseline's days, the scorecard for two months."""
    ids = customer_ids(session)
    wanted = sorted(set(days))
    catalog = load_versions(session)
    mode = None if spec is None else (spec.version, spec.default)  # None: snapshots, else the version in force
    known: dict[tuple[tuple[int, bool] | None, date], tuple[np.ndarray, np.ndarray]] = read_cache(
        session, "health.book_days"
    )
    new = [day for day in wanted if (mode, day) not in known]
    if new:
        models = [spec or catalog.on(day) for day in new]
        scores = _book_scores(session, new, ids, models, snapshots=spec is None, catalog=catalog)
        red = np.array([m.model.bands.red_below for m in models], dtype=float)[:, None]
        green = np.array([m.model.bands.green_from for m in models], dtype=float)[:, None]
        codes = band_codes(scores, red_below=red, green_from=green)
        known.update({(mode, day): (scores[n], codes[n]) for n, day in enumerate(new)})
    index = {cid: n for n, cid in enumerate(ids)}
    return BookHealth(ids, index, {day: known[(mode, day)] for day in wanted})


def _book_scores(
    session: Session, days: list[date], ids: list[str], models: list[ModelSpec], *, snapshots: bool, catalog: Versions
) -> np.ndarray:
    """days × customers scores: stored snapshots carried forward (when `snapshots`), else point in time by each
    day's model."""
    scores = np.full((len(days), len(ids)), np.nan)
    covered = np.zeros((len(days), len(ids)), dtype=bool)
    if not ids:
        return scores
    if snapshots:
        _from_snapshots(session, days, scores, covered)
    _whole_days(session, days, ids, models, scores=scores, covered=covered)
    missing = np.argwhere(~covered)
    for first in range(0, len(missing), POINTS_CHUNK):
        chunk = missing[first : first + POINTS_CHUNK]
        found = scores_on(session, {(ids[row], days[col]) for col, row in chunk}, catalog=catalog)
        for col, row in chunk:
            value = found.get((ids[row], days[col]))
            if value is not None:
                scores[col, row] = value
    return scores


def _whole_days(
    session: Session,
    wanted: list[date],
    ids: list[str],
    models: list[ModelSpec],
    *,
    scores: np.ndarray,
    covered: np.ndarray,
) -> None:
    """Days no snapshot covers at all (a book that never ran the snapshot job): the whole book point in time by the
    day's model, each day reading only the model's windows (`first_seen` once per model). A statement or two per
    such day: run the snapshot job (POST /v1/health/snapshots) to make these reads a single one."""
    bare = [col for col in range(len(wanted)) if not covered[col].any()]
    firsts: dict[int, list[dict[str, datetime]]] = {}
    for col in bare:
        spec = models[col]
        if spec.version not in firsts:
            firsts[spec.version] = first_seen(session, spec)
        first = firsts[spec.version]
        health = compute_health(session, as_of=wanted[col], customers=None, spec=spec, first=first)
        column = np.array([np.nan if (h := health.get(cid)) is None or h.score is None else h.score for cid in ids])
        scores[col] = column
        covered[col] = True


def _snapshot_columns(session: Session, first: date, last: date) -> dict[date, tuple[np.ndarray, np.ndarray]]:
    """Stored snapshots from `first` to `last`, one row per day: each customer's position in `customer_ids` order
    and its score, as two arrays (a year of weekly snapshots of 10,000 customers is 52 rows of numbers to read,
    not 520,000 rows with an id each)."""
    # One request may ask twice (the ROI baseline, then its controls): days already read come from the session.
    cache: dict[date, tuple[np.ndarray, np.ndarray]] = read_cache(session, "health.snapshot_columns")
    ranges: dict[tuple[date, date], bool] = read_cache(session, "health.snapshot_ranges")
    if not any(a <= first and last <= b for a, b in ranges):
        postgres = session.get_bind().dialect.name == "postgresql"
        listed, scores = _day_arrays(HealthSnapshot.customer_id, HealthSnapshot.score, postgres=postgres)
        known = sorted(d for d in cache if first <= d <= last)
        stmt = (
            select(HealthSnapshot.snapshot_date, listed, scores)
            .where(HealthSnapshot.snapshot_date >= first, HealthSnapshot.snapshot_date <= last)
            .group_by(HealthSnapshot.snapshot_date)
        )
        if known:
            stmt = stmt.where(HealthSnapshot.snapshot_date.not_in(known))
        positions = _Positions(customer_ids(session))
        for day, day_ids, day_scores in session.execute(stmt):
            # packed big-endian binary on PostgreSQL: no number is formatted as text, nor parsed back
            values = np.frombuffer(day_scores, ">f8") if postgres else np.array(json.loads(day_scores), float)
            cache[day] = positions.of(day_ids, values) or _day_rows(session, day, positions)
        ranges[(first, last)] = True
    return {day: columns for day, columns in cache.items() if first <= day <= last}


ID_SEPARATOR = ","  # never in an id (`app.types.ID_PATTERN`)


class _Positions:
    """A snapshot day's customer ids (one text, `ID_SEPARATOR` between them) as positions in `customer_ids` order.

    The ids come in the order the day's scores do (the two aggregates of one group see its rows in one order), so
    no join to the customers is needed in SQL (it was most of the read's time). A day listing every customer in id
    order, the usual case, is one comparison of texts; any other list is split and looked up, once per distinct
    list."""

    def __init__(self, ids: list[str]) -> None:
        self.everyone = ID_SEPARATOR.join(ids)
        self.index = {cid: n for n, cid in enumerate(ids)}
        self.all = np.arange(len(ids), dtype=np.int64)
        self.known: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def of(self, listed: str, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The positions of `listed` and the matching `scores` (ids no longer in the book, if any, left out); None
        when the list does not split into one id per score (an id holding the separator, which no API path
        stores)."""
        if listed == self.everyone and len(scores) == len(self.all):
            return self.all, scores
        if listed not in self.known:
            rows = np.array([self.index.get(cid, -1) for cid in listed.split(ID_SEPARATOR)], dtype=np.int64)
            if len(rows) != len(scores):
                return None
            self.known[listed] = rows, rows >= 0
        rows, kept = self.known[listed]
        return (rows, scores) if kept.all() else (rows[kept], scores[kept])


def _day_rows(session: Session, day: date, positions: _Positions) -> tuple[np.ndarray, np.ndarray]:
    """One snapshot day read row by row (ids and scores), for a day whose packed list `_Positions` cannot split."""
    found = [
        (positions.index[cid], np.nan if score is None else score)
        for cid, score in session.execute(
            select(HealthSnapshot.customer_id, HealthSnapshot.score).where(HealthSnapshot.snapshot_date == day)
        )
        if cid in positions.index
    ]
    rows = np.array([row for row, _ in found], dtype=np.int64)
    return rows, np.array([score for _, score in found], dtype=float)


def _day_arrays(customer: Any, score: Any, *, postgres: bool) -> tuple[Any, Any]:
    """The aggregates of a day's customer ids and scores: the ids as one text (`ID_SEPARATOR` between them); the
    scores on PostgreSQL as each value's binary form (`float8send`; a null score as NaN) concatenated into one
    bytea, so 580,000 numbers travel as one buffer per day; on SQLite a JSON array."""
    if not postgres:
        return func.group_concat(customer, ID_SEPARATOR), func.json_group_array(score)
    packed_score = func.float8send(func.coalesce(score, literal("NaN", Float)))
    return func.string_agg(customer, ID_SEPARATOR), func.string_agg(packed_score, literal(b"", LargeBinary))


def forget_snapshot_reads(session: Session) -> None:
    """Drop what this session's reads kept (a write of snapshots makes it stale)."""
    forget_reads(session)


def _from_snapshots(session: Session, wanted: list[date], scores: np.ndarray, covered: np.ndarray) -> None:
    """Fill the (day, customer) cells a snapshot of that day or of the `CARRY_DAYS` before it covers (the latest)."""
    by_day = _snapshot_columns(session, wanted[0] - timedelta(days=CARRY_DAYS), wanted[-1])
    carry_forward(by_day, wanted, scores, covered)


def carry_forward(
    by_day: Mapping[date, tuple[np.ndarray, np.ndarray]], wanted: list[date], scores: np.ndarray, covered: np.ndarray
) -> None:
    """Fill scores[d, c] (and covered[d, c]) for each wanted day d not yet covered for customer c, from the latest
    snapshot of c taken on d or in the CARRY_DAYS before it (`by_day`: each snapshot day's customer positions and
    scores). Array operations over snapshot days × customers: no loop over customers."""
    if not by_day:
        return
    customers = scores.shape[1]
    snapshot_days = sorted(by_day)
    taken = np.zeros((len(snapshot_days), customers), dtype=bool)
    values = np.full((len(snapshot_days), customers), np.nan)
    for slot, day in enumerate(snapshot_days):
        rows, day_scores = by_day[day]
        taken[slot, rows] = True
        values[slot, rows] = day_scores  # a null score reads as NaN: no score
    # latest[s, c]: the last slot up to s where customer c has a snapshot (-1: none yet).
    latest = np.maximum.accumulate(np.where(taken, np.arange(len(snapshot_days))[:, None], -1), axis=0)
    ordinals = np.array([d.toordinal() for d in snapshot_days])
    everyone = np.arange(customers)
    slots: tuple[int, int] | None = None
    for col, day in enumerate(wanted):
        # The latest snapshot a customer has on or before `day` (slot up to `hi`) stands for it if taken in the
        # CARRY_DAYS before: in slot `lo` or later (the slots' days ascend). Days with the same two slots (a week's
        # days, in the usual ascending `wanted`) share the row of what is recent and its scores.
        hi = int(np.searchsorted(ordinals, day.toordinal(), side="right")) - 1
        if hi < 0:
            continue
        lo = int(np.searchsorted(ordinals, day.toordinal() - CARRY_DAYS, side="left"))
        if slots != (hi, lo):
            slots, source = (hi, lo), latest[hi]
            recent = source >= lo  # never where source is -1 (no snapshot yet): lo >= 0
            picked = values[source, everyone]  # source -1 reads the last slot: masked out by `recent`
        fill = recent & ~covered[col]
        np.copyto(scores[col], picked, where=fill)
        covered[col] |= fill
