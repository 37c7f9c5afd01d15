"""`ClickHouseStore`: usage events and the health reads in ClickHouse (SPEC §14), customers stay in the SQL database.

The five reads answer exactly what `app.usage.raw_reads` answers from `usage_event` (the parity test runs both):
components without `where` read the `usage_daily` rollup (and `usage_daily_value` for `distinct`) merged with the
daily aggregates of `usage_daily_import` (what `app.usage.daily_reads` answers for them); components with `where`
group raw events by day in ClickHouse into the same shape. Windows are whole UTC days, so a day relation answers
every window: as_of - window_days < day ≤ as_of. Point sets travel as one array parameter.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app import records
from app.db import day_end, utcnow
from app.errors import Unprocessable
from app.models import UsageFeed
from app.types import UsageComponent, from_micros
from app.usage import rollup
from app.usage.clickhouse.client import ClickHouseClient, Dsn, connect
from app.usage.clickhouse.schema import TABLES, ClickHouseSettings, Schema, prop_text, quote
from app.usage.daily import DailyRow
from app.usage.partitions import month_of
from app.usage.raw_reads import windowed_raw
from app.usage.schemas import DailyBatchResult, EventBatchResult
from app.usage.service import EventRow, Expiry, conflict, retention_horizon, unique_rows

_EPOCH = date(1970, 1, 1)
_EPOCH_AT = datetime(1970, 1, 1, tzinfo=UTC)
# DateTime64's range: ClickHouse would clamp a time outside it, so such an event is refused instead.
FIRST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LAST_INSTANT = datetime(2300, 1, 1, tzinfo=UTC)
FIRST_DAY, LAST_DAY = FIRST_INSTANT.date(), (LAST_INSTANT - timedelta(days=1)).date()
_LOOKUP_CHUNK = 10_000
_INSERT_CHUNK = 100_000
_EVENT_COLUMNS = ("id", "customer_id", "kind", "occurred_at", "value", "properties", "content_hash", "received_at")
_DAILY_COLUMNS = ("customer_id", "kind", "day", "events", "sum_micros", "last_micros", "distinct_values", "version")
# A day row of the rollup, of the daily aggregates and of raw events (a `where` component): what `_days` selects.
_ROLLUP_DAY = (
    "SELECT customer_id, day, toUInt64(events) AS events, toInt128(sum_micros) AS sum_micros,"
    " CAST(first_at AS DateTime64(6, 'UTC')) AS first_at, CAST(last AS Tuple(DateTime64(6, 'UTC'), String, Int64))"
    " AS last, toUInt8(1) AS has_last"
)
# A daily aggregate's instant is the start of its day (as in the SQL store); `last` only when the day carries one.
_IMPORTED_DAY = (
    "SELECT customer_id, day, events, sum_micros, toDateTime64(day, 6, 'UTC') AS first_at,"
    " (first_at, '', ifNull(last_micros, 0)) AS last, toUInt8(last_micros IS NOT NULL) AS has_last"
)

Where = Mapping[str, str] | None


def _day(d: date) -> int:
    """A date as ClickHouse's Int32 day number (days since 1970-01-01, negative before)."""
    return (d - _EPOCH).days


def _at(micros: int) -> datetime:
    return _EPOCH_AT + timedelta(microseconds=int(micros))


def _micros_of(at: datetime) -> int:
    return (at - _EPOCH_AT) // timedelta(microseconds=1)


def _end_micros(d: date) -> int:
    """The first instant after `d` in microseconds, bounded to what DateTime64 holds."""
    return _micros_of(min(max(day_end(d), FIRST_INSTANT), LAST_INSTANT))


class _Params:
    """Query parameters named p0, p1, …: `add` returns the `{pN:Type}` placeholder."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any, type_: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{type_}}}"


class ClickHouseStore:
    """The usage store on ClickHouse: raw events, a rollup kept by materialized views, health reads computed there."""

    def __init__(
        self, dsn: str, *, settings: ClickHouseSettings | None = None, client: ClickHouseClient | None = None
    ) -> None:
        parsed = Dsn(dsn)
        self.schema = Schema.from_settings(settings or ClickHouseSettings(), database=parsed.database)
        self._client = client
        self._dsn = parsed
        self._ready = False

    @property
    def client(self) -> ClickHouseClient:
        """The connection, made (and the schema created, IF NOT EXISTS) on first use."""
        if self._client is None:
            self._client = connect(self._dsn)
        if not self._ready:
            self.create_schema()
        return self._client

    def create_schema(self) -> None:
        """Run the schema's DDL (every statement is IF NOT EXISTS)."""
        if self._client is None:
            self._client = connect(self._dsn)
        for statement in self.schema.ddl():
            self._client.command(statement)
        self._ready = True

    def _query(self, sql: str, params: _Params) -> list[tuple[Any, ...]]:
        return self.client.query(sql, params.values)

    # --- ingest --------------------------------------------------------------------------------------------------

    def ingest_events(
        self, session: Session, rows: list[EventRow], *, retention_days: int | None = None
    ) -> EventBatchResult:
        """Store new events in ClickHouse, count re-posted ones, refuse the batch (409) if an id arrives with new
        content, with nothing written; stub customers go through `session` (the caller commits it). Events older than
        the retention horizon are counted as expired and not stored, as in the SQL store."""
        distinct, repeats = unique_rows(rows)
        horizon = retention_horizon(utcnow(), retention_days)
        expired = 0
        if horizon is not None:
            kept = [r for r in distinct if r.occurred_at >= horizon]
            expired, distinct = len(distinct) - len(kept), kept
        if not distinct:
            return EventBatchResult(accepted=0, duplicates=repeats, expired=expired)
        _refuse_outside(
            [r.id for r in distinct if not FIRST_INSTANT <= r.occurred_at < LAST_INSTANT],
            "event(s) occurred", loc="events", field="occurred_at",
        )  # fmt: skip
        self._claim(session, {(r.customer_id, r.kind) for r in distinct}, source="raw")
        stored = self._stored_hashes([r.id for r in distinct])
        conflicts = [r.id for r in distinct if stored.get(r.id, r.content_hash) != r.content_hash]
        if conflicts:
            raise conflict(conflicts)
        new = [r for r in distinct if r.id not in stored]
        # Every customer the batch names, not only the new rows': a re-post after a crash between the ClickHouse
        # insert and the SQL commit creates the stubs that commit lost.
        records.ensure_customers(session, sorted({r.customer_id for r in distinct}))
        session.flush()
        received = utcnow()
        for start in range(0, len(new), _INSERT_CHUNK):
            chunk = new[start : start + _INSERT_CHUNK]
            self.client.insert(
                self.schema.table("usage_event"),
                [(*r, received) for r in chunk],
                _EVENT_COLUMNS,
            )
        return EventBatchResult(accepted=len(new), duplicates=repeats + len(distinct) - len(new), expired=expired)

    def _stored_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            params = _Params()
            chunk = params.add(list(ids[start : start + _LOOKUP_CHUNK]), "Array(String)")
            table = self.schema.table("usage_event_id")
            sql = f"SELECT id, any(content_hash) FROM {table} WHERE id IN {chunk} GROUP BY id"
            found.update({event_id: digest for event_id, digest in self._query(sql, params)})
        return found

    def _claim(self, session: Session, pairs: set[tuple[str, str]], *, source: str) -> None:
        """`rollup.claim` of the (customer, kind) pairs for `source` in the SQL database's `usage_feed`, which
        serialises concurrent claims (ClickHouse has no unique constraint), after a look at what ClickHouse holds
        for the other source: a pair stored there without its feed row (written before this store recorded feeds,
        or by a batch whose SQL commit was lost) is a 409 as well."""
        wanted = sorted(pairs)
        if source == "raw":
            # Most raw batches name no kind that daily aggregates feed: a look at the kinds (a small parameter)
            # spares them the pair lookup (10,000 pairs as a parameter cost ~0.4 s of chDB time per batch).
            kinds = self._kinds_in("usage_daily_import", sorted({k for _, k in wanted}))
            wanted = [p for p in wanted if p[1] in kinds]
        fed = self._pairs_in("usage_daily_import" if source == "raw" else "usage_daily", wanted)
        if fed:
            raise rollup.mixing(fed, source=source)
        rollup.claim(session, pairs, source=source)

    def _kinds_in(self, table: str, kinds: Sequence[str]) -> set[str]:
        """Which of `kinds` have rows in `table`."""
        params = _Params()
        wanted = params.add(list(kinds), "Array(String)")
        sql = f"SELECT toString(kind) FROM {self.schema.table(table)} WHERE kind IN {wanted} GROUP BY kind"
        return {kind for (kind,) in self._query(sql, params)}

    def _pairs_in(self, table: str, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (customer, kind) pairs that have rows in `table` (the rollup or the daily aggregates)."""
        found: list[tuple[str, str]] = []
        for start in range(0, len(pairs), _LOOKUP_CHUNK):
            chunk = pairs[start : start + _LOOKUP_CHUNK]
            params = _Params()
            kinds = params.add(sorted({k for _, k in chunk}), "Array(String)")
            customers = params.add(sorted({c for c, _ in chunk}), "Array(String)")
            wanted = params.add(list(chunk), "Array(Tuple(String, String))")
            sql = (
                f"SELECT DISTINCT customer_id, toString(kind) FROM {self.schema.table(table)}"
                f" WHERE kind IN {kinds} AND customer_id IN {customers} AND (customer_id, toString(kind)) IN {wanted}"
            )
            found.extend((c, k) for c, k in self._query(sql, params))
        return found

    def ingest_daily(self, session: Session, rows: Sequence[DailyRow]) -> DailyBatchResult:
        """Upsert daily aggregates by (customer, kind, day) into `usage_daily_import`, with the SQL store's answers
        (`app.usage.daily.ingest_daily`): created, updated, or unchanged (a day re-sent as stored is not written);
        a 409 naming the pairs raw events feed and a 422 for days ClickHouse cannot hold, both before anything is
        written; stub customers through `session` (the caller commits it).

        The changed days are one insert of new versions (ReplacingMergeTree): readers take each day's latest. Not a
        transaction with the SQL database: see docs/clickhouse.md (a retry after a failure converges)."""
        if not rows:
            return DailyBatchResult(created=0, updated=0, unchanged=0)
        _refuse_outside(
            [f"{r.customer_id} {r.kind} {r.day}" for r in rows if not FIRST_DAY <= r.day <= LAST_DAY],
            "row(s) fall", loc="rows", field="day",
        )  # fmt: skip
        self._claim(session, {(r.customer_id, r.kind) for r in rows}, source="daily")
        records.ensure_customers(session, sorted({r.customer_id for r in rows}))
        session.flush()  # the SQL writes before ClickHouse's: a failing one leaves ClickHouse untouched
        stored = self._stored_days(rows)
        changed = sorted(
            (r for r in rows if (kept := stored.get((r.customer_id, r.kind, r.day))) is None or kept[0] != r),
            key=lambda r: (r.customer_id, r.kind, r.day),
        )
        created = sum(1 for r in changed if (r.customer_id, r.kind, r.day) not in stored)
        if changed:
            # Above every stored version of these days, whatever the clock says (a day's newest write wins).
            version = max([_micros_of(utcnow()), *(v + 1 for _, v in stored.values())])
            self.client.insert(
                self.schema.table("usage_daily_import"),
                [(r.customer_id, r.kind, r.day, r.events, r.sum_micros, r.last_micros, list(r.values), version)
                 for r in changed],
                _DAILY_COLUMNS,
            )  # fmt: skip
        return DailyBatchResult(created=created, updated=len(changed) - created, unchanged=len(rows) - len(changed))

    def _stored_days(self, rows: Sequence[DailyRow]) -> dict[tuple[str, str, date], tuple[DailyRow, int]]:
        """The stored (latest) daily aggregates of the rows' days, with their versions: a statement per chunk."""
        found: dict[tuple[str, str, date], tuple[DailyRow, int]] = {}
        for start in range(0, len(rows), _LOOKUP_CHUNK):
            chunk = rows[start : start + _LOOKUP_CHUNK]
            params = _Params()
            kinds = params.add(sorted({r.kind for r in chunk}), "Array(String)")
            customers = params.add(sorted({r.customer_id for r in chunk}), "Array(String)")
            lo = params.add(min(_day(r.day) for r in chunk), "Int32")
            hi = params.add(max(_day(r.day) for r in chunk), "Int32")
            keys = params.add(
                [(r.customer_id, r.kind, _day(r.day)) for r in chunk], "Array(Tuple(String, String, Int32))"
            )
            sql = (
                "SELECT customer_id, toString(kind), toInt32(day), events, sum_micros, last_micros, distinct_values,"
                f" version FROM {self.schema.table('usage_daily_import')} FINAL"
                f" WHERE kind IN {kinds} AND customer_id IN {customers} AND toInt32(day) BETWEEN {lo} AND {hi}"
                f" AND (customer_id, toString(kind), toInt32(day)) IN {keys}"
            )
            for cid, kind, number, events, total, last, values, version in self._query(sql, params):
                day = _EPOCH + timedelta(days=int(number))
                row = DailyRow(
                    cid, kind, day, int(events), int(total), None if last is None else int(last), tuple(values)
                )
                found[(cid, kind, day)] = (row, int(version))
        return found

    def expire_events(self, session: Session, *, now: datetime, retention_days: int) -> Expiry:
        """The `usage.retention` job on ClickHouse: drop the monthly partitions of raw events (and of their ids)
        of every UTC month that ended before the horizon, as the SQL store drops PostgreSQL's; the rollup and the
        daily aggregates stay. One ALTER per table, whatever the number of months."""
        horizon = now - timedelta(days=retention_days)
        year, month = month_of(horizon)
        params = _Params()
        first_kept = _micros_of(datetime(year, month, 1, tzinfo=UTC))
        start = params.add(first_kept, "Int64")
        found = self._query(
            f"SELECT toYYYYMM(occurred_at) AS m, count() FROM {self.schema.table('usage_event')}"
            f" WHERE occurred_at < fromUnixTimestamp64Micro({start}, 'UTC') GROUP BY m ORDER BY m",
            params,
        )
        if not found:
            return Expiry(horizon, [], 0)
        drops = ", ".join(f"DROP PARTITION {int(m)}" for m, _ in found)
        on = self.schema.on_cluster
        ids, events = self.schema.local("usage_event_id"), self.schema.local("usage_event")
        # The ids first: if the job stops between the two, the next run still finds the month's events to drop (the
        # other order could leave a month's ids behind for good).
        if self._ids_by_month():
            self.client.command(f"ALTER TABLE {ids}{on} {drops}")
        else:  # a store made before the ids had months (docs/clickhouse.md): each node deletes its events' ids
            self.client.command(
                f"ALTER TABLE {ids}{on} DELETE WHERE id IN (SELECT id FROM {events}"
                f" WHERE occurred_at < fromUnixTimestamp64Micro({first_kept}, 'UTC'))"
                " SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1"
            )
        self.client.command(f"ALTER TABLE {events}{on} {drops}")
        months = [f"{int(m) // 100:04d}-{int(m) % 100:02d}" for m, _ in found]
        return Expiry(horizon, months, sum(int(n) for _, n in found))

    def _ids_by_month(self) -> bool:
        """Whether `usage_event_id` is partitioned by month (stores made before it was are not)."""
        params = _Params()
        database = params.add(self.schema.database, "String")
        name = params.add(self.schema.local("usage_event_id").split(".", 1)[1], "String")
        sql = f"SELECT partition_key FROM system.tables WHERE database = {database} AND name = {name}"
        return [tuple(r) for r in self._query(sql, params)] == [("toYYYYMM(occurred_at)",)]

    def erase(self, session: Session, customer_id: str) -> int:
        """Delete a customer's events, rollups and daily aggregates (synchronous mutations) and its feed rows in the
        SQL database (its pairs may take either source again, as on the SQL store); how many events there were."""
        params = _Params()
        who = params.add(customer_id, "String")
        (count,) = self._query(
            f"SELECT count() FROM {self.schema.table('usage_event')} WHERE customer_id = {who}", params
        )[0]
        for name in TABLES:
            self.client.command(
                f"ALTER TABLE {self.schema.local(name)}{self.schema.on_cluster}"
                f" DELETE WHERE customer_id = {quote(customer_id)} SETTINGS mutations_sync = 2"
            )
        session.execute(delete(UsageFeed).where(UsageFeed.customer_id == customer_id))
        return int(count)

    # --- the day relations -----------------------------------------------------------------------------------------

    def _match(self, kind: str, where: Where, params: _Params) -> str:
        conditions = [f"kind = {params.add(kind, 'String')}"]
        for key, value in sorted((where or {}).items()):
            conditions.append(f"{prop_text('properties', params.add(key, 'String'))} = {params.add(value, 'String')}")
        return " AND ".join(conditions)

    def _customers(self, customers: Sequence[str] | None, params: _Params) -> str:
        return "" if customers is None else f" AND customer_id IN {params.add(list(customers), 'Array(String)')}"

    def _days(
        self, kind: str, where: Where, params: _Params, *, customers: Sequence[str] | None, upto: date | None
    ) -> str:
        """(customer_id, day, events, sum_micros, first_at, last, has_last) rows of one (kind, where), possibly
        several per (customer, day): readers aggregate them, and read `last` only where `has_last` (a daily aggregate
        may carry no level). Without `where`: the rollup and the daily aggregates (a pair is in only one of them);
        with it, each matching raw event as a day row of one event."""
        who = self._customers(customers, params)
        if not where:
            bound = "" if upto is None else f" AND toInt32(day) <= {params.add(_day(upto), 'Int32')}"
            condition = f"{self._match(kind, None, params)}{who}{bound}"
            return (
                f"{_ROLLUP_DAY} FROM {self.schema.table('usage_daily')} WHERE {condition}"
                f" UNION ALL {_IMPORTED_DAY} FROM {self.schema.table('usage_daily_import')} FINAL WHERE {condition}"
            )
        bound = (
            ""
            if upto is None
            else f" AND occurred_at < fromUnixTimestamp64Micro({params.add(_end_micros(upto), 'Int64')}, 'UTC')"
        )
        return (
            "SELECT customer_id, toDate32(occurred_at) AS day, toUInt64(1) AS events, toInt128(value) AS sum_micros,"
            " occurred_at AS first_at, (occurred_at, id, value) AS last, toUInt8(1) AS has_last"
            f" FROM {self.schema.table('usage_event')} WHERE {self._match(kind, where, params)}{who}{bound}"
        )

    def _values(
        self, component: UsageComponent, params: _Params, *, customers: Sequence[str] | None, upto: date
    ) -> str:
        """(customer_id, day, value) rows of a distinct component's property (NULL values are not counted); a daily
        aggregate's distinct values answer any property, as in the SQL store."""
        assert component.property is not None  # noqa: S101 - the schema requires it
        who = self._customers(customers, params)
        prop = params.add(component.property, "String")
        if not component.where:
            upto_day = params.add(_day(upto), "Int32")
            condition = f"{self._match(component.kind, None, params)}{who} AND toInt32(day) <= {upto_day}"
            return (
                f"SELECT customer_id, day, value FROM {self.schema.table('usage_daily_value')}"
                f" WHERE {condition} AND property = {prop}"
                " UNION ALL SELECT customer_id, day, arrayJoin(distinct_values) AS value"
                f" FROM {self.schema.table('usage_daily_import')} FINAL WHERE {condition}"
            )
        return (
            f"SELECT customer_id, toDate32(occurred_at) AS day, {prop_text('properties', prop)} AS value"
            f" FROM {self.schema.table('usage_event')}"
            f" WHERE {self._match(component.kind, component.where, params)}{who}"
            f" AND occurred_at < fromUnixTimestamp64Micro({params.add(_end_micros(upto), 'Int64')}, 'UTC')"
        )

    # --- model_raws and first_seen -----------------------------------------------------------------------------------

    def model_raws(  # noqa: PLR0912 - the SQL reads' `first` rules, kept next to the reads they change
        self,
        session: Session,
        components: Sequence[UsageComponent],
        *,
        as_of: date,
        customers: Sequence[str] | None,
        seats: bool,
        first: Sequence[Mapping[str, datetime]] | None = None,
    ) -> tuple[list[dict[str, Decimal | None]], dict[str, tuple[Decimal, datetime]]]:
        """`app.usage.raw_reads.model_raws` in ClickHouse: a statement per component and per `last` group (the
        seats are one), whatever the number of customers."""
        raws: list[dict[str, Decimal | None]] = []
        for c in components:
            if c.aggregate == "distinct":
                raws.append(self._distinct(c, as_of=as_of, customers=customers))
            elif c.aggregate == "last":
                raws.append({})
            else:
                raws.append(self._windowed(c, as_of=as_of, customers=customers))
        end = day_end(as_of)
        groups: dict[tuple[str, str], dict[str, tuple[Decimal, datetime] | None]] = {}
        for i, c in enumerate(components):
            if c.aggregate != "last":
                continue
            key = (c.kind, repr(sorted((c.where or {}).items())))
            if key not in groups:
                groups[key] = self._latest_or_none(c.kind, c.where, as_of=as_of, customers=customers)
                if first is not None:
                    # As the SQL reads with `first`: a latest event older than the group's widest window is left out.
                    widest = max(o.window_days for o in components if o.aggregate == "last" and o.kind == c.kind
                                 and (o.where or {}) == (c.where or {}))  # fmt: skip
                    since = end - timedelta(days=widest)
                    groups[key] = {cid: v for cid, v in groups[key].items() if v is not None and v[1] >= since}
            start = end - timedelta(days=c.window_days)
            # Without `first`, a customer with days but no level (daily aggregates without `last`) is None, as the
            # SQL store's history probe answers.
            raws[i] = {cid: (v[0] if v is not None and v[1] >= start else None) for cid, v in groups[key].items()}
        if first is not None:
            # As the SQL reads with `first`: its customers with history but nothing in the window are 0 (None for avg).
            for i, c in enumerate(components):
                if c.aggregate == "last":
                    continue
                for cid, seen in first[i].items():
                    if seen < end and cid not in raws[i]:
                        raws[i][cid] = None if c.aggregate == "avg" else Decimal(0)
        latest_seats = self._latest("seats", None, as_of=as_of, customers=customers) if seats else {}
        return raws, latest_seats

    def _windowed(
        self, c: UsageComponent, *, as_of: date, customers: Sequence[str] | None
    ) -> dict[str, Decimal | None]:
        if customers is not None and not customers:
            return {}
        params = _Params()
        lo = params.add(_day(as_of) - c.window_days, "Int32")
        days = self._days(c.kind, c.where, params, customers=customers, upto=as_of)
        sql = (
            f"SELECT customer_id, toUInt64(sumIf(events, toInt32(day) > {lo})), sumIf(sum_micros, toInt32(day) > {lo})"
            f" FROM ({days}) GROUP BY customer_id"
        )
        return {cid: windowed_raw(c.aggregate, count, total) for cid, count, total in self._query(sql, params)}

    def _distinct(
        self, c: UsageComponent, *, as_of: date, customers: Sequence[str] | None
    ) -> dict[str, Decimal | None]:
        if customers is not None and not customers:
            return {}
        params = _Params()
        lo = params.add(_day(as_of) - c.window_days, "Int32")
        days = self._days(c.kind, c.where, params, customers=customers, upto=as_of)
        values = self._values(c, params, customers=customers, upto=as_of)
        sql = (
            f"SELECT e.customer_id, v.n FROM (SELECT DISTINCT customer_id FROM ({days})) AS e"
            f" LEFT JOIN (SELECT customer_id, uniqExact(value) AS n FROM ({values}) WHERE toInt32(day) > {lo}"
            " GROUP BY customer_id) AS v ON e.customer_id = v.customer_id"
        )
        return {cid: Decimal(n or 0) for cid, n in self._query(sql, params)}

    def _latest(
        self, kind: str, where: Where, *, as_of: date, customers: Sequence[str] | None
    ) -> dict[str, tuple[Decimal, datetime]]:
        """Each customer's latest value of (kind, where) up to as_of, with when (ties: highest id)."""
        found = self._latest_or_none(kind, where, as_of=as_of, customers=customers)
        return {cid: v for cid, v in found.items() if v is not None}

    def _latest_or_none(
        self, kind: str, where: Where, *, as_of: date, customers: Sequence[str] | None
    ) -> dict[str, tuple[Decimal, datetime] | None]:
        """`_latest`, and None for each customer with days of (kind, where) up to as_of but no value among them."""
        if customers is not None and not customers:
            return {}
        params = _Params()
        days = self._days(kind, where, params, customers=customers, upto=as_of)
        sql = (
            "SELECT customer_id, n, tupleElement(l, 3), toUnixTimestamp64Micro(tupleElement(l, 1)) FROM (SELECT"
            f" customer_id, countIf(has_last) AS n, maxIf(last, has_last) AS l FROM ({days}) GROUP BY customer_id)"
        )
        return {cid: (_value(micros), _at(at)) if n else None for cid, n, micros, at in self._query(sql, params)}

    def first_seen(
        self, session: Session, components: Sequence[UsageComponent], *, customers: Sequence[str] | None
    ) -> list[dict[str, datetime]]:
        """When each customer first had each component's events: a statement per (kind, where)."""
        found: dict[tuple[str, str], dict[str, datetime]] = {}
        result: list[dict[str, datetime]] = []
        for c in components:
            key = (c.kind, repr(sorted((c.where or {}).items())))
            if key not in found:
                found[key] = {}
                if customers is None or customers:
                    params = _Params()
                    days = self._days(c.kind, c.where, params, customers=customers, upto=None)
                    sql = (
                        f"SELECT customer_id, toUnixTimestamp64Micro(min(first_at)) FROM ({days}) GROUP BY customer_id"
                    )
                    found[key] = {cid: _at(at) for cid, at in self._query(sql, params)}
            result.append(dict(found[key]))
        return result

    # --- point reads -----------------------------------------------------------------------------------------------

    def point_raws(
        self, session: Session, components: Sequence[UsageComponent], points: Sequence[tuple[str, date]], *, seats: bool
    ) -> tuple[list[dict[int, Decimal | None]], dict[int, tuple[Decimal, datetime]]]:
        """`model_raws` of many (customer, day) points, keyed by index: the points are one array parameter joined
        to the day rows (a statement per component and per `last` group, whatever the number of points)."""
        raws: list[dict[int, Decimal | None]] = [{} for _ in components]
        if not points:
            return raws, {}
        groups: dict[tuple[str, str], dict[int, tuple[Decimal, datetime]]] = {}
        for i, c in enumerate(components):
            if c.aggregate == "last":
                key = (c.kind, repr(sorted((c.where or {}).items())))
                if key not in groups:
                    groups[key] = self._point_latest(c.kind, c.where, points)
                raws[i] = {
                    n: (value if at >= day_end(points[n][1]) - timedelta(days=c.window_days) else None)
                    for n, (value, at) in groups[key].items()
                }
            elif c.aggregate == "distinct":
                raws[i] = self._point_distinct(c, points)
            else:
                raws[i] = self._point_windowed(c, points)
        return raws, (self._point_latest("seats", None, points) if seats else {})

    def _points(self, points: Sequence[tuple[str, date]], params: _Params) -> str:
        array = params.add(
            [(n, cid, _day(day)) for n, (cid, day) in enumerate(points)], "Array(Tuple(UInt32, String, Int32))"
        )
        return (
            "SELECT tupleElement(t, 1) AS n, tupleElement(t, 2) AS customer_id, tupleElement(t, 3) AS pday"
            f" FROM (SELECT arrayJoin({array}) AS t)"
        )

    def _point_days(self, kind: str, where: Where, points: Sequence[tuple[str, date]], params: _Params) -> str:
        """The day rows of the points' customers, each joined to its points (`p.n`, `p.pday`) up to the point's day."""
        customers = sorted({cid for cid, _ in points})
        days = self._days(kind, where, params, customers=customers, upto=max(day for _, day in points))
        return (
            f"({days}) AS r INNER JOIN ({self._points(points, params)}) AS p ON r.customer_id = p.customer_id"
            " WHERE toInt32(r.day) <= p.pday"
        )

    def _point_windowed(self, c: UsageComponent, points: Sequence[tuple[str, date]]) -> dict[int, Decimal | None]:
        params = _Params()
        width = params.add(c.window_days, "Int32")
        joined = self._point_days(c.kind, c.where, points, params)
        inside = f"toInt32(r.day) > p.pday - {width}"
        sql = (
            f"SELECT p.n, toUInt64(sumIf(r.events, {inside})), sumIf(r.sum_micros, {inside}) FROM {joined} GROUP BY p.n"
        )
        return {n: windowed_raw(c.aggregate, count, total) for n, count, total in self._query(sql, params)}

    def _point_distinct(self, c: UsageComponent, points: Sequence[tuple[str, date]]) -> dict[int, Decimal | None]:
        params = _Params()
        width = params.add(c.window_days, "Int32")
        joined = self._point_days(c.kind, c.where, points, params)
        customers = sorted({cid for cid, _ in points})
        values = self._values(c, params, customers=customers, upto=max(day for _, day in points))
        sql = (
            f"SELECT e.n, v.k FROM (SELECT DISTINCT p.n AS n FROM {joined}) AS e LEFT JOIN ("
            f"SELECT p.n AS n, uniqExact(r.value) AS k FROM ({values}) AS r"
            f" INNER JOIN ({self._points(points, params)}) AS p ON r.customer_id = p.customer_id"
            f" WHERE toInt32(r.day) <= p.pday AND toInt32(r.day) > p.pday - {width} GROUP BY p.n) AS v ON e.n = v.n"
        )
        return {n: Decimal(k or 0) for n, k in self._query(sql, params)}

    def _point_latest(
        self, kind: str, where: Where, points: Sequence[tuple[str, date]]
    ) -> dict[int, tuple[Decimal, datetime]]:
        params = _Params()
        joined = self._point_days(kind, where, points, params)
        sql = (
            "SELECT n, tupleElement(l, 3), toUnixTimestamp64Micro(tupleElement(l, 1))"
            f" FROM (SELECT p.n AS n, max(r.last) AS l FROM {joined} AND r.has_last GROUP BY p.n)"
        )
        return {n: (_value(micros), _at(at)) for n, micros, at in self._query(sql, params)}

    # --- (customer, kind, day) reads -----------------------------------------------------------------------------

    def _kind_points(self, ordered: Sequence[tuple[str, str, date]], params: _Params) -> tuple[str, str]:
        """The day rows (rollup and daily aggregates) of the points' customers and kinds, and the points (n,
        customer_id, kind, pday)."""
        array = params.add(
            [(n, c, k, _day(d)) for n, (c, k, d) in enumerate(ordered)], "Array(Tuple(UInt32, String, String, Int32))"
        )
        points = (
            "SELECT tupleElement(t, 1) AS n, tupleElement(t, 2) AS customer_id, tupleElement(t, 3) AS kind,"
            f" tupleElement(t, 4) AS pday FROM (SELECT arrayJoin({array}) AS t)"
        )
        customers = params.add(sorted({c for c, _, _ in ordered}), "Array(String)")
        kinds = params.add(sorted({k for _, k, _ in ordered}), "Array(String)")
        upto = params.add(max(_day(d) for _, _, d in ordered), "Int32")
        condition = f"customer_id IN {customers} AND kind IN {kinds} AND toInt32(day) <= {upto}"
        rows = (
            f"{_ROLLUP_DAY}, kind FROM {self.schema.table('usage_daily')} WHERE {condition}"
            f" UNION ALL {_IMPORTED_DAY}, kind FROM {self.schema.table('usage_daily_import')} FINAL WHERE {condition}"
        )
        return rows, points

    def window_totals(
        self, session: Session, windows: set[tuple[str, str, date]], *, window_days: int
    ) -> dict[tuple[str, str, date], tuple[int, int | None]]:
        """The event count and Σ of values (millionths) of each (customer, kind, day) window, from the rollup in one
        statement; (0, None) without events."""
        if not windows:
            return {}
        ordered = sorted(windows)
        params = _Params()
        rows, points = self._kind_points(ordered, params)
        width = params.add(window_days, "Int32")
        sql = (
            f"SELECT p.n, toUInt64(sum(r.events)), sum(r.sum_micros) FROM ({rows}) AS r INNER JOIN ({points}) AS p"
            " ON r.customer_id = p.customer_id AND r.kind = p.kind"
            f" WHERE toInt32(r.day) <= p.pday AND toInt32(r.day) > p.pday - {width} GROUP BY p.n"
        )
        found = {n: (int(count), int(total)) for n, count, total in self._query(sql, params)}
        return {window: found.get(n, (0, None)) for n, window in enumerate(ordered)}

    def latest_upto(self, session: Session, points: set[tuple[str, str, date]]) -> dict[tuple[str, str, date], Decimal]:
        """The latest value of each (customer, kind, day) up to the end of the day, however old (ties: highest id);
        a point without any such event is missing. One statement over the rollup."""
        if not points:
            return {}
        ordered = sorted(points)
        params = _Params()
        rows, wanted = self._kind_points(ordered, params)
        sql = (
            "SELECT n, tupleElement(l, 3) FROM (SELECT p.n AS n, max(r.last) AS l"
            f" FROM ({rows}) AS r INNER JOIN ({wanted}) AS p ON r.customer_id = p.customer_id AND r.kind = p.kind"
            " WHERE toInt32(r.day) <= p.pday AND r.has_last GROUP BY p.n)"
        )
        found = {n: _value(micros) for n, micros in self._query(sql, params)}
        return {point: found[n] for n, point in enumerate(ordered) if n in found}


def _value(micros: int) -> Decimal:
    value = from_micros(micros)
    assert value is not None  # noqa: S101 - the latest of a NOT NULL column
    return value


def _refuse_outside(labels: Sequence[str], what: str, *, loc: str, field: str) -> None:
    """A 422 naming (the first 20 of) `labels`, items dated outside 1900-2299: ClickHouse's Date and DateTime64
    ranges, which this store's tables use. Nothing has been written when it is raised."""
    if not labels:
        return
    outside = sorted(labels)
    raise Unprocessable(
        f"{len(outside)} {what} outside 1900-2299, which the ClickHouse usage store cannot hold; nothing was written.",
        [{"loc": ["body", loc], "msg": f"{field} out of range: {', '.join(outside[:20])}", "type": "value_error"}],
    )
