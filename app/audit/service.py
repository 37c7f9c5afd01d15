"""Recording and reading the audit log (SPEC §11): every write to the health model, targets, month close, manual
outcomes and impacts, experiments and keys, with who made it and the value before and after."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.schemas import AuditEntryOut, AuditQuery
from app.errors import Unprocessable
from app.models import AuditEntry
from app.pagination import Page, make_page


@dataclass(frozen=True)
class Actor:
    """Who writes: an API key (id and name), or the command line (no key)."""

    key_id: int | None
    key_name: str | None


COMMAND_LINE = Actor(None, "command line")


def actor_of(request: Request) -> Actor:
    """The key the auth dependency admitted for this request (declare auth first)."""
    return Actor(getattr(request.state, "api_key_id", None), getattr(request.state, "api_key_name", None))


ActorDep = Annotated[Actor, Depends(actor_of)]


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def record(session: Session, actor: Actor, action: str, obj: str, *, before: Any = None, after: Any = None) -> None:
    """Add one entry in the caller's transaction: it commits with the write it describes, or not at all."""
    session.add(
        AuditEntry(
            key_id=actor.key_id,
            key_name=actor.key_name,
            action=action,
            object=obj,
            before=_plain(before),
            after=_plain(after),
        )
    )


def list_entries(session: Session, query: AuditQuery) -> Page[AuditEntryOut]:
    """One page of the log, newest first."""
    stmt = select(AuditEntry)
    if query.action is not None:
        stmt = stmt.where(AuditEntry.action == query.action)
    if query.key_id is not None:
        stmt = stmt.where(AuditEntry.key_id == query.key_id)
    after = query.after()
    if after:
        if not after[0].isdigit():
            raise Unprocessable(
                "The cursor is not one this list issued.",
                [{"loc": ["query", "cursor"], "msg": "not an audit cursor", "type": "value_error"}],
            )
        stmt = stmt.where(AuditEntry.id < int(after[0]))
    rows = list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(query.limit + 1)))
    page = make_page(rows, query.limit, key=lambda r: [str(r.id)])
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(r, from_attributes=True) for r in page.items],
        next_cursor=page.next_cursor,
    )
