"""Models in force (SPEC §10, changing §6): each stored version carries `effective_from`; a point-in-time read,
replay or backfill of a day uses the version in force that day unless `model_version=` is given, and storing a
new model never changes history silently."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.health import service
from app.keys.service import Scope
from tests.builders import make_customer, make_health_model, make_snapshot, post_usage, usage_event
from tests.statements import recorded


def logins(good: int, name: str = "logins") -> dict[str, Any]:
    """A one-component model: logins in 30 days, `good` or more scoring 100 (score = 100 × logins / good)."""
    return {
        "components": [
            {"name": name, "weight": 1, "kind": "login", "aggregate": "count", "window_days": 30, "bad": 0,
             "good": good}
        ]
    }  # fmt: skip


@contextmanager
def on(day: str) -> Iterator[None]:
    """The service's clock at noon UTC of `day`."""
    with time_machine.travel(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC), tick=False):
        yield


def put(client: TestClient, body: dict[str, Any], today: str) -> dict[str, Any]:
    with on(today):
        response = client.put("/v1/health-model", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def health(client: TestClient, customer: str, as_of: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/customers/{customer}/health", params={"as_of": as_of, **params})
    assert response.status_code == 200, response.text
    return response.json()


class TestVersionInForce:
    """Which version scores a day: the highest with effective_from ≤ the day; the default before any."""

    def test_each_day_by_the_highest_version_in_force(self, session: Session) -> None:
        make_health_model(session, **logins(10), effective_from="2026-03-01", today="2026-03-01")  # v2
        make_health_model(session, **logins(20), effective_from="2026-05-01", today="2026-03-02")  # v3, scheduled
        make_health_model(session, **logins(30), effective_from="2026-04-01", today="2026-03-03")  # v4
        versions = service.versions(session)
        by_day = {d: versions.on(date.fromisoformat(d)).version for d in
                  ("2026-02-28", "2026-03-01", "2026-03-31", "2026-04-01", "2026-05-01", "2030-01-01")}  # fmt: skip
        # v4 is the newer decision: from 1 April it replaces v2, and v3 (scheduled for 1 May) never takes effect.
        assert by_day == {"2026-02-28": 1, "2026-03-01": 2, "2026-03-31": 2, "2026-04-01": 4, "2026-05-01": 4,
                          "2030-01-01": 4}  # fmt: skip
        until = {v: versions.in_force_until(v) for v in (1, 2, 3, 4)}
        assert until == {1: date(2026, 2, 28), 2: date(2026, 3, 31), 3: date(2026, 4, 30), 4: None}
        # v3's last day is before its effective_from: it never scores a day.
        assert until[3] is not None
        assert until[3] < date(2026, 5, 1)

    def test_the_same_effective_from_the_higher_version_wins(self, session: Session) -> None:
        make_health_model(session, **logins(10), effective_from="2026-03-01", today="2026-03-01")
        make_health_model(session, **logins(20), effective_from="2026-03-01", today="2026-03-01")
        versions = service.versions(session)
        assert [versions.on(date(2026, 3, d)).version for d in (1, 31)] == [3, 3]
        assert versions.on(date(2026, 2, 28)).version == 1
        assert versions.in_force_until(2) == date(2026, 2, 28)  # never in force

    def test_days_are_grouped_by_version_for_book_wide_reads(self, session: Session) -> None:
        make_health_model(session, **logins(10), effective_from="2026-03-01", today="2026-03-01")
        days = [date(2026, 2, 20) + timedelta(days=n) for n in range(20)]
        groups = service.versions(session).by_version(days)
        assert {v: (d[0], d[-1], len(d)) for v, d in groups.items()} == {
            1: (date(2026, 2, 20), date(2026, 2, 28), 9),
            2: (date(2026, 3, 1), date(2026, 3, 11), 11),
        }


class TestModelRoutes:
    def test_a_put_takes_effect_today_by_default_and_answers_when(self, client: TestClient) -> None:
        stored = put(client, logins(10), today="2026-06-01")
        assert (stored["version"], stored["effective_from"], stored["in_force_until"]) == (2, "2026-06-01", None)
        assert stored["backdated"] is False
        with on("2026-06-01"):
            assert client.get("/v1/health-model").json()["version"] == 2
        assert client.get("/v1/health-model", params={"as_of": "2026-05-31"}).json()["version"] == 1
        assert client.get("/v1/health-model", params={"as_of": "2026-06-01"}).json()["version"] == 2

    def test_a_future_effective_from_schedules_the_version(self, client: TestClient) -> None:
        put(client, {**logins(10), "effective_from": "2026-07-01"}, today="2026-06-01")
        with on("2026-06-15"):
            assert client.get("/v1/health-model").json()["version"] == 1
        with on("2026-07-01"):
            assert client.get("/v1/health-model").json()["version"] == 2

    def test_the_list_shows_every_version_and_its_days(self, client: TestClient) -> None:
        put(client, logins(10), today="2026-03-01")
        put(client, {**logins(20), "effective_from": "2026-02-01"}, today="2026-04-01")
        put(client, logins(30), today="2026-05-01")
        page = client.get("/v1/health-models", params={"limit": 2})
        assert page.status_code == 200, page.text
        first = page.json()
        rest = client.get("/v1/health-models", params={"cursor": first["next_cursor"]}).json()
        assert rest["next_cursor"] is None
        got = [
            (m["version"], m["default"], m["effective_from"], m["in_force_until"], m["backdated"])
            for m in first["items"] + rest["items"]
        ]
        assert got == [
            (1, True, None, "2026-01-31", False),
            (2, False, "2026-03-01", "2026-02-28", False),  # v3 is in force from 1 February: v2 never scores a day
            (3, False, "2026-02-01", "2026-04-30", True),
            (4, False, "2026-05-01", None, False),
        ]
        assert client.get("/v1/health-models/3").json()["effective_from"] == "2026-02-01"
        assert client.get("/v1/health-models/1").json()["default"] is True
        csv = client.get("/v1/health-models", params={"format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.splitlines()
        assert len(lines) == 1 + 4
        assert "effective_from" in lines[0].split(",")

    def test_an_unknown_version_is_404_and_a_bad_cursor_422(self, client: TestClient) -> None:
        missing = client.get("/v1/health-models/7")
        assert (missing.status_code, missing.headers["content-type"]) == (404, "application/problem+json")
        assert client.get("/v1/health-models/0").status_code == 422
        assert client.get("/v1/health-models", params={"cursor": "eyJ4IjoxfQ"}).status_code == 422

    def test_a_backdated_put_is_audited_as_one(self, client: TestClient) -> None:
        put(client, logins(10), today="2026-03-01")
        put(client, {**logins(20), "effective_from": "2026-01-15"}, today="2026-03-02")
        actions = [e["action"] for e in client.get("/v1/audit").json()["items"]]
        assert actions[:2] == ["health_model.backdate", "health_model.put"]  # newest first
        entry = client.get("/v1/audit", params={"action": "health_model.backdate"}).json()["items"][0]
        assert (entry["after"]["effective_from"], entry["after"]["backdated"]) == ("2026-01-15", True)
        assert entry["before"]["version"] == 2

    def test_the_list_needs_admin(self, anonymous: TestClient, make_key: Any) -> None:
        headers = {"Authorization": f"Bearer {make_key(Scope.read)}"}
        assert anonymous.get("/v1/health-models", headers=headers).status_code == 403


def login_book(session: Session) -> None:
    """Logins of a, b, c, d: (February, March) counts as in the ROI health-lift example."""
    counts = {"a": (5, 8), "b": (5, 6), "c": (6, 4), "d": (9, 9)}
    make_customer(session, id="a")
    post_usage(
        session,
        *(
            usage_event(c, "login", f"2026-0{m}-{10 + n:02d}T12:00:00Z", id=f"{c}-{m}-{n}")
            for c, pair in counts.items()
            for m, count in zip((2, 3), pair, strict=True)
            for n in range(count)
        ),
    )
    session.commit()


class TestPointInTimeReads:
    def test_a_day_is_read_by_its_version_or_the_one_asked_for(self, client: TestClient, session: Session) -> None:
        login_book(session)
        put(client, logins(10), today="2026-03-20")  # v2 from 20 March; v1 (the default) before
        # 31 March, v2: a had 8 logins in the 30 days → 100 × 8 / 10 = 80.
        assert (health(client, "a", "2026-03-31")["model_version"], health(client, "a", "2026-03-31")["score"]) == (
            2,
            80.0,
        )
        before = health(client, "a", "2026-03-19")
        assert before["model_version"] == 1
        assert {c["name"] for c in before["components"]} >= {"logins_per_seat", "nps"}  # the default's components
        asked = health(client, "a", "2026-03-19", model_version=2)
        # v2 on 19 March: the window is 18 February .. 19 March, which holds a's 8 March logins → 80.
        assert (asked["model_version"], asked["score"]) == (2, 80.0)
        assert health(client, "a", "2026-03-31", model_version=1)["model_version"] == 1

    def test_change_30d_compares_by_one_version(self, client: TestClient, session: Session) -> None:
        login_book(session)
        put(client, logins(10), today="2026-03-20")
        now = health(client, "a", "2026-03-31")
        # v2 on 31 March 80, and v2 (not the default in force then) on 1 March: 5 February logins → 50.
        assert now["change_30d"] == 80.0 - 50.0

    @pytest.mark.parametrize("version", [9, 0])
    def test_an_unknown_model_version_is_422_naming_it(
        self, client: TestClient, session: Session, version: int
    ) -> None:
        login_book(session)
        read = client.get("/v1/customers/a/health", params={"as_of": "2026-03-31", "model_version": version})
        replay = client.post("/v1/health/snapshots", params={"date": "2026-03-31", "model_version": version})
        for response in (read, replay):
            assert response.status_code == 422, response.text
            assert [e["loc"] for e in response.json()["errors"]] == [["query", "model_version"]]
        assert client.get("/v1/customers/a/health/history").json()["items"] == []  # nothing was stored

    def test_replaying_a_day_stores_its_version_or_the_one_asked_for(
        self, client: TestClient, session: Session
    ) -> None:
        login_book(session)
        put(client, logins(10), today="2026-03-20")
        early = client.post("/v1/health/snapshots", params={"date": "2026-03-10"}).json()
        late = client.post("/v1/health/snapshots", params={"date": "2026-03-31"}).json()
        asked = client.post("/v1/health/snapshots", params={"date": "2026-03-11", "model_version": 2}).json()
        assert [r["model_version"] for r in (early, late, asked)] == [1, 2, 2]
        history = client.get("/v1/customers/a/health/history").json()["items"]
        assert [(h["snapshot_date"], h["model_version"]) for h in history] == [
            ("2026-03-10", 1),
            ("2026-03-11", 2),
            ("2026-03-31", 2),
        ]
        # 11 March by v2: 5 February logins in 10 Feb .. 11 Mar, and 10, 11 March: 7 → 70.
        assert history[1]["score"] == 70.0

    def test_context_captures_the_version_in_force_on_the_start_day(self, client: TestClient, session: Session) -> None:
        login_book(session)
        put(client, logins(10), today="2026-03-20")
        body = {"customer": "a", "type": "qbr", "framework": "social_proof", "reason": "r", "status": "in_progress",
                "expected": {"metric": "login", "change": 1, "unit": "absolute", "measure_after_days": 30}}  # fmt: skip
        early = client.post("/v1/interventions", json={**body, "started_on": "2026-03-19"}).json()
        late = client.post("/v1/interventions", json={**body, "started_on": "2026-03-20"}).json()
        assert [early["context"]["health_model_version"], late["context"]["health_model_version"]] == [1, 2]


def roi_row(client: TestClient) -> dict[str, Any]:
    [row] = client.get("/v1/metrics/roi", params={"start": "2026-03-01", "end": "2026-03-31"}).json()["rows"]
    return row


class TestHistoryNeverChangesSilently:
    """SPEC §10: storing a new model leaves every earlier snapshot, replay and health lift unchanged."""

    def history_book(self, client: TestClient, session: Session) -> dict[str, Any]:
        """v2 in force from 1 January; an intervention on a (1 March, measured 31 March); snapshots of 15 March."""
        login_book(session)
        put(client, {**logins(10), "effective_from": "2026-01-01"}, today="2026-01-01")
        body = {"customer": "a", "type": "qbr", "framework": "social_proof", "reason": "r", "status": "in_progress",
                "started_on": "2026-03-01", "at_risk": False,
                "expected": {"metric": "login", "change": 20, "unit": "percent", "measure_after_days": 30}}  # fmt: skip
        assert client.post("/v1/interventions", json=body).status_code == 201
        assert client.post("/v1/health/snapshots", params={"date": "2026-03-15"}).status_code == 200
        return self.seen(client)

    @staticmethod
    def seen(client: TestClient) -> dict[str, Any]:
        """Everything history is made of: stored snapshots, replays of past days, the ROI row's health lift."""
        row = roi_row(client)
        return {
            "snapshots": client.get("/v1/customers/a/health/history").json()["items"],
            "replays": [health(client, c, "2026-03-31") for c in "abcd"],
            "lift": (row["avg_health_delta"], row["baseline_health_delta"], row["health_lift"]),
        }

    def test_a_new_model_leaves_history_unchanged(self, client: TestClient, session: Session) -> None:
        seen = self.history_book(client, session)
        # The ROI test's worked example: a 50 → 80 (+30); yellow peers b +10, c −20: baseline −5, lift 35.
        assert seen["lift"] == (30, -5, 35)
        assert [r["score"] for r in seen["replays"]] == [80.0, 60.0, 40.0, 90.0]
        put(client, {**logins(4), "bands": {"red_below": 10, "green_from": 20}}, today="2026-06-01")
        assert self.seen(client) == seen
        # Re-running a past day's snapshot replays it by the version in force then: the same rows.
        assert client.post("/v1/health/snapshots", params={"date": "2026-03-15"}).json()["model_version"] == 2
        assert self.seen(client) == seen
        # The new version scores from its day on: a had no logins in May, so 0 by either model on 1 June.
        assert health(client, "a", "2026-06-01")["model_version"] == 3

    def test_a_backdated_model_restates_replays_and_lift_but_not_stored_snapshots(
        self, client: TestClient, session: Session
    ) -> None:
        seen = self.history_book(client, session)
        put(client, {**logins(20), "effective_from": "2026-02-01"}, today="2026-06-01")  # the admin's explicit choice
        now = self.seen(client)
        assert now["snapshots"] == seen["snapshots"]  # the record of 15 March stands until re-run
        assert [r["model_version"] for r in now["replays"]] == [3, 3, 3, 3]
        # Score = 100 × logins / 20: a 25 → 40 (+15). Peers are the customers in a's band at the start as its
        # context recorded it (yellow, captured when it started): by v3 on 1 March only d is yellow (45), and
        # d 45 → 45 (+0): baseline 0, lift 15 − 0 = 15.
        assert now["lift"] == (15, 0, 15)
        rerun = client.post("/v1/health/snapshots", params={"date": "2026-03-15"}).json()
        assert rerun["model_version"] == 3


class TestSetBased:
    """Book-wide reads over many days group the days by their version in force: statements per version, not day."""

    def test_point_in_time_scores_take_the_same_statements_for_4_or_40_days(self, session: Session) -> None:
        login_book(session)
        make_health_model(session, **logins(10), effective_from="2026-03-01", today="2026-03-01")
        few = {(c, date(2026, 2, 27) + timedelta(days=n)) for c in "abcd" for n in range(4)}  # 27 Feb .. 2 Mar
        many = {(c, date(2026, 2, 10) + timedelta(days=n)) for c in "abcd" for n in range(40)}  # 10 Feb .. 21 Mar
        with recorded(session) as four_days:
            service.scores_on(session, few)
        with recorded(session) as forty_days:
            scores = service.scores_on(session, many)
        # Snapshots and versions, then each version's point-in-time pass (both days sets span both versions).
        assert len(forty_days) == len(four_days)
        assert len(scores) == len(many)
        # Spot check across the change of version: a on 28 February by the default, on 1 March by v2.
        assert scores[("a", date(2026, 3, 1))] == service.health_on(session, "a", date(2026, 3, 1)).score
        assert scores[("a", date(2026, 2, 28))] == service.health_on(session, "a", date(2026, 2, 28)).score

    def test_book_health_uses_each_days_version_and_thresholds(self, session: Session) -> None:
        login_book(session)
        make_health_model(session, **logins(10), effective_from="2026-03-01", today="2026-03-01")
        make_health_model(
            session, **logins(10), bands={"red_below": 85, "green_from": 95}, effective_from="2026-03-20",
            today="2026-03-20",
        )  # fmt: skip
        make_snapshot(session, customer="b", day="2026-03-31", score=99.0, model_version=3)
        book = service.book_health(session, [date(2026, 3, 15), date(2026, 3, 31)])
        a, b = book.index["a"], book.index["b"]
        # 15 March by v2 (red below 40, green from 70): a's window 14 February .. 15 March holds 1 + 6 logins → 70.
        assert (book.score(date(2026, 3, 15))[a], book.band(date(2026, 3, 15))[a]) == (70.0, service.GREEN)
        # 31 March by v3's bands: a 80 is red (below 85); b's stored snapshot 99 stands, green.
        assert (book.score(date(2026, 3, 31))[a], book.band(date(2026, 3, 31))[a]) == (80.0, service.RED)
        assert (book.score(date(2026, 3, 31))[b], book.band(date(2026, 3, 31))[b]) == (99.0, service.GREEN)

    def test_points_go_in_chunks_with_the_same_scores(self, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
        login_book(session)
        make_health_model(session, **logins(10), effective_from="2026-03-01", today="2026-03-01")
        pairs = {(c, date(2026, 2, 25) + timedelta(days=n)) for c in "abcd" for n in range(10)}
        whole = service.scores_on(session, pairs)
        monkeypatch.setattr(service, "POINTS_CHUNK", 3)  # 40 points: 14 chunks over the two versions
        with recorded(session) as statements:
            chunked = service.scores_on(session, pairs)
        assert chunked == whole
        assert len(statements) > 14
