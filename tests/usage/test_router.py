"""Usage events over HTTP: idempotent, all-or-nothing batches (SPEC §2, §3)."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.keys.service import Scope
from app.models import UsageEvent


def event(eid: str, customer: str = "c1", **extra: object) -> dict:
    return {"id": eid, "customer": customer, "kind": "login", "occurred_at": "2026-02-01T09:00:00Z", **extra}


def post(client: TestClient, *events: dict) -> tuple[int, dict]:
    response = client.post("/v1/events", json={"events": list(events)})
    return response.status_code, response.json()


def stored(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UsageEvent)) or 0


class TestPostEvents:
    def test_accepts_and_stubs_unknown_customers(self, client: TestClient) -> None:
        assert post(client, event("u1"), event("u2", "c2")) == (200, {"accepted": 2, "duplicates": 0})
        assert client.get("/v1/customers/c2").json()["name"] is None

    def test_stores_utc_time_exact_value_and_properties(self, client: TestClient, session: Session) -> None:
        body = event(
            "u1",
            kind="downtime",
            occurred_at="2026-02-01T09:30:00+02:00",
            value="12.345678",
            properties={"ticket": "T-1", "n": [1, 2]},
        )
        assert post(client, body)[0] == 200
        row = session.get(UsageEvent, "u1")
        assert row is not None
        assert row.occurred_at == datetime(2026, 2, 1, 7, 30, tzinfo=UTC)
        assert row.value == Decimal("12.345678")
        assert row.properties == {"ticket": "T-1", "n": [1, 2]}
        assert row.customer_id == "c1"

    def test_value_defaults_to_one(self, client: TestClient, session: Session) -> None:
        post(client, event("u1"))
        row = session.get(UsageEvent, "u1")
        assert row is not None
        assert row.value == Decimal(1)

    def test_retry_is_all_duplicates_and_stores_nothing_twice(self, client: TestClient, session: Session) -> None:
        post(client, event("u1"), event("u2"))
        assert post(client, event("u1"), event("u2"), event("u3")) == (200, {"accepted": 1, "duplicates": 2})
        assert stored(session) == 3

    def test_same_content_with_other_offset_is_a_duplicate(self, client: TestClient) -> None:
        post(client, event("u1", occurred_at="2026-02-01T09:00:00Z"))
        assert post(client, event("u1", occurred_at="2026-02-01T10:00:00+01:00"))[1] == {"accepted": 0, "duplicates": 1}

    def test_same_id_other_content_is_409_naming_ids_and_writes_nothing(
        self, client: TestClient, session: Session
    ) -> None:
        post(client, event("u1"), event("u2"))
        status, body = post(client, event("u3"), event("u1", value=5), event("u2", properties={"a": "b"}))
        assert status == 409
        assert body["ids"] == ["u1", "u2"]
        assert body["type"].endswith("/conflict")
        assert stored(session) == 2

    def test_same_id_twice_in_one_batch_counts_once_accepted_once_duplicate(self, client: TestClient) -> None:
        assert post(client, event("u1"), event("u1")) == (200, {"accepted": 1, "duplicates": 1})

    def test_same_id_twice_in_one_batch_with_other_content_is_409(self, client: TestClient, session: Session) -> None:
        status, body = post(client, event("u0"), event("u1"), event("u1", value=2))
        assert (status, body["ids"]) == (409, ["u1"])
        assert stored(session) == 0

    def test_one_bad_item_is_422_naming_every_index_and_writes_nothing(
        self, client: TestClient, session: Session
    ) -> None:
        bad_customer = {"id": "u2", "kind": "login", "occurred_at": "2026-02-01T09:00:00Z"}
        naive = event("u4", occurred_at="2026-02-01T09:00:00")
        status, body = post(client, event("u1"), bad_customer, event("u3"), naive, event("u5", value="1.0000001"))
        assert status == 422
        locs = [e["loc"] for e in body["errors"]]
        assert ["body", "events", 1, "customer"] in locs
        assert ["body", "events", 3, "occurred_at"] in locs
        assert ["body", "events", 4, "value"] in locs
        assert stored(session) == 0
        assert client.get("/v1/customers/c1").status_code == 404

    def test_nul_in_properties_and_unknown_fields_are_422(self, client: TestClient) -> None:
        status, body = post(client, event("u1", properties={"a": "x\u0000y"}), event("u2", colour="red"))
        assert status == 422
        assert {tuple(e["loc"][:3]) for e in body["errors"]} == {("body", "events", 0), ("body", "events", 1)}

    def test_over_the_item_limit_is_413(self, client: TestClient) -> None:
        status, body = post(client, *[event(f"u{i}") for i in range(10_001)])
        assert status == 413
        assert "10000" in body["detail"]

    def test_needs_the_ingest_scope(self, anonymous: TestClient, make_key: Callable[..., str]) -> None:
        assert anonymous.post("/v1/events", json={"events": [event("u1")]}).status_code == 401
        read_only = {"Authorization": f"Bearer {make_key(Scope.read)}"}
        assert anonymous.post("/v1/events", json={"events": [event("u1")]}, headers=read_only).status_code == 403
        ingest = {"Authorization": f"Bearer {make_key(Scope.ingest)}"}
        assert anonymous.post("/v1/events", json={"events": [event("u1")]}, headers=ingest).status_code == 200

    def test_a_large_batch_is_stored_whole(self, client: TestClient, session: Session) -> None:
        batch = [event(f"u{i}", f"c{i % 37}", value=i) for i in range(5000)]
        assert post(client, *batch) == (200, {"accepted": 5000, "duplicates": 0})
        assert session.scalar(select(func.sum(UsageEvent.value))) == Decimal(sum(range(5000)))


class TestFuzzFindings:
    """What schemathesis found on `POST /v1/events` (issue 10, .ci/fuzz)."""

    def test_a_unix_timestamp_is_no_occurred_at(self, client: TestClient, session: Session) -> None:
        """Pydantic read `"occurred_at": 0` as 1970-01-01 and stored it; the document says ISO 8601 text."""
        status, body = post(client, event("u1", occurred_at=0), event("u2", occurred_at="1700000000"), event("u3"))
        assert status == 422
        locs = [e["loc"] for e in body["errors"]]
        assert locs == [["body", "events", 0, "occurred_at"], ["body", "events", 1, "occurred_at"]]
        assert "ISO 8601" in body["errors"][0]["msg"]
        assert stored(session) == 0

    def test_a_value_beyond_the_documented_bound_is_422(self, client: TestClient) -> None:
        status, body = post(client, event("u1", value=9007199254740992.0), event("u2", value="9000000000000"))
        assert status == 422
        assert [e["loc"][2] for e in body["errors"]] == [0, 1]

    def test_value_text_is_what_the_document_shows(self, client: TestClient, session: Session) -> None:
        assert post(client, event("u1", value="1e3"), event("u2", value="+5"))[0] == 422
        assert post(client, event("u3", value=" 8999999999999.500000 "), event("u4", value="-0.000001"))[0] == 200
        values = session.scalars(select(UsageEvent.value).order_by(UsageEvent.id)).all()
        assert values == [Decimal("8999999999999.5"), Decimal("-0.000001")]
