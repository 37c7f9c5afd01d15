"""`csroi import KIND FILE.csv`: validate every row with the API's schemas, then write all or nothing."""

import csv
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from sqlalchemy.orm import Session

from app.batch import MAX_BATCH_ITEMS
from app.costs import service as costs_service
from app.costs.schemas import CostBatchItem
from app.customers import service as customers_service
from app.customers.schemas import CustomerBatchItem, TeamMemberBatchItem
from app.ledger.ingest import ingest_revenue_events
from app.ledger.schemas import RevenueEventIn
from app.renewals import service as renewals_service
from app.renewals.schemas import RenewalBatchItem
from app.usage import store as usage_store
from app.usage.schemas import UsageDailyIn, UsageEventIn

JSON_COLUMNS = ("attributes", "properties", "expected")


class Kind(StrEnum):
    """What a CSV holds."""

    customers = "customers"
    team_members = "team-members"
    revenue = "revenue"
    renewals = "renewals"
    costs = "costs"
    events = "events"
    usage_daily = "usage-daily"


@dataclass(frozen=True)
class Target:
    """The API schema of one row and the service function that writes a batch of them."""

    schema: type[BaseModel]
    write: Callable[[Session, Sequence[Any]], BaseModel]


TARGETS = {
    Kind.customers: Target(CustomerBatchItem, customers_service.upsert_customers),
    Kind.team_members: Target(TeamMemberBatchItem, customers_service.upsert_team_members),
    Kind.revenue: Target(RevenueEventIn, ingest_revenue_events),
    Kind.renewals: Target(RenewalBatchItem, renewals_service.upsert_renewals),
    Kind.costs: Target(CostBatchItem, costs_service.upsert_costs),
    Kind.events: Target(UsageEventIn, usage_store.ingest_events),
    Kind.usage_daily: Target(UsageDailyIn, usage_store.ingest_usage_daily),
}
# Cells that are not text in the API: `count` a whole number, `distinct_values` a list written a|b|c (the values
# themselves cannot hold a `|` in a CSV cell).
INT_COLUMNS = ("count",)
LIST_COLUMNS = ("distinct_values",)
# The columns that name one record of a kind: a second row with the same values is refused, naming both lines.
KEY_COLUMNS = {Kind.usage_daily: ("customer", "kind", "day")}


class ImportInvalid(Exception):
    """The file has invalid rows; `errors` names each as `line N: field: message`."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s); nothing was written")
        self.errors = errors


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) pairs; the line is where the row starts as a spreadsheet shows it (header = line 1)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        start = 2
        for row in reader:
            # Empty cells are absent fields, so an omitted column keeps a record's stored value.
            yield start, {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            start = reader.line_num + 1


def _parse(line: int, row: dict[str, Any], schema: type[BaseModel]) -> tuple[BaseModel | None, list[str]]:
    """One row validated, or its errors."""
    errors: list[str] = []
    for column in JSON_COLUMNS:
        if column in row:
            try:
                row[column] = json.loads(row[column])
            except json.JSONDecodeError as exc:
                errors.append(f"line {line}: {column}: not valid JSON ({exc.msg})")
                del row[column]  # reported once, not again as "not a dictionary"
    for column in INT_COLUMNS:
        if column in row and row[column].strip().isdigit():
            row[column] = int(row[column])
    for column in LIST_COLUMNS:
        if column in row:
            row[column] = row[column].split("|")
    try:
        item = schema.model_validate(row)
    except ValidationError as exc:
        errors += [f"line {line}: {'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]
        return None, errors
    return (None if errors else item), errors


def read_file(path: Path, kind: Kind) -> list[BaseModel]:
    """Every row validated with the API's schema; ImportInvalid lists every bad row."""
    items: list[BaseModel] = []
    errors: list[str] = []
    lines: dict[tuple[Any, ...], int] = {}
    for line, row in _rows(path):
        item, row_errors = _parse(line, row, TARGETS[kind].schema)
        errors += row_errors
        if item is not None:
            items.append(item)
            key = tuple(getattr(item, name) for name in KEY_COLUMNS.get(kind, ()))
            if key and key in lines:
                errors.append(f"line {line}: the same {', '.join(KEY_COLUMNS[kind])} as line {lines[key]}")
            lines.setdefault(key, line)
    if errors:
        raise ImportInvalid(errors)
    return items


def write_items(
    session: Session,
    kind: Kind,
    items: Sequence[BaseModel],
    console: Console | None,
    *,
    retention_days: int | None = None,
) -> dict[str, int]:
    """Write in batches of 10,000 through the service; the caller commits once (all or nothing). Events older than
    the retention (CSROI_EVENTS_RETENTION_DAYS) are counted as expired and not stored, as the API does."""
    write = TARGETS[kind].write
    if kind is Kind.events:
        write = functools.partial(usage_store.ingest_events, retention_days=retention_days)
    totals: dict[str, int] = {}
    with Progress(
        *Progress.get_default_columns(), MofNCompleteColumn(), console=console, disable=console is None
    ) as bar:
        task = bar.add_task(f"importing {kind.value}", total=len(items))
        for start in range(0, len(items), MAX_BATCH_ITEMS):
            chunk = items[start : start + MAX_BATCH_ITEMS]
            result = write(session, chunk)
            for name, value in result.model_dump().items():
                totals[name] = totals.get(name, 0) + value
            bar.advance(task, len(chunk))
    return totals
