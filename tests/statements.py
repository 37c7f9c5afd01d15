"""The SQL statements a block of code sends: how tests hold a route's statement count fixed (SPEC §8, §9)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session


@contextmanager
def recorded(bind: Engine | Session) -> Iterator[list[str]]:
    """Every SQL statement sent through the engine of `bind` inside the block, in order.

    The list is the same object throughout: `clear()` it to start counting again, read its length afterwards."""
    engine = bind.get_bind().engine if isinstance(bind, Session) else bind
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
