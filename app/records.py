"""What every record feature shares: body → row, get-or-404, and pages in id order (SPEC §2 records)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from app import batch
from app.db import Base
from app.errors import NotFound, Unprocessable
from app.models import Customer
from app.pagination import ListQuery, Page, make_page

M = TypeVar("M", bound=Base)


def record_row(
    item: BaseModel, record_id: str | None = None, *, whole: bool, columns: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The row an item writes, with the path id; `whole` writes every field, else only the fields sent.

    Customers and team members merge (an omitted field keeps its stored value); renewals and costs are
    replaced whole because their fields depend on each other. `columns` renames API fields to columns.
    """
    row = item.model_dump(exclude_unset=not whole)
    if record_id is not None:
        if row.get("id") not in (None, record_id):
            raise Unprocessable(
                "The body's id differs from the id in the path.",
                [{"loc": ["body", "id"], "msg": "must equal the path id", "type": "value_error"}],
            )
        row["id"] = record_id
    names = columns or {}
    return {names.get(key, key): value for key, value in row.items()}


def get_record(session: Session, model: type[M], record_id: str) -> M:
    """The record with this id, or NotFound naming its kind."""
    row = session.get(model, record_id)
    if row is None:
        raise NotFound(model.__tablename__.replace("_", " "), record_id)
    return row


def page_by_id(session: Session, stmt: Select[Any], model: Any, query: ListQuery) -> Page[Any]:
    """One page of `stmt` in id order after the query's cursor."""
    after = query.after()
    if after:
        stmt = stmt.where(model.id > str(after[0]))
    rows = list(session.scalars(stmt.order_by(model.id).limit(query.limit + 1)))
    return make_page(rows, query.limit, key=lambda r: [r.id])


def ensure_customers(session: Session, customer_ids: Sequence[str]) -> int:
    """Create id-only customers for ids a batch references before the CRM sent them (SPEC §2); how many."""
    return batch.ensure_rows(session, Customer.__table__, customer_ids)  # type: ignore[arg-type]


def write_records(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> batch.UpsertResult:
    """Upsert rows by id; customers the rows name (`customer_id`) are first created with only their id (SPEC §2)."""
    named = [row["customer_id"] for row in rows if row.get("customer_id") is not None]
    if named:
        ensure_customers(session, named)
    return batch.upsert_rows(session, model.__table__, rows)  # type: ignore[arg-type]


def put_record(session: Session, model: type[M], record_id: str, row: dict[str, Any]) -> tuple[M, bool]:
    """Write one record and read it back; True when it was created."""
    result = write_records(session, model, [row])
    session.expire_all()
    return get_record(session, model, record_id), result.created == 1
