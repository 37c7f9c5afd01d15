"""`GET /v1/me`: a client learns its key's id, name and scopes (the dashboard hides what the key may not do)."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.keys import service
from app.keys.service import Scope


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class TestGetMe:
    def test_a_read_key_sees_its_name_and_only_read(self, anonymous: TestClient, session: Session) -> None:
        created = service.create_key(session, name="board deck", scopes=[Scope.read])
        session.commit()
        response = anonymous.get("/v1/me", headers=bearer(created.secret))
        assert response.status_code == 200
        assert response.json() == {
            "id": created.id,
            "name": "board deck",
            "scopes": ["read"],
            "effective_scopes": ["read"],
        }

    def test_an_admin_key_may_do_everything(self, anonymous: TestClient, session: Session) -> None:
        created = service.create_key(session, name="ops", scopes=[Scope.admin])
        session.commit()
        body = anonymous.get("/v1/me", headers=bearer(created.secret)).json()
        assert body["scopes"] == ["admin"]
        assert body["effective_scopes"] == ["admin", "ingest", "read", "write"]

    def test_scopes_are_sorted_and_not_widened(self, anonymous: TestClient, session: Session) -> None:
        created = service.create_key(session, name="crm", scopes=[Scope.write, Scope.ingest, Scope.read])
        session.commit()
        body = anonymous.get("/v1/me", headers=bearer(created.secret)).json()
        assert body["scopes"] == body["effective_scopes"] == ["ingest", "read", "write"]

    def test_never_shows_the_secret_or_its_hash(self, anonymous: TestClient, session: Session) -> None:
        created = service.create_key(session, name="x", scopes=[Scope.ingest])
        session.commit()
        text = anonymous.get("/v1/me", headers=bearer(created.secret)).text
        assert created.secret not in text
        assert service.hash_key(created.secret) not in text
        assert created.secret[:12] not in text

    def test_a_revoked_key_is_401(self, anonymous: TestClient, session: Session) -> None:
        created = service.create_key(session, name="gone", scopes=[Scope.read])
        service.revoke_key(session, created.id)
        session.commit()
        response = anonymous.get("/v1/me", headers=bearer(created.secret))
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_a_query_parameter_is_422(self, anonymous: TestClient, make_key: Callable[..., str]) -> None:
        response = anonymous.get("/v1/me?verbose=1", headers=bearer(make_key(Scope.read)))
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "verbose"]


class TestEffectiveScopes:
    def test_admin_expands_to_every_scope(self) -> None:
        assert service.effective_scopes(["admin"]) == sorted(Scope)

    def test_other_scopes_stay_as_they_are(self) -> None:
        assert service.effective_scopes(["write", "read"]) == [Scope.read, Scope.write]

    def test_no_scope_is_nothing(self) -> None:
        assert service.effective_scopes([]) == []
