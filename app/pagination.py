"""Opaque keyset cursors and the `{"items", "next_cursor", "meta"}` page shape (SPEC §2, §11)."""

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, field_validator

from app.schemas import QueryIn
from app.types import ResponseFormat

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `?cursor=` for the next."""

    items: list[T] = Field(description="Up to `limit` rows of this page, in the list's stable order.")
    next_cursor: str | None = Field(
        description="Opaque token: pass it back as `?cursor=` for the next page; null on the last page."
    )


class PageMeta(BaseModel):
    """What holds for every item of the page."""

    currency: str = Field(
        description="ISO 4217 code of every money amount in the items (the service's one reporting currency, "
        "setting CSROI_CURRENCY), e.g. USD.",
        examples=["USD"],
    )


class PageOut(Page[T], Generic[T]):
    """One page of a list as answered: the items, the cursor to the next page, and `meta` (the currency)."""

    meta: PageMeta = Field(description="What holds for every item: the currency of its money amounts.")


def page_out(page: Page[T], currency: str) -> PageOut[T]:
    """The page as a list route answers it, with `meta.currency` (SPEC §11)."""
    return PageOut[Any](items=page.items, next_cursor=page.next_cursor, meta=PageMeta(currency=currency))


def encode_cursor(key: list[Any]) -> str:
    """The sort key of the last row, as an opaque URL-safe token."""
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> list[Any]:
    """The sort key inside a cursor; ValueError when it was not made by encode_cursor."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("cursor is not one this service issued") from None
    # Every key this service issues is a list of strings (ids, ISO dates): anything else was forged or damaged,
    # and a NUL character would reach PostgreSQL as a driver error.
    if not isinstance(key, list) or not key or not all(isinstance(k, str) and "\x00" not in k for k in key):
        raise ValueError("cursor is not one this service issued")
    return key


class ListQuery(QueryIn):
    """Query parameters every list takes; unknown parameters are refused, not ignored."""

    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page, 1 to 1000 (default 100).", examples=[100]
    )
    cursor: str | None = Field(None, description="`next_cursor` from the previous page; omit for the first page.")
    format: ResponseFormat | None = Field(
        None, description="`csv` answers text/csv with the same rows (or send `Accept: text/csv`); default JSON."
    )

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)
        return value

    def after(self) -> list[Any] | None:
        """The decoded cursor, or None for the first page."""
        return decode_cursor(self.cursor) if self.cursor else None


def make_page(rows: list[T], limit: int, key: Any) -> Page[T]:
    """A page from up to `limit + 1` rows: the extra row only says there is a next page."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page[Any](items=rows, next_cursor=encode_cursor(key(rows[-1])))
    return Page[Any](items=rows, next_cursor=None)
