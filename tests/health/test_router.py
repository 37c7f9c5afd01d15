"""Health model, point-in-time scores, snapshots and history over HTTP (SPEC §6)."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.keys.service import Scope

MODEL = {
    "components": [
        {"name": "logins", "weight": 2, "kind": "login", "aggregate": "count", "window_days": 7, "bad": 0, "good": 10},
        {"name": "nps", "weight": 1, "kind": "survey_response", "where": {"survey": "nps"}, "aggregate": "last",
         "window_days": 30, "bad": 6, "good": 9},
        {"name": "downtime", "weight": 1, "kind": "downtime", "aggregate": "sum", "window_days": 30, "bad": 100,
         "good": 0},
        {"name": "features", "weight": 1, "kind": "feature_used", "aggregate": "distinct", "property": "feature",
         "window_days": 30, "bad": 0, "good": 4},
        {"name": "utilisation", "weight": 1, "kind": "active_users", "aggregate": "avg", "window_days": 30,
         "per_seat": True, "bad": 0, "good": 1},
    ],
    "bands": {"red_below": 50, "green_from": 80},
    "effective_from": "2026-01-01",  # before every day these tests read (SPEC §10: a model scores from this day on)
}  # fmt: skip

_n = iter(range(1_000_000))


def ev(customer: str, kind: str, at: str, value: float = 1, **properties: str) -> dict:
    return {"id": f"e{next(_n)}", "customer": customer, "kind": kind, "occurred_at": at, "value": value,
            "properties": properties}  # fmt: skip


C1_EVENTS = [
    ev("c1", "login", "2026-02-05T10:00:00Z"),  # before the 7-day window of 2026-03-10
    ev("c1", "login", "2026-03-03T23:59:59Z"),  # the day before the window
    ev("c1", "login", "2026-03-04T00:00:00Z"),  # the window's first instant (as_of - 7 < d)
    ev("c1", "login", "2026-03-06T12:00:00Z"),
    ev("c1", "login", "2026-03-10T12:00:00Z"),
    ev("c1", "login", "2026-03-11T01:00:00+02:00"),  # 23:00 UTC on 2026-03-10: inside
    ev("c1", "survey_response", "2026-03-01T09:00:00Z", 7, survey="nps"),
    ev("c1", "survey_response", "2026-03-05T09:00:00Z", 8, survey="nps"),  # the latest NPS
    ev("c1", "survey_response", "2026-03-09T09:00:00Z", 5, survey="csat"),  # filtered out by `where`
    ev("c1", "downtime", "2026-02-20T09:00:00Z", 45),
    ev("c1", "downtime", "2026-03-01T09:00:00Z", 30),
    ev("c1", "feature_used", "2026-03-02T09:00:00Z", feature="a"),
    ev("c1", "feature_used", "2026-03-03T09:00:00Z", feature="a"),
    ev("c1", "feature_used", "2026-03-04T09:00:00Z", feature="b"),
    ev("c1", "active_users", "2026-03-07T09:00:00Z", 3),
    ev("c1", "active_users", "2026-03-08T09:00:00Z", 5),
    ev("c1", "seats", "2026-02-01T09:00:00Z", 10),
    ev("c1", "seats", "2026-03-02T09:00:00Z", 8),  # latest seats up to as_of
]
AFTER_AS_OF = [
    ev("c1", "seats", "2026-03-11T00:00:00Z", 4),
    ev("c1", "login", "2026-03-11T00:00:00Z"),
    ev("c1", "survey_response", "2026-03-11T09:00:00Z", 0, survey="nps"),
]
# Hand-computed for 2026-03-10: logins 4 of 10 -> 40; NPS last 8 -> 100 * (8 - 6) / (9 - 6); downtime
# 45 + 30 = 75 with bad 100, good 0 -> 100 * (75 - 100) / (0 - 100) = 25; features {a, b} -> 100 * 2 / 4;
# utilisation avg(3, 5) / 8 seats = 0.5 -> 50.
C1_SCORES = [40.0, 100 * (8 - 6) / (9 - 6), 25.0, 50.0, 50.0]
C1_SCORE = (2 * 40 + 1 * C1_SCORES[1] + 1 * 25 + 1 * 50 + 1 * 50) / (2 + 1 + 1 + 1 + 1)


@pytest.fixture
def with_model(client: TestClient) -> TestClient:
    response = client.put("/v1/health-model", json=MODEL)
    assert response.status_code == 200, response.text
    assert client.post("/v1/events", json={"events": C1_EVENTS}).status_code == 200
    return client


def health(client: TestClient, customer: str, as_of: str) -> dict:
    response = client.get(f"/v1/customers/{customer}/health", params={"as_of": as_of})
    assert response.status_code == 200, response.text
    return response.json()


class TestHealthModel:
    def test_default_model_is_version_1_and_a_put_makes_version_2(self, client: TestClient) -> None:
        default = client.get("/v1/health-model").json()
        assert (default["version"], default["default"]) == (1, True)
        assert {c["name"] for c in default["components"]} >= {"logins_per_seat", "escalations", "nps"}
        assert client.put("/v1/health-model", json=MODEL).json()["version"] == 2
        current = client.get("/v1/health-model").json()
        assert (current["version"], current["default"], current["bands"]) == (2, False, MODEL["bands"])
        assert client.put("/v1/health-model", json=MODEL).json()["version"] == 3

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"weight": 0}, "weight"),
            ({"aggregate": "median"}, "aggregate"),
            ({"window_days": 0}, "window_days"),
            ({"bad": 10, "good": 10}, None),
            ({"aggregate": "distinct"}, None),
        ],
    )
    def test_invalid_components_are_422(self, client: TestClient, change: dict, field: str | None) -> None:
        component = {**MODEL["components"][0], **change}  # type: ignore[dict-item]
        response = client.put("/v1/health-model", json={"components": [component]})
        assert response.status_code == 422
        loc = response.json()["errors"][0]["loc"]
        assert loc[:3] == ["body", "components", 0]
        if field:
            assert loc[3] == field

    def test_bands_out_of_order_are_422(self, client: TestClient) -> None:
        body = {"components": MODEL["components"], "bands": {"red_below": 80, "green_from": 50}}
        assert client.put("/v1/health-model", json=body).status_code == 422

    def test_needs_admin(self, anonymous: TestClient, make_key: Callable[..., str]) -> None:
        headers = {"Authorization": f"Bearer {make_key(Scope.read, Scope.ingest, Scope.write)}"}
        assert anonymous.get("/v1/health-model", headers=headers).status_code == 403
        assert anonymous.put("/v1/health-model", json=MODEL, headers=headers).status_code == 403


class TestCustomerHealth:
    def test_custom_model_scores_as_hand_computed(self, with_model: TestClient) -> None:
        body = health(with_model, "c1", "2026-03-10")
        # Scores, contributions and changes are points, answered with two decimals (66.666… is 66.67).
        assert [c["score"] for c in body["components"]] == [round(s, 2) for s in C1_SCORES]
        assert [c["raw"] for c in body["components"]] == pytest.approx([4, 8, 75, 2, 4 / 8])
        assert body["score"] == round(C1_SCORE, 2) == 45.28
        assert body["band"] == "red"  # 45.3 < 50
        assert (body["coverage"], body["model_version"]) == (1.0, 2)
        assert [c["contribution"] for c in body["components"]] == [
            round(w * s / 6, 2) for w, s in zip([2, 1, 1, 1, 1], C1_SCORES, strict=True)
        ]
        # 30 days earlier only the login of 2026-02-05 existed: 1 login of 10 -> 10, coverage 2 / 6.
        assert body["change_30d"] == round(C1_SCORE - 10, 2)
        assert body["churn_probability"] == 0.30  # red band default

    def test_events_after_as_of_never_change_that_days_score(self, with_model: TestClient) -> None:
        before = health(with_model, "c1", "2026-03-10")
        assert with_model.post("/v1/events", json={"events": AFTER_AS_OF}).status_code == 200
        assert health(with_model, "c1", "2026-03-10") == before
        assert health(with_model, "c1", "2026-03-11")["score"] != before["score"]

    def test_weights_renormalise_over_components_with_data(self, with_model: TestClient) -> None:
        events = [ev("c2", "login", "2026-03-09T09:00:00Z")] * 1
        events += [ev("c2", "survey_response", "2026-01-01T09:00:00Z", 10, survey="nps")]  # outside 30 days
        with_model.post("/v1/events", json={"events": events})
        body = health(with_model, "c2", "2026-03-10")
        # logins 1 of 10 -> 10 with weight 2; NPS had data once but not in its window: `last` means no data.
        assert body["score"] == pytest.approx(10.0)
        assert body["coverage"] == round(2 / 6, 6)  # six decimals: 0.333333
        assert [c["raw"] for c in body["components"]] == [1, None, None, None, None]

    def test_count_with_an_empty_window_is_zero_not_missing(self, with_model: TestClient) -> None:
        with_model.post("/v1/events", json={"events": [ev("c3", "login", "2026-01-01T09:00:00Z")]})
        body = health(with_model, "c3", "2026-03-10")
        assert (body["score"], body["coverage"], body["band"]) == (0.0, pytest.approx(2 / 6), "red")

    def test_no_data_means_no_score(self, with_model: TestClient) -> None:
        with_model.put("/v1/customers/c4", json={})
        body = health(with_model, "c4", "2026-03-10")
        assert (body["score"], body["band"], body["coverage"], body["churn_probability"]) == (None, None, 0.0, None)

    def test_unknown_customer_is_404_and_unknown_parameter_422(self, client: TestClient) -> None:
        assert client.get("/v1/customers/nobody/health").status_code == 404
        client.put("/v1/customers/c1", json={})
        assert client.get("/v1/customers/c1/health", params={"asof": "2026-01-01"}).status_code == 422

    def test_default_model_scores_logins_per_seat(self, client: TestClient) -> None:
        events = [ev("d1", "seats", "2026-03-01T00:00:00Z", 2)]
        events += [ev("d1", "login", f"2026-03-{day:02d}T09:00:00Z") for day in range(1, 11)]
        client.post("/v1/events", json={"events": events})
        body = health(client, "d1", "2026-03-10")
        logins = next(c for c in body["components"] if c["name"] == "logins_per_seat")
        # 10 logins / 2 seats = 5 per seat against good 20 -> 25; the only component with data.
        assert (logins["raw"], logins["score"], body["score"]) == (5.0, 25.0, 25.0)
        assert body["model_version"] == 1


class TestSnapshots:
    def test_snapshot_equals_on_demand_and_feeds_history_and_band_filter(self, with_model: TestClient) -> None:
        with_model.put("/v1/customers/quiet", json={})
        for day in ("2026-03-09", "2026-03-10"):
            response = with_model.post("/v1/health/snapshots", params={"date": day})
            assert response.status_code == 200
            assert response.json() == {"date": day, "customers": 2, "model_version": 2}
        history = with_model.get("/v1/customers/c1/health/history", params={"start": "2026-03-10"}).json()
        assert [h["snapshot_date"] for h in history["items"]] == ["2026-03-10"]
        on_demand = health(with_model, "c1", "2026-03-10")
        stored = history["items"][0]
        assert (stored["score"], stored["band"], stored["coverage"]) == (
            on_demand["score"],
            on_demand["band"],
            on_demand["coverage"],
        )
        assert stored["components"] == on_demand["components"]
        red = with_model.get("/v1/customers", params={"band": "red"}).json()["items"]
        assert [c["id"] for c in red] == ["c1"]
        assert with_model.get("/v1/customers", params={"band": "green"}).json()["items"] == []

    def test_rerunning_a_day_replaces_it(self, with_model: TestClient) -> None:
        with_model.post("/v1/health/snapshots", params={"date": "2026-03-10"})
        with_model.post("/v1/events", json={"events": [ev("c1", "login", "2026-03-10T13:00:00Z")]})
        with_model.post("/v1/health/snapshots", params={"date": "2026-03-10"})
        items = with_model.get("/v1/customers/c1/health/history").json()["items"]
        assert len(items) == 1
        assert items[0]["components"][0]["raw"] == 5

    def test_history_pages_and_csv(self, with_model: TestClient) -> None:
        for day in ("2026-03-08", "2026-03-09", "2026-03-10"):
            with_model.post("/v1/health/snapshots", params={"date": day})
        first = with_model.get("/v1/customers/c1/health/history", params={"limit": 2}).json()
        second = with_model.get(
            "/v1/customers/c1/health/history", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        days = [h["snapshot_date"] for h in first["items"] + second["items"]]
        assert days == ["2026-03-08", "2026-03-09", "2026-03-10"]
        text = with_model.get("/v1/customers/c1/health/history", params={"format": "csv"}).text
        assert text.splitlines()[0] == "snapshot_date,score,band,coverage,model_version,components"

    def test_snapshot_date_is_required(self, client: TestClient) -> None:
        assert client.post("/v1/health/snapshots").status_code == 422
        assert client.post("/v1/health/snapshots", params={"date": "2026-13-01"}).status_code == 422


class TestFuzzFindings:
    """What schemathesis found on the health routes (issue 10, .ci/fuzz)."""

    def test_a_band_threshold_of_false_is_422_not_zero(self, client: TestClient) -> None:
        """`"red_below": false` was stored as 0 (Pydantic's lax float)."""
        response = client.put("/v1/health-model", json={**MODEL, "bands": {"red_below": False, "green_from": 70}})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "bands", "red_below"]

    def test_a_where_key_outside_the_documented_pattern_is_422(self, client: TestClient) -> None:
        component = {**MODEL["components"][0], "where": {"survey.kind": "nps"}}
        response = client.put("/v1/health-model", json={**MODEL, "components": [component]})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"][:4] == ["body", "components", 0, "where"]

    def test_a_cursor_of_another_list_names_the_cursor(self, client: TestClient) -> None:
        client.put("/v1/customers/c1", json={})
        from app.pagination import encode_cursor  # noqa: PLC0415

        response = client.get("/v1/customers/c1/health/history", params={"cursor": encode_cursor(["not-a-date"])})
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"loc": ["query", "cursor"], "msg": "not a cursor of this list", "type": "value_error"}
        ]
