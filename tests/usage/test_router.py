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
        assert post(client, event("u1"), event("u2", "c2")) == (200, {"accepted": 2, "duplicates": 0, "expired": 0})
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
        assert post(client, event("u1"), event("u2"), event("u3")) == (
            200,
            {"accepted": 1, "duplicates": 2, "expired": 0},
        )
        assert stored(session) == 3

    def test_same_content_with_other_offset_is_a_duplicate(self, client: TestClient) -> None:
        post(client, event("u1", occurred_at="2026-02-01T09:00:00Z"))
        assert post(client, event("u1", occurred_at="2026-02-01T10:00:00+01:00"))[1] == {
            "accepted": 0,
            "duplicates": 1,
            "expired": 0,
        }

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
        assert post(client, event("u1"), event("u1")) == (200, {"accepted": 1, "duplicates": 1, "expired": 0})

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
        assert post(client, *batch) == (200, {"accepted": 5000, "duplicates": 0, "expired": 0})
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


def answer(eid: str, survey: str, value: object, **extra: object) -> dict:
    return event(eid, kind="survey_response", value=value, properties={"survey": survey}, **extra)


class TestSurveyValues:
    """SPEC §10: survey answers are checked against their survey's scale, all or nothing."""

    def test_every_end_of_each_scale_is_accepted(self, client: TestClient, session: Session) -> None:
        ends = [("nps", 0), ("nps", 10), ("csat", 1), ("csat", 5), ("ces", 1), ("ces", 7)]
        items = [answer(f"s{n}", survey, value) for n, (survey, value) in enumerate(ends)]
        # A whole number written with decimals or as text is still that number.
        items += [answer("s6", "nps", 9.0), answer("s7", "csat", "4"), answer("s8", "ces", "3.000")]
        assert post(client, *items) == (200, {"accepted": 9, "duplicates": 0, "expired": 0})
        values = session.scalars(select(UsageEvent.value).order_by(UsageEvent.id))
        assert list(values) == [0, 10, 1, 5, 1, 7, 9, 4, 3]

    def test_nps_11_and_csat_0_are_422_naming_the_items_and_nothing_is_written(
        self, client: TestClient, session: Session
    ) -> None:
        status, body = post(client, answer("s0", "nps", 9), answer("s1", "nps", 11), answer("s2", "csat", 0))
        assert status == 422
        assert [(e["loc"], e["msg"]) for e in body["errors"]] == [
            (["body", "events", 1, "value"], "Value error, nps answers are whole numbers from 0 to 10, not 11"),
            (["body", "events", 2, "value"], "Value error, csat answers are whole numbers from 1 to 5, not 0"),
        ]
        assert stored(session) == 0

    def test_fractions_negatives_and_the_top_of_other_scales_are_422(self, client: TestClient) -> None:
        bad = [answer("b0", "nps", 8.5), answer("b1", "nps", -1), answer("b2", "csat", 6), answer("b3", "ces", 8)]
        bad += [answer("b4", "ces", "0"), answer("b5", "csat", 4.25)]
        status, body = post(client, *bad)
        assert status == 422
        assert [e["loc"][2] for e in body["errors"]] == [0, 1, 2, 3, 4, 5]

    def test_other_kinds_and_other_surveys_are_not_range_checked(self, client: TestClient) -> None:
        items = [
            answer("o1", "pulse", 42),  # a survey of the sender's own: its scale is theirs
            event("o2", kind="login", value=11, properties={"survey": "nps"}),  # not a survey answer
            event("o3", kind="survey_response", value=99),  # no survey named
        ]
        assert post(client, *items) == (200, {"accepted": 3, "duplicates": 0, "expired": 0})
