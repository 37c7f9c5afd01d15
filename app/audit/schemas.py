"""The audit log's API shapes."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.pagination import ListQuery
from app.schemas import Filter


class AuditEntryOut(BaseModel):
    """One audited write."""

    id: int = Field(description="The entry's number; entries are listed newest first.")
    at: datetime = Field(description="When the write was committed, UTC.")
    key_id: int | None = Field(description="The API key that made it; null for the command line.")
    key_name: str | None = Field(description="That key's name (or `command line`).")
    action: str = Field(description="What was done, e.g. `health_model.put`, `target.delete`, `key.create`.")
    object: str = Field(description="What it was done to, e.g. `target/nrr`, `intervention/iv-1/outcome`.")
    before: Any = Field(description="The object before the write, as the API shows it; null when it did not exist.")
    after: Any = Field(description="The object after the write; null when it was deleted.")


class AuditQuery(ListQuery):
    """The log, newest first, with optional filters."""

    action: Filter | None = Field(None, max_length=60, description="Only this action.", examples=["target.put"])
    # Bounded by the key id column (a PostgreSQL integer): a larger number was a database error, a 500.
    key_id: int | None = Field(
        None, ge=1, le=2**31 - 1, description="Only writes by this key (an id from `csroi keys list`).", examples=[1]
    )
