"""`usage_event` storage on PostgreSQL: one partition per UTC month of `occurred_at`, and the id directory.

- **Partitions** (`usage_event_pYYYYMM`, range [first instant of the month, first instant of the next)) are made on
  demand by the ingest that needs them: `ensure_months` looks at the catalog, and only when a month is missing
  takes a transaction-level advisory lock, looks again (another batch may have made it meanwhile) and creates the
  missing ones as plain tables then ATTACHes them. ATTACH takes SHARE UPDATE EXCLUSIVE on `usage_event` (CREATE
  TABLE … PARTITION OF would take ACCESS EXCLUSIVE until the ingest commits, stopping every health read): other
  ingests and reads go on. No DEFAULT partition: a row can only land in its own month, so a month's partition
  holds exactly that month and retention drops whole months (a DEFAULT partition would also make each ATTACH scan
  it).
- **The id directory** `usage_event_id (id PRIMARY KEY, content_hash)`: PostgreSQL cannot index a partitioned table
  uniquely on `id` alone (a unique key must contain the partition key), yet an event id is unique across all time
  (SPEC §2: the same id with other content, a different `occurred_at` included, is a 409). Probing every month's
  index for each posted id cost more than the insert itself (5.0 s of checks against 3.0 s of inserting for
  200,000 events over 12 partitions, benchmarks/usage_ingest.py's notes in docs/operations.md); one narrow unique
  table answers in one probe per id, and its unique index makes concurrent batches that post the same id wait for
  each other as a primary key would. Retention deletes a month's ids with the month.

SQLite keeps a plain `usage_event` table whose primary key is the id: neither is needed there.
"""

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

PARENT = "usage_event"
DIRECTORY = "usage_event_id"
PARTITION = re.compile(r"^usage_event_p(\d{4})(\d{2})$")
# Tables Alembic's autogenerate must not compare with the models: they are PostgreSQL storage details.
STORAGE_TABLES = re.compile(r"^(usage_event_p\d{6}|usage_event_id)$")
_LOCK = int.from_bytes(hashlib.sha256(b"csroi:usage_event partitions").digest()[:8], "big", signed=True)

Month = tuple[int, int]  # (year, month)


def month_of(at: datetime) -> Month:
    """The UTC month of an aware instant."""
    return at.year, at.month


def next_month(month: Month) -> Month:
    """The month after."""
    year, number = month
    return (year + 1, 1) if number == 12 else (year, number + 1)


def months_between(first: Month, last: Month) -> list[Month]:
    """The months from `first` to `last`, both included, in order (none when `last` is before `first`)."""
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def partition_name(month: Month) -> str:
    """`usage_event_p202603` for March 2026."""
    return f"{PARENT}_p{month[0]:04d}{month[1]:02d}"


def _bound(month: Month) -> str:
    # Text, not a datetime: the bound after December 9999 is year 10000, which PostgreSQL takes and Python cannot.
    return f"{month[0]:04d}-{month[1]:02d}-01 00:00:00+00"


def create_sql(month: Month) -> list[str]:
    """The statements that make (and attach) the month's partition; indexes come from the parent's on ATTACH."""
    name = partition_name(month)
    return [
        f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name}"
        f" FOR VALUES FROM ('{_bound(month)}') TO ('{_bound(next_month(month))}')",
    ]


def _existing(cur: Any) -> set[Month]:
    cur.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (PARENT,),
    )
    return {(int(m.group(1)), int(m.group(2))) for (name,) in cur.fetchall() if (m := PARTITION.match(name))}


def ensure_months(cur: Any, months: Iterable[Month]) -> list[str]:
    """Make the partitions of `months` that do not exist yet (on a psycopg cursor in the caller's transaction);
    the names made. Then lock the months' partitions for writing, which also refreshes this session's view of
    partitions another transaction attached since this one first used `usage_event`."""
    wanted = set(months)
    made = []
    missing = wanted - _existing(cur)
    if missing:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        for month in sorted(missing - _existing(cur)):
            for statement in create_sql(month):
                cur.execute(statement)
            made.append(partition_name(month))
    if wanted:
        names = ", ".join(partition_name(m) for m in sorted(wanted))
        cur.execute(f"LOCK TABLE {names} IN ROW EXCLUSIVE MODE")
    return made


def partitions(cur: Any) -> list[Month]:
    """The months that have a partition, oldest first."""
    return sorted(_existing(cur))


def drop_month(cur: Any, month: Month) -> int:
    """Delete the month's ids from the directory and drop its partition; how many events went with it."""
    name = partition_name(month)
    cur.execute(f"DELETE FROM {DIRECTORY} d USING {name} p WHERE d.id = p.id")  # noqa: S608 - a partition name
    gone: int = cur.rowcount
    cur.execute(f"DROP TABLE {name}")
    return gone


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic `include_object`: leave the partitions and the id directory out of autogenerate's comparison."""
    return not (type_ == "table" and reflected and compare_to is None and name and STORAGE_TABLES.match(name))
