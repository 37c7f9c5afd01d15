"""Create, list, revoke and check API keys."""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import NotFound
from app.models import ApiKey

KEY_PREFIX = "csroi_"
# last_used_at is for humans auditing keys; writing it on every request would make reads write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Scope(StrEnum):
    """What a key may do (SPEC §2); admin may do everything."""

    ingest = "ingest"
    read = "read"
    write = "write"
    admin = "admin"


def effective_scopes(scopes: Iterable[str]) -> list[Scope]:
    """What a key with `scopes` may do: admin may do everything (SPEC §2); sorted by name."""
    granted = {Scope(s) for s in scopes}
    return sorted(set(Scope) if Scope.admin in granted else granted)


@dataclass(frozen=True)
class CreatedKey:
    """A new key: `secret` is shown once and never stored."""

    id: int
    name: str
    scopes: list[str]
    secret: str


def hash_key(secret: str) -> str:
    """SHA-256 hex of a key; keys are 256-bit random, so no salt or slow hash is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, *, name: str, scopes: list[Scope]) -> CreatedKey:
    """Make a key with `scopes`; the caller shows its secret once."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=secret[:12], key_hash=hash_key(secret), scopes=sorted({s.value for s in scopes}))
    session.add(row)
    session.flush()
    return CreatedKey(id=row.id, name=row.name, scopes=row.scopes, secret=secret)


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first, revoked ones included."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key by its numeric id; revoking twice keeps the first time."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("api key", str(key_id))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def count_active_keys(session: Session) -> int:
    """How many keys are not revoked."""
    return session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))) or 0


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The active key matching `secret`, or None."""
    digest = hash_key(secret)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return row


def touch_due(row: ApiKey) -> bool:
    """Whether a use of the key should be recorded: at most once per LAST_USED_RESOLUTION (SPEC §11)."""
    return row.last_used_at is None or utcnow() - row.last_used_at > LAST_USED_RESOLUTION


def touch_key(session: Session, key_id: int) -> None:
    """Record that a key was used now, unless another request of the same minute recorded it first."""
    now = utcnow()
    # One conditional UPDATE, no read-modify-write race between concurrent requests.
    stale = ApiKey.last_used_at.is_(None) | (ApiKey.last_used_at < now - LAST_USED_RESOLUTION)
    session.execute(update(ApiKey).where(ApiKey.id == key_id, stale).values(last_used_at=now))
