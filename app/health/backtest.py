"""Health that proves itself (SPEC §10): how well past scores foretold churn, and the weights history suggests.

The pairs are `churn.labelled_pairs` (one statement: customers paying on each date, with the churn movements
within the horizon); the scores are the stored snapshots of those dates, read in the same statement, or, without
snapshots in the range (or with `model_version=`), point-in-time scores on the dates. The figures are array
arithmetic on the fetched pairs with the formulas of `app/formulas.py`.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app import formulas
from app.errors import Unprocessable
from app.health import churn
from app.health import service as health_service
from app.health.backtest_schemas import BacktestOut, Calibration, CalibrationRow, ComponentBacktest, Source
from app.models import HealthSnapshot

BANDS = ("red", "yellow", "green")
DECILES = 10


@dataclass(frozen=True)
class Pairs:
    """The scored labelled pairs of a backtest, in (date, customer) order, with what scored them."""

    days: list[date]
    labels: churn.Labelled
    scores: np.ndarray  # 0..100
    bands: np.ndarray  # band names (objects; None when a stored snapshot has none)
    components: list[str]
    parts: np.ndarray  # one row per pair, one column per component: its score, NaN without data
    unscored: int
    source: Source
    versions: list[int]


# --- Which model scores a date ----------------------------------------------------------------------------------


def model_for(session: Session, day: date, *, version: int | None) -> health_service.ModelSpec:
    """The health model that scores `day` point in time: version `version` when given (a 422 naming
    `model_version` when there is none), else the version in force on `day` (SPEC §10)."""
    return health_service.versions(session).choose(day, version)


def stored_models(session: Session, versions: list[int]) -> dict[int, health_service.ModelSpec]:
    """The health model versions among `versions` that exist (1 is the built-in default), by version."""
    specs = health_service.versions(session).specs
    return {v: specs[v] for v in versions if v in specs}


# --- The pairs --------------------------------------------------------------------------------------------------


def mondays(start: date, end: date) -> list[date]:
    """The Mondays from `start` to `end`, inclusive."""
    first = start + timedelta(days=-start.weekday() % 7)
    return [first + timedelta(days=7 * n) for n in range(max(0, (end - first).days // 7 + 1))]


def labelled_scores(session: Session, *, start: date, end: date, horizon_days: int, version: int | None) -> Pairs:
    """The backtest's pairs: the stored snapshot days in the range with their snapshots' scores; point-in-time scores
    on those days when `version` is given, or on the range's Mondays when it has no snapshot."""
    if version is not None:
        model_for(session, end, version=version)  # an unknown version is a 422 even when no date has a pair
    stored = churn.snapshot_days(session, first=start, last=end)
    if stored and version is None:
        return _from_snapshots(session, stored, horizon_days)
    return _point_in_time(session, sorted(stored) or mondays(start, end), horizon_days, version)


def _from_snapshots(session: Session, stored: dict[date, list[int]], horizon_days: int) -> Pairs:
    """Pairs and scores in one statement: the labelled pairs of the snapshot days joined to their snapshots.

    A snapshot's component scores are read by position: `snapshot_health` stores them in the order of the
    components of the model version it records.
    """
    versions = sorted({v for found in stored.values() for v in found}, reverse=True)
    specs = stored_models(session, versions)
    components = {v: [c.name for c in specs[v].model.components] for v in versions if v in specs}
    names = list(dict.fromkeys(name for found in components.values() for name in found))  # latest version first
    width = max((len(found) for found in components.values()), default=0)
    stored_parts = [HealthSnapshot.components[(at, "score")].as_float() for at in range(width)]
    numbers = churn.doubles(session, [HealthSnapshot.score, *stored_parts])
    columns = [HealthSnapshot.band, HealthSnapshot.model_version, numbers]
    days = sorted(stored)
    labels = churn.fetch_labelled(session, days, horizon_days=horizon_days, columns=columns)
    matrix = labels.columns[2].reshape(len(labels), width + 1)
    scored = ~np.isnan(matrix[:, 0])
    kept, matrix = labels.take(scored), matrix[scored]
    parts = np.full((len(kept), len(names)), np.nan)
    for version, found in components.items():
        at = np.flatnonzero(kept.columns[1] == version)
        if len(at):
            positions = np.array([names.index(n) for n in found], dtype=np.int64)
            parts[np.ix_(at, positions)] = matrix[np.ix_(at, np.arange(1, len(found) + 1))]
    return Pairs(
        days, kept, matrix[:, 0], kept.columns[0], names, parts,
        int((~scored).sum()), "snapshots", sorted(versions),
    )  # fmt: skip


def _point_in_time(session: Session, days: list[date], horizon_days: int, version: int | None) -> Pairs:
    """Pairs from one statement, then each date's scores by the model for that date, for the whole book at once
    (`compute_health`: a few statements per date; stored snapshots make the backtest a single read)."""
    labels = churn.fetch_labelled(session, days, horizon_days=horizon_days)
    catalog = health_service.versions(session)  # read once: the model of each date comes from it
    specs = {n: catalog.choose(day, version) for n, day in enumerate(days) if (labels.day == n).any()}
    names = list(dict.fromkeys(c.name for spec in specs.values() for c in spec.model.components))
    scores = np.full(len(labels), np.nan)
    bands = np.full(len(labels), None, dtype=object)
    parts = np.full((len(labels), len(names)), np.nan)
    first: dict[int, Any] = {}
    for n, spec in specs.items():
        if spec.version not in first:
            first[spec.version] = health_service.first_seen(session, spec)
        book = health_service.compute_health(
            session, as_of=days[n], customers=None, spec=spec, first=first[spec.version]
        )
        at = np.flatnonzero(labels.day == n)
        health = [book[customer] for customer in labels.customer[at]]
        scores[at] = [np.nan if h.score is None else h.score for h in health]
        bands[at] = [h.band for h in health]
        columns = np.array([names.index(c.name) for c in spec.model.components], dtype=np.int64)
        parts[np.ix_(at, columns)] = [[np.nan if p[3] is None else p[3] for p in h.parts] for h in health]
    scored = ~np.isnan(scores)
    return Pairs(
        days, labels.take(scored), scores[scored], bands[scored], names, parts[scored],
        int((~scored).sum()), "point_in_time", sorted({spec.version for spec in specs.values()}),
    )  # fmt: skip


def check_horizon(end: date, horizon_days: int, *, today: date, loc: str) -> None:
    """Refuse a range whose last labels are not known yet: end + horizon_days must be on or before today."""
    known = today - timedelta(days=horizon_days)
    if end > known:
        raise Unprocessable(
            f"The outcome of pairs after {known} is not known yet: end must be on or before today minus "
            f"horizon_days ({known}).",
            [{"loc": [loc, "end"], "msg": f"must be on or before {known}", "type": "value_error"}],
        )


# --- The report -------------------------------------------------------------------------------------------------


def decimal(value: float | None) -> Decimal | None:
    """A float figure as the Decimal a `Ratio` field rounds, from its shortest repr (0.3, not 0.2999…); NaN as None."""
    return None if value is None or np.isnan(value) else Decimal(repr(float(value)))


def _mean(values: np.ndarray) -> Decimal | None:
    known = values[~np.isnan(values)]
    return decimal(float(known.mean())) if len(known) else None


def _calibration_row(group: str, at: np.ndarray, pairs: Pairs, probabilities: np.ndarray) -> CalibrationRow:
    churned = int(pairs.labels.churned[at].sum())
    scores = pairs.scores[at]
    return CalibrationRow(
        group=group,
        pairs=len(scores),
        churned=churned,
        min_score=float(scores.min()) if len(scores) else None,
        max_score=float(scores.max()) if len(scores) else None,
        predicted=_mean(probabilities[at]),
        observed=formulas.rate(churned, len(scores)),
    )


def _calibration(pairs: Pairs, probabilities: np.ndarray) -> Calibration:
    bands = [_calibration_row(b, np.flatnonzero(pairs.bands == b), pairs, probabilities) for b in BANDS]
    # Equal-count groups by score; a stable sort keeps ties in (date, customer) order, so the split is repeatable.
    order = np.argsort(pairs.scores, kind="stable")
    groups = [g for g in np.array_split(order, DECILES) if len(g)]
    deciles = [_calibration_row(str(n), group, pairs, probabilities) for n, group in enumerate(groups, 1)]
    return Calibration(bands=bands, deciles=deciles)


def _components(pairs: Pairs) -> list[ComponentBacktest]:
    result = []
    for k, name in enumerate(pairs.components):
        has = ~np.isnan(pairs.parts[:, k])
        found = int(has.sum())
        auc = formulas.roc_auc(pairs.parts[has, k], pairs.labels.churned[has])
        result.append(
            ComponentBacktest(name=name, pairs=found, coverage=formulas.rate(found, len(has)), auc=decimal(auc))
        )
    return result


def get_backtest(
    session: Session,
    *,
    start: date,
    end: date,
    horizon_days: int,
    model_version: int | None,
    today: date,
    churn_defaults: dict[str, float],
) -> BacktestOut:
    """The backtest of SPEC §10 over [start, end]: pairs, churns, AUC, Brier, lift, calibration, components."""
    check_horizon(end, horizon_days, today=today, loc="query")
    pairs = labelled_scores(session, start=start, end=end, horizon_days=horizon_days, version=model_version)
    fit = health_service.latest_churn_fit(session)
    probabilities = formulas.churn_probabilities(pairs.scores, pairs.bands, fit=fit, defaults=churn_defaults)
    churned = pairs.labels.churned
    with_probability = ~np.isnan(probabilities)
    calibration = _calibration(pairs, probabilities)
    red, _, green = calibration.bands
    return BacktestOut(
        start=start,
        end=end,
        horizon_days=horizon_days,
        source=pairs.source,
        dates=len(pairs.days),
        model_versions=pairs.versions,
        pairs=len(churned),
        customers=len(set(pairs.labels.customer.tolist())),
        churns=pairs.labels.churns(),
        churned_pairs=int(churned.sum()),
        unscored=pairs.unscored,
        churn_rate=formulas.rate(int(churned.sum()), len(churned)),
        auc=decimal(formulas.roc_auc(pairs.scores, churned)),
        brier=decimal(formulas.brier(probabilities[with_probability], churned[with_probability])),
        lift=formulas.lift(red.observed, green.observed),
        method="fitted" if fit is not None else "default",
        calibration=calibration,
        components=_components(pairs),
    )
