"""`GET /v1/jobs` (admin): every job with its last run (status, duration) and next run; a job's runs."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.keys.service import Scope
from tests.builders import make_job_run

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday; the daily slot was at 02:00 UTC, the weekly on Monday
TODAY_SLOT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
MONDAY_SLOT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def jobs(client: TestClient) -> dict[str, dict]:
    answer = client.get("/v1/jobs")
    assert answer.status_code == 200, answer.text
    return {job["name"]: job for job in answer.json()["items"]}


class TestList:
    def test_without_runs_every_scheduled_job_is_due_at_its_latest_slot(self, client: TestClient) -> None:
        """Nothing ran: the next run is the slot that has not run (in the past: is a worker running?)."""
        found = jobs(client)
        assert list(found) == [
            "health.snapshot", "interventions.measure", "renewals.notices", "experiments.ready", "health.refit",
            "jobs.prune", "usage.retention", "webhooks.deliver",
        ]  # fmt: skip
        assert found["health.snapshot"]["next_run_at"] == "2026-12-02T02:00:00Z"
        assert found["health.refit"]["next_run_at"] == "2026-11-30T02:00:00Z"
        assert found["webhooks.deliver"]["next_run_at"] is None
        assert found["webhooks.deliver"]["schedule"] == "every 2 s (continuous)"
        assert all(job["last_run"] is None and job["last_status"] is None for job in found.values())

    def test_after_a_run_it_shows_status_duration_and_the_next_slot(self, client: TestClient, session: Session) -> None:
        run_id = make_job_run(
            session, job="health.snapshot", slot=TODAY_SLOT, started=TODAY_SLOT + timedelta(seconds=1),
            finished=TODAY_SLOT + timedelta(seconds=3, milliseconds=250), result={"customers": 500},
        )  # fmt: skip
        session.commit()
        job = jobs(client)["health.snapshot"]
        assert {k: job[k] for k in ("last_run", "last_trigger", "last_status", "last_duration_ms", "last_result")} == {
            "last_run": run_id,
            "last_trigger": "schedule",
            "last_status": "succeeded",
            "last_duration_ms": 2250,  # from 02:00:01 to 02:00:03.250
            "last_result": {"customers": 500},
        }
        assert job["next_run_at"] == "2026-12-03T02:00:00Z"

    def test_a_failed_run_shows_its_error(self, client: TestClient, session: Session) -> None:
        make_job_run(session, job="health.refit", slot=MONDAY_SLOT, status="failed", error="ValueError: no data")
        session.commit()
        job = jobs(client)["health.refit"]
        assert (job["last_status"], job["last_error"], job["next_run_at"]) == (
            "failed", "ValueError: no data", "2026-12-07T02:00:00Z",
        )  # fmt: skip

    def test_a_manual_run_after_the_slot_is_the_last_run_but_the_slot_still_counts(
        self, client: TestClient, session: Session
    ) -> None:
        make_job_run(session, job="jobs.prune", slot=TODAY_SLOT)
        manual = make_job_run(session, job="jobs.prune", started=NOW - timedelta(minutes=5))
        session.commit()
        job = jobs(client)["jobs.prune"]
        assert (job["last_run"], job["last_trigger"], job["next_run_at"]) == (manual, "manual", "2026-12-03T02:00:00Z")

    def test_csv(self, client: TestClient) -> None:
        answer = client.get("/v1/jobs", params={"format": "csv"})
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.text.splitlines()[0].startswith("name,description,schedule,last_run,")
        assert len(answer.text.splitlines()) == 1 + 8

    def test_an_unknown_parameter_is_422(self, client: TestClient) -> None:
        assert client.get("/v1/jobs", params={"limit": 5}).status_code == 422


class TestRuns:
    def test_newest_first_with_cursor_pages_and_a_status_filter(self, client: TestClient, session: Session) -> None:
        ids = [make_job_run(session, job="jobs.prune", slot=TODAY_SLOT - timedelta(days=d)) for d in range(3)]
        failed = make_job_run(session, job="jobs.prune", status="failed", error="boom")
        make_job_run(session, job="health.snapshot", slot=TODAY_SLOT)
        session.commit()
        first = client.get("/v1/jobs/jobs.prune/runs", params={"limit": 2}).json()
        assert [r["id"] for r in first["items"]] == [failed, ids[2]]
        rest = client.get("/v1/jobs/jobs.prune/runs", params={"cursor": first["next_cursor"]}).json()
        assert [r["id"] for r in rest["items"]] == [ids[1], ids[0]]
        assert rest["next_cursor"] is None
        only_failed = client.get("/v1/jobs/jobs.prune/runs", params={"status": "failed"}).json()["items"]
        assert [(r["id"], r["error"], r["worker"]) for r in only_failed] == [(failed, "boom", "test:1")]

    def test_an_unknown_job_is_404_and_a_malformed_name_422(self, client: TestClient) -> None:
        assert client.get("/v1/jobs/health.nope/runs").status_code == 404
        assert client.get("/v1/jobs/Not A Job/runs").status_code == 422


class TestScopes:
    @pytest.mark.parametrize("scope", [Scope.read, Scope.write, Scope.ingest])
    def test_only_admin(self, anonymous: TestClient, make_key: Callable[..., str], scope: Scope) -> None:
        headers = {"Authorization": f"Bearer {make_key(scope)}"}
        assert anonymous.get("/v1/jobs", headers=headers).status_code == 403
        assert anonymous.get("/v1/jobs/jobs.prune/runs", headers=headers).status_code == 403
