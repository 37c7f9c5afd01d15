"""The daily usage rollup (SPEC §14): what health windows read instead of raw events.

`usage_daily` holds one row per (customer, kind, facet, UTC day): facet '' aggregates every event of the kind;
another facet is the canonical JSON of a component's `where` filter and aggregates only the events matching it.
`usage_daily_value` keeps the distinct property values `distinct` components count. `usage_rollup_facet` lists
which (kind, facet, property) the stored health models need (data, not code: storing a model adds and backfills
its own), and `usage_feed` records whether a (customer, kind) is fed by raw events or by daily aggregates.

No foreign key to customer: these rows are derived, erasure deletes them explicitly (app/customers/erasure.py),
and a key would cost every raw ingest a lookup per row for nothing.
"""

from datetime import date, datetime
from typing import Literal

from sqlalchemy import BigInteger, CheckConstraint, Date, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, one_of

UsageSource = Literal["raw", "daily"]
SOURCES: tuple[UsageSource, ...] = ("raw", "daily")
# Σ of millionths: a day may hold many values near the 9 × 10^12 bound, beyond a bigint; PostgreSQL's
# sum(bigint) is numeric anyway. SQLite sums integers and refuses an overflow (as its raw reads do).
MicrosSum = BigInteger().with_variant(Numeric(38, 0), "postgresql")


class UsageDaily(Base):
    """One (customer, kind, facet, UTC day): count, Σ, min, max, first instant and last value of its events."""

    __tablename__ = "usage_daily"
    __table_args__ = (CheckConstraint(one_of("source", SOURCES), name="source"),)

    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100), primary_key=True)
    # '' for every event of the kind, else a `where` filter as canonical JSON, e.g. {"survey":"nps"}.
    facet: Mapped[str] = mapped_column(String(2000), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    sum_micros: Mapped[int] = mapped_column(MicrosSum)
    min_micros: Mapped[int | None] = mapped_column(BigInteger)
    max_micros: Mapped[int | None] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The day's latest event by (occurred_at, id), as raw reads break ties; NULL on a daily row without `last`.
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_id: Mapped[str | None] = mapped_column(String(255))
    last_micros: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(5))


class UsageDailyValue(Base):
    """A property value seen on one (customer, kind, facet, day): what `distinct` components count.

    Raw events store the values of the properties the models count; a daily row's `distinct_values` are stored
    under property '' (they answer any property).
    """

    __tablename__ = "usage_daily_value"

    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100), primary_key=True)
    facet: Mapped[str] = mapped_column(String(2000), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    property: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The value as text (PostgreSQL's ->>); on PostgreSQL a value longer than 256 characters is kept as
    # 'md5:' and its digest, which keeps the key inside a btree entry and counts the same.
    value: Mapped[str] = mapped_column(Text, primary_key=True)


class UsageRollupFacet(Base):
    """A (kind, facet, property) some health model reads: the rollup keeps it (property '': the facet's rows)."""

    __tablename__ = "usage_rollup_facet"

    kind: Mapped[str] = mapped_column(String(100), primary_key=True)
    facet: Mapped[str] = mapped_column(String(2000), primary_key=True)
    property: Mapped[str] = mapped_column(String(100), primary_key=True)


class UsageFeed(Base):
    """Which source feeds a (customer, kind): raw events or daily aggregates, never both (SPEC §14).

    A row per pair rather than a look at usage_daily: the first writer's insert makes a concurrent one wait on
    the key and then see it, so two batches racing with different sources cannot both win.
    """

    __tablename__ = "usage_feed"
    __table_args__ = (CheckConstraint(one_of("source", SOURCES), name="source"),)

    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(String(5))
