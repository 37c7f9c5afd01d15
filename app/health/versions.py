"""Health model versions and the version in force on each day (SPEC §6, §10 "models in force").

A stored version carries `effective_from`: the day of its PUT, or a day the PUT gave. The version in force on a day
d is the highest version whose effective_from ≤ d; before the first stored version takes effect, the built-in
default (version 1) is, since it was the model in force then. "Highest version" rather than "latest
effective_from": the newest decision of an admin wins, so a version stored with an earlier effective_from than an
older one replaces that older one from its own effective_from on (and two versions with the same effective_from:
the higher one). As days go by, the version in force only ever rises, so each version is in force for at most one
run of consecutive days, which `Versions` keeps as a short list of change days.
"""

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import serialize, utcnow
from app.errors import NotFound, Unprocessable
from app.health.defaults import DEFAULT_MODEL, DEFAULT_VERSION
from app.health.schemas import HealthModelIn, HealthModelListQuery, HealthModelOut
from app.models import HealthModel
from app.pagination import Page, make_page
from app.usage import service as usage


@dataclass(frozen=True)
class ModelSpec:
    """One health model version: its number, components and bands, and from when it scores."""

    version: int
    model: HealthModelIn
    default: bool
    created_at: datetime | None = None
    effective_from: date | None = None  # None: the built-in default, in force before any stored version


DEFAULT_SPEC = ModelSpec(DEFAULT_VERSION, DEFAULT_MODEL, default=True)


@dataclass(frozen=True)
class Versions:
    """Every version (the default among them) and the days on which the version in force changes."""

    specs: dict[int, ModelSpec]
    changes: list[date]  # ascending: from changes[i] on, versions_from[i] is in force (before changes[0]: the default)
    versions_from: list[int]

    def on(self, day: date) -> ModelSpec:
        """The version in force on `day`."""
        at = bisect_right(self.changes, day)
        return self.specs[self.versions_from[at - 1]] if at else DEFAULT_SPEC

    def choose(self, day: date, version: int | None) -> ModelSpec:
        """`version` when one is asked for (a 422 naming `model_version` when there is no such version), else the
        version in force on `day`."""
        if version is None:
            return self.on(day)
        if version not in self.specs:
            raise Unprocessable(
                f"There is no health model version {version}; GET /v1/health-models lists them.",
                [{"loc": ["query", "model_version"], "msg": "no such health model version", "type": "not_found"}],
            )
        return self.specs[version]

    def by_version(self, days: Iterable[date]) -> dict[int, list[date]]:
        """`days` grouped by the version in force on each (ascending days within a group): a book-wide read over
        many days runs once per version, not once per day."""
        groups: dict[int, list[date]] = {}
        for day in sorted(set(days)):
            groups.setdefault(self.on(day).version, []).append(day)
        return groups

    def in_force_until(self, version: int) -> date | None:
        """The last day `version` is in force; None while no later version has taken over (see HealthModelOut)."""
        spec = self.specs[version]
        if version in self.versions_from:
            at = self.versions_from.index(version)
            return self.changes[at + 1] - timedelta(days=1) if at + 1 < len(self.changes) else None
        if spec.default:  # superseded from the first stored version's first day
            return self.changes[0] - timedelta(days=1) if self.changes else None
        assert spec.effective_from is not None  # noqa: S101 - a stored version has one
        return spec.effective_from - timedelta(days=1)  # a later version took over before it took effect


def _spec(row: HealthModel) -> ModelSpec:
    model = HealthModelIn.model_validate({"components": row.components, "bands": row.bands})
    return ModelSpec(row.version, model, default=False, created_at=row.created_at, effective_from=row.effective_from)


def load_versions(session: Session) -> Versions:
    """Every stored version and when each is in force, in one statement (a handful of rows)."""
    rows = session.scalars(select(HealthModel).order_by(HealthModel.effective_from, HealthModel.version)).all()
    specs = {DEFAULT_VERSION: DEFAULT_SPEC} | {row.version: _spec(row) for row in rows}
    changes: list[date] = []
    versions_from: list[int] = []
    highest = DEFAULT_VERSION
    for row in rows:  # in effective_from order: the highest version so far is in force from that day on
        highest = max(highest, row.version)
        if changes and changes[-1] == row.effective_from:
            versions_from[-1] = highest
        elif not versions_from or versions_from[-1] != highest:
            changes.append(row.effective_from)
            versions_from.append(highest)
    return Versions(specs, changes, versions_from)


def model_out(versions: Versions, spec: ModelSpec) -> HealthModelOut:
    """A version as the API shows it."""
    return HealthModelOut(
        version=spec.version,
        default=spec.default,
        created_at=spec.created_at,
        effective_from=spec.effective_from,
        in_force_until=versions.in_force_until(spec.version),
        backdated=bool(spec.created_at and spec.effective_from and spec.effective_from < spec.created_at.date()),
        components=spec.model.components,
        bands=spec.model.bands,
    )


def get_health_model(session: Session, *, as_of: date) -> HealthModelOut:
    """The health model in force on `as_of`."""
    versions = load_versions(session)
    return model_out(versions, versions.on(as_of))


def get_health_model_version(session: Session, version: int) -> HealthModelOut:
    """One version (1: the built-in default), or NotFound."""
    versions = load_versions(session)
    if version not in versions.specs:
        raise NotFound("health model version", str(version))
    return model_out(versions, versions.specs[version])


def list_health_models(session: Session, query: HealthModelListQuery) -> Page[HealthModelOut]:
    """Every version, the built-in default first, in version order (cursor pages)."""
    versions = load_versions(session)
    after = query.after()
    if after and not after[0].isdigit():
        raise Unprocessable(
            "The cursor is not one this list issued.",
            [{"loc": ["query", "cursor"], "msg": "not a cursor of this list", "type": "value_error"}],
        )
    last = int(after[0]) if after else 0
    numbers = sorted(v for v in versions.specs if v > last)[: query.limit + 1]
    items = [model_out(versions, versions.specs[v]) for v in numbers]
    return make_page(items, query.limit, key=lambda m: [str(m.version)])


def put_health_model(session: Session, body: HealthModelIn, *, today: date) -> HealthModelOut:
    """Store `body` as the next version, in force from `body.effective_from` or `today` (versions are never
    edited, so every stored snapshot stays explained by the version it names)."""
    serialize(session, "health_model")  # two PUTs at once would both read the same highest version
    stored = session.scalar(select(func.max(HealthModel.version))) or DEFAULT_VERSION
    row = HealthModel(
        version=max(stored, DEFAULT_VERSION) + 1,
        components=[c.model_dump(mode="json") for c in body.components],
        bands=body.bands.model_dump(mode="json"),
        effective_from=body.effective_from or today,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    usage.keep_facets(session, body.components)  # its new facets and properties, backfilled in this transaction
    versions = load_versions(session)
    return model_out(versions, versions.specs[row.version])
