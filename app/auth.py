"""Bearer API keys with scopes (SPEC §2): 401 without a valid key, 403 without the scope."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from app.db import WRITE_OPTION
from app.errors import Forbidden, Unauthorized
from app.keys import service as keys_service
from app.keys.service import Scope

_bearer = HTTPBearer(auto_error=False, description="An API key created with `csroi keys create`.")


def _check_key(request: Request, credentials: HTTPAuthorizationCredentials | None) -> set[str]:
    """The scopes of the presented key; its own short session, so auth never touches the request's."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Send `Authorization: Bearer <api key>`.")
    maker: sessionmaker[Session] = request.app.state.sessionmaker
    with maker() as session:
        row = keys_service.authenticate(session, credentials.credentials)
        if row is None:
            raise Unauthorized("The API key is unknown or revoked.")
        scopes, key_id, name, due = set(row.scopes), row.id, row.name, keys_service.touch_due(row)
    if due:
        # last_used_at for whoever audits keys: at most once a minute per key, in a write transaction of its own.
        # Upgrading the read above to a write would fail at once on SQLite ("database is locked", a 500) when
        # concurrent requests of one client (the dashboard's) wrote it meanwhile; BEGIN IMMEDIATE waits instead.
        with maker() as session:
            session.connection(execution_options={WRITE_OPTION: True})
            keys_service.touch_key(session, key_id)
            session.commit()
    request.state.api_key_id, request.state.api_key_name = key_id, name
    return scopes


@dataclass(frozen=True)
class KeyIdentity:
    """The presented key: its id, name and the scopes it was created with."""

    id: int
    name: str
    scopes: frozenset[str]


def identify(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> KeyIdentity:
    """A dependency admitting any active key, whatever its scopes, and naming it (for `GET /v1/me`)."""
    scopes = _check_key(request, credentials)
    return KeyIdentity(request.state.api_key_id, request.state.api_key_name, frozenset(scopes))


def require(scope: Scope) -> Callable[..., None]:
    """A dependency admitting keys that carry `scope` (or admin)."""

    def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        scopes = _check_key(request, credentials)
        if scope not in keys_service.effective_scopes(scopes):
            raise Forbidden(f"This API key lacks the `{scope.value}` scope.", required_scope=scope.value)

    dependency.__name__ = f"require_{scope.value}"
    return dependency


# Declared as a route's first parameter, so a request without the scope never opens a transaction.
ReadAuth = Annotated[None, Depends(require(Scope.read))]
IngestAuth = Annotated[None, Depends(require(Scope.ingest))]
WriteAuth = Annotated[None, Depends(require(Scope.write))]
AdminAuth = Annotated[None, Depends(require(Scope.admin))]
# Any valid key: a client learning what its own key may do.
KeyAuth = Annotated[KeyIdentity, Depends(identify)]
