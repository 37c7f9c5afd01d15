"""The daily usage rollup, kept from raw events (SPEC §14): the SQL that writes `usage_daily`.

Raw ingest adds the events it actually inserted, in its own transaction and in set-based statements: per (customer,
kind, facet, UTC day) the count, Σ, min and max of the values, the first instant and the latest event by
(occurred_at, id), the tie rule of raw reads; `ON CONFLICT DO UPDATE` merges a batch into the stored day, so a
back-dated event updates its own day and a re-posted (duplicate) one, never inserted, counts nothing. Facet '' rolls
up every event of a kind; the facets and distinct properties the stored health models need are rows of
`usage_rollup_facet`, matched with the very expressions raw reads filter with (`CAST(properties ->> key AS VARCHAR)`
on PostgreSQL, `CAST(json_extract(properties, '$."key"') AS VARCHAR)` on SQLite), so both read the same events.

The SQL is text built here for both dialects: PostgreSQL runs it as data-modifying CTEs around the event INSERT
(`RETURNING` says which rows were new), SQLite from the rows the ingest just inserted (rowid above the table's
previous maximum: SQLite has one writer).
"""

# ruff: noqa: S608 - the SQL text interpolates identifiers and fixed fragments only; every value is a bound parameter

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, String, delete, func, literal, select, text
from sqlalchemy.orm import Session

from app.batch import LOOKUP_CHUNK, dialect_insert
from app.errors import Conflict
from app.models import UsageDaily, UsageDailyValue, UsageFeed, UsageRollupFacet
from app.types import UsageComponent
from app.usage.schemas import canonical_json

Spec = tuple[str, str, str]  # (kind, facet, property): property '' is the facet's daily rows
EVENT_COLUMNS = "id, customer_id, kind, occurred_at, value, properties"
# A property value longer than this is kept on PostgreSQL as 'md5:' and its digest (a btree entry holds ~2.7 kB).
LONG_VALUE = 256


def facet_of(where: Mapping[str, str] | None) -> str:
    """The facet of a component's `where`: '' for none, else its canonical JSON (sorted keys, compact)."""
    return canonical_json(where) if where else ""


def needed(components: Iterable[UsageComponent]) -> set[Spec]:
    """The (kind, facet, property) rows the components read beyond facet '' of every kind."""
    specs: set[Spec] = set()
    for c in components:
        facet = facet_of(c.where)
        if facet:
            specs.add((c.kind, facet, ""))
        if c.aggregate == "distinct":
            assert c.property is not None  # noqa: S101 - the schema requires it
            specs.add((c.kind, facet, c.property))
    return specs


def kept(session: Session) -> set[Spec]:
    """Every (kind, facet, property) the rollup keeps."""
    rows = session.execute(select(UsageRollupFacet.kind, UsageRollupFacet.facet, UsageRollupFacet.property))
    return {(k, f, p) for k, f, p in rows}


def kept_for_ingest(session: Session) -> set[Spec]:
    """`kept`, for a raw ingest about to roll up its events. On PostgreSQL it first takes a SHARE lock on
    usage_rollup_facet, held to commit: a health model version adding a facet (`keep`, whose insert needs ROW
    EXCLUSIVE) waits for the ingests in flight, so its backfill sees their events, and later ingests wait for it,
    so they roll up into the new facet. Ingests do not block each other (SHARE is compatible with SHARE)."""
    if _pg(session):
        session.execute(text("LOCK TABLE usage_rollup_facet IN SHARE MODE"))
    return kept(session)


def covers(session: Session, components: Iterable[UsageComponent]) -> bool:
    """Whether the rollup keeps everything the components read (else reads fall back to raw events)."""
    return needed(components) <= kept(session)


def keep(session: Session, components: Iterable[UsageComponent]) -> int:
    """Keep the facets and properties the components need from now on, backfilled from the raw events in this
    transaction (a health model version being stored); how many (kind, facet, property) rows were new."""
    new = _keep_specs(session, needed(components) - kept(session))
    if new:
        _add(session, "usage_event", {}, new, include_all=False)
    return len(new)


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class _Sql:
    """Text SQL for one dialect with its driver's placeholders (psycopg `%(name)s`, sqlite3 `:name`)."""

    def __init__(self, *, pg: bool) -> None:
        self.pg = pg
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s" if self.pg else f":{name}"

    def prop(self, key: str) -> str:
        """A property as text, exactly as raw reads extract it."""
        if self.pg:
            return f"CAST((properties ->> {self.bind(key)}) AS VARCHAR)"
        return f"CAST(json_extract(properties, {self.bind(f'$.{chr(34)}{key}{chr(34)}')}) AS VARCHAR)"

    def day(self) -> str:
        return "CAST((occurred_at AT TIME ZONE 'UTC') AS DATE)" if self.pg else "date(occurred_at)"

    def kept_value(self, expr: str) -> str:
        if not self.pg:
            return expr
        return f"CASE WHEN length({expr}) > {LONG_VALUE} THEN 'md5:' || md5({expr}) ELSE {expr} END"

    def matched(self, source: str, facets: Sequence[tuple[str, str]], *, include_all: bool) -> str:
        """The source's events once per facet they belong to (facet '' for all when `include_all`)."""
        parts = [f"SELECT CAST('' AS VARCHAR) AS facet, {EVENT_COLUMNS} FROM {source}"] if include_all else []
        for kind, facet in facets:
            where = [f"kind = {self.bind(kind)}"]
            for key, value in json.loads(facet).items():
                where.append(f"{self.prop(key)} = {self.bind(value)}")
            parts.append(
                f"SELECT CAST({self.bind(facet)} AS VARCHAR) AS facet, {EVENT_COLUMNS} FROM {source}"
                f" WHERE {' AND '.join(where)}"
            )
        return " UNION ALL ".join(parts)

    def upsert_days(self, matched: str) -> str:
        """INSERT the matched events' days, merged into stored days of the same key."""
        least, greatest = ("LEAST", "GREATEST") if self.pg else ("min", "max")
        newer = (
            "(excluded.last_at > usage_daily.last_at OR (excluded.last_at = usage_daily.last_at"
            " AND excluded.last_id > usage_daily.last_id))"
        )
        last = ", ".join(
            f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE usage_daily.{c} END"
            for c in ("last_at", "last_id", "last_micros")
        )
        return (
            "INSERT INTO usage_daily (customer_id, kind, facet, day, events, sum_micros, min_micros, max_micros,"
            " first_at, last_at, last_id, last_micros, source)"
            " SELECT customer_id, kind, facet, day, count(*), sum(value), min(value), max(value), min(occurred_at),"
            " max(CASE WHEN rn = 1 THEN occurred_at END), max(CASE WHEN rn = 1 THEN id END),"
            " max(CASE WHEN rn = 1 THEN value END), 'raw'"
            f" FROM (SELECT m.*, {self.day()} AS day, row_number() OVER (PARTITION BY customer_id, kind, facet,"
            f" {self.day()} ORDER BY occurred_at DESC, id DESC) AS rn FROM {matched} m) t"
            # In key order: two batches upserting the same days lock them in the same order (no deadlock).
            " WHERE 1 = 1 GROUP BY customer_id, kind, facet, day ORDER BY customer_id, kind, facet, day"
            " ON CONFLICT (customer_id, kind, facet, day) DO UPDATE SET"
            " events = usage_daily.events + excluded.events,"
            " sum_micros = usage_daily.sum_micros + excluded.sum_micros,"
            f" min_micros = {least}(usage_daily.min_micros, excluded.min_micros),"
            f" max_micros = {greatest}(usage_daily.max_micros, excluded.max_micros),"
            f" first_at = {least}(usage_daily.first_at, excluded.first_at), {last}"
        )

    def insert_values(self, matched: str, props: Sequence[Spec]) -> str:
        """INSERT the distinct property values of the matched events' days (kept ones skipped)."""
        parts = []
        for kind, facet, prop in props:
            value = self.prop(prop)
            parts.append(
                f"SELECT customer_id, kind, facet, {self.day()} AS day, CAST({self.bind(prop)} AS VARCHAR) AS property,"
                f" {self.kept_value(value)} AS value FROM {matched} m WHERE kind = {self.bind(kind)}"
                f" AND facet = {self.bind(facet)} AND {value} IS NOT NULL"
            )
        return (
            "INSERT INTO usage_daily_value (customer_id, kind, facet, day, property, value)"
            f" SELECT DISTINCT * FROM ({' UNION ALL '.join(parts)}) v WHERE 1 = 1 ON CONFLICT DO NOTHING"
        )


def _plan(specs: Iterable[Spec]) -> tuple[list[tuple[str, str]], list[Spec]]:
    """The facets with daily rows (beyond '') and the properties with values, in a stable order."""
    ordered = sorted(specs)
    return sorted({(k, f) for k, f, _ in ordered if f}), [s for s in ordered if s[2]]


def _add(session: Session, source: str, params: dict[str, Any], specs: Sequence[Spec], *, include_all: bool) -> None:
    """Roll up the events of `source` (a table or subquery with the event columns) for `specs` (and facet '' when
    `include_all`): a statement for the days, one for the distinct values."""
    facets, props = _plan(specs)
    if not include_all:  # a backfill: days only for the new facets, values for the new properties
        facets = sorted({(k, f) for k, f, p in specs if f and not p})
    value_facets = sorted({(k, f) for k, f, _ in props if f})
    connection = session.connection()
    if facets or include_all:
        sql = _Sql(pg=_pg(session))
        sql.params.update(params)
        matched = sql.matched(source, facets, include_all=include_all)
        connection.exec_driver_sql(f"WITH matched AS ({matched}) {sql.upsert_days('matched')}", sql.params)
    if props:
        sql = _Sql(pg=_pg(session))
        sql.params.update(params)
        matched = sql.matched(source, value_facets, include_all=any(f == "" for _, f, _ in props))
        connection.exec_driver_sql(f"WITH matched AS ({matched}) {sql.insert_values('matched', props)}", sql.params)


def add_sqlite(session: Session, after_rowid: int) -> None:
    """Roll up the events this SQLite transaction just inserted: those with a rowid above `after_rowid`."""
    source = f"(SELECT {EVENT_COLUMNS} FROM usage_event WHERE rowid > :after_rowid)"
    _add(session, source, {"after_rowid": after_rowid}, sorted(kept(session)), include_all=True)


def last_rowid(session: Session) -> int:
    """usage_event's highest rowid on SQLite (0 when empty): what `add_sqlite` adds after."""
    return int(session.connection().exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM usage_event").scalar() or 0)


def insert_and_add_pg(
    cursor: Any, specs: Sequence[Spec], insert_sql: str, params: dict[str, Any], *, before: Sequence[str] = ()
) -> int:
    """Run the event INSERT (psycopg `%(name)s` parameters) and roll up the rows it inserted, in one statement:
    the INSERT becomes a CTE `RETURNING` the new rows, and the day and value upserts read it. `before`: CTEs
    (`name AS (…)`) the INSERT reads, e.g. the ids it claimed. Returns how many events the INSERT inserted."""
    sql = _Sql(pg=True)
    sql.params.update(params)
    facets, props = _plan(specs)
    ctes = [
        *before,
        f"ins AS ({insert_sql} RETURNING {EVENT_COLUMNS})",
        f"matched AS ({sql.matched('ins', facets, include_all=True)})",
        f"days AS ({sql.upsert_days('matched')} RETURNING 1)",
    ]
    if props:
        ctes.append(f"vals AS ({sql.insert_values('matched', props)} RETURNING 1)")
    cursor.execute(f"WITH {', '.join(ctes)} SELECT count(*) FROM ins", sql.params)
    row = cursor.fetchone()
    return int(row[0]) if row else 0


# --- Which source feeds a (customer, kind) ----------------------------------------------------------------------


def mixing(pairs: Iterable[tuple[str, str]], *, source: str) -> Conflict:
    """The 409 for pairs already fed by the other source (SPEC §14: never both for one customer and kind)."""
    ordered = sorted(set(pairs))
    other = "daily aggregates" if source == "raw" else "raw events"
    return Conflict(
        f"{len(ordered)} (customer, kind) pair(s) already take {other}; a customer's kind is fed by raw events or"
        " by daily aggregates, never both. Nothing was written.",
        pairs=[{"customer": c, "kind": k} for c, k in ordered],
    )


def claim(session: Session, pairs: Iterable[tuple[str, str]], *, source: str) -> None:
    """Record `source` as the feed of each (customer, kind) still without one; Conflict naming the pairs another
    source feeds. Stored pairs are read first and only the missing ones inserted (a steady feed writes nothing);
    the insert waits for a concurrent transaction claiming the same pair, then the pairs it skipped are read again
    (a new snapshot: they are committed now)."""
    wanted = sorted(set(pairs))
    if not wanted:
        return
    feeds = _feeds(session, wanted)
    missing = [p for p in wanted if p not in feeds]
    if missing:
        table: Any = UsageFeed.__table__
        rows = [{"customer_id": c, "kind": k, "source": source} for c, k in missing]
        for start in range(0, len(rows), LOOKUP_CHUNK):
            session.execute(dialect_insert(session, table).on_conflict_do_nothing(), rows[start : start + LOOKUP_CHUNK])
        feeds.update(_feeds(session, missing))
    clash = {p for p in wanted if feeds.get(p, source) != source}
    if clash:
        raise mixing(clash, source=source)


def _feeds(session: Session, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The stored source of each of `pairs` that has one. On PostgreSQL exactly those pairs (a join with the pairs
    as two arrays: one key probe each); elsewhere every feed of their customers, kept when wanted (a customer fed
    every kind returns its dozen rows whichever of them the batch names)."""
    found: dict[tuple[str, str], str] = {}
    if _pg(session):
        for start in range(0, len(pairs), LOOKUP_CHUNK):
            chunk = pairs[start : start + LOOKUP_CHUNK]
            rows = session.execute(
                text(
                    "SELECT f.customer_id, f.kind, f.source FROM unnest(CAST(:customers AS text[]),"
                    " CAST(:kinds AS text[])) AS p(customer_id, kind)"
                    " JOIN usage_feed f ON f.customer_id = p.customer_id AND f.kind = p.kind"
                ),
                {"customers": [c for c, _ in chunk], "kinds": [k for _, k in chunk]},
            )
            found.update(((c, k), src) for c, k, src in rows)
        return found
    customers = sorted({c for c, _ in pairs})
    wanted = set(pairs)
    for start in range(0, len(customers), LOOKUP_CHUNK):
        stmt = select(UsageFeed.customer_id, UsageFeed.kind, UsageFeed.source).where(
            UsageFeed.customer_id.in_(customers[start : start + LOOKUP_CHUNK])
        )
        found.update(((c, k), src) for c, k, src in session.execute(stmt) if (c, k) in wanted)
    return found


def claim_staged(cursor: Any, stage: str, *, source: str) -> None:
    """`claim` for the (customer_id, kind) pairs of a PostgreSQL staging table, in SQL on a psycopg cursor: the
    pairs without a feed are inserted in key order (concurrent batches lock new pairs in the same order), skipping
    those already stored with an anti-join, so a steady feed writes nothing; then, in a new snapshot that sees what
    a concurrent claim committed while this one waited, the batch's pairs another source feeds (a 409)."""
    cursor.execute(
        f"INSERT INTO usage_feed (customer_id, kind, source) SELECT p.customer_id, p.kind, %(source)s"
        f" FROM (SELECT DISTINCT customer_id, kind FROM {stage}) p WHERE NOT EXISTS (SELECT 1 FROM usage_feed f"
        " WHERE f.customer_id = p.customer_id AND f.kind = p.kind) ORDER BY 1, 2 ON CONFLICT DO NOTHING",
        {"source": source},
    )
    cursor.execute(
        f"SELECT f.customer_id, f.kind FROM (SELECT DISTINCT customer_id, kind FROM {stage}) p"
        " JOIN usage_feed f ON f.customer_id = p.customer_id AND f.kind = p.kind WHERE f.source <> %(source)s",
        {"source": source},
    )
    clash = [(c, k) for c, k in cursor.fetchall()]
    if clash:
        raise mixing(clash, source=source)


# --- Rebuild and erasure -----------------------------------------------------------------------------------------


def _keep_specs(session: Session, specs: Iterable[Spec]) -> list[Spec]:
    """Insert the (kind, facet, property) rows not kept yet; the ones this statement inserted (a concurrent
    transaction that inserted one first backfills it: this one must not add its events a second time)."""
    rows = [{"kind": k, "facet": f, "property": p} for k, f, p in sorted(specs)]
    if not rows:
        return []
    table: Any = UsageRollupFacet.__table__
    stmt = dialect_insert(session, table).on_conflict_do_nothing()
    inserted = session.execute(stmt.returning(table.c.kind, table.c.facet, table.c.property), rows)
    return sorted((k, f, p) for k, f, p in inserted)


def rebuild(
    session: Session, customers: Sequence[str] | None = None, *, components: Iterable[UsageComponent] = ()
) -> int:
    """Recompute the raw-fed rollup from raw events (of `customers`, None: all), keeping also what `components` (every
    health model version's, from the caller) read; daily aggregates stay. Returns how many usage_daily rows it wrote.

    Days whose raw events a retention policy dropped lose their rows: rebuild only books whose events are whole.
    """
    _keep_specs(session, needed(components) - kept(session))
    specs = sorted(kept(session))
    pg = _pg(session)
    chunks: list[Sequence[str] | None] = (
        [None]
        if customers is None
        else [customers[i : i + LOOKUP_CHUNK] for i in range(0, len(customers), LOOKUP_CHUNK)]
    )
    written = 0
    for chunk in chunks:
        days = delete(UsageDaily).where(UsageDaily.source == "raw")
        values = delete(UsageDailyValue).where(UsageDailyValue.property != "")
        feeds = select(UsageDaily.customer_id, UsageDaily.kind, literal("raw", String)).where(
            UsageDaily.source == "raw", UsageDaily.facet == ""
        )
        count = select(func.count()).select_from(UsageDaily).where(UsageDaily.source == "raw")
        params: dict[str, Any] = {}
        source = "usage_event"
        if chunk is not None:
            days = days.where(UsageDaily.customer_id.in_(chunk))
            values = values.where(UsageDailyValue.customer_id.in_(chunk))
            feeds = feeds.where(UsageDaily.customer_id.in_(chunk))
            count = count.where(UsageDaily.customer_id.in_(chunk))
            params = {f"c{n}": cid for n, cid in enumerate(chunk)}
            marks = ", ".join(f"%({name})s" if pg else f":{name}" for name in params)
            source = f"(SELECT {EVENT_COLUMNS} FROM usage_event WHERE customer_id IN ({marks}))"
        session.execute(days)
        session.execute(values)
        _add(session, source, params, specs, include_all=True)
        table: Any = UsageFeed.__table__
        insert = dialect_insert(session, table).from_select(["customer_id", "kind", "source"], feeds.distinct())
        session.execute(insert.on_conflict_do_nothing())
        written += int(session.scalar(count) or 0)
    return written


def erase(session: Session, customer_id: str) -> int:
    """Delete a customer's rollup rows (days, values and its feeds); how many usage_daily rows went."""
    result = cast(CursorResult[Any], session.execute(delete(UsageDaily).where(UsageDaily.customer_id == customer_id)))
    session.execute(delete(UsageDailyValue).where(UsageDailyValue.customer_id == customer_id))
    session.execute(delete(UsageFeed).where(UsageFeed.customer_id == customer_id))
    return int(result.rowcount)
