"""Delivering webhooks to a real HTTP receiver (SPEC §11): signed, at least once, retried with backoff, then failed."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import WebhookAttempt, WebhookDelivery
from app.webhooks import delivery, signing
from app.worker import Worker, deliver_pass
from tests.builders import make_customer, make_webhook, post_revenue, revenue
from tests.receiver import Receiver

CHURN_BATCH = {
    "events": [
        {"id": "acme-1", "customer": "acme", "product": "core", "effective_date": "2026-01-01", "arr": 12000},
        {"id": "acme-2", "customer": "acme", "product": "core", "effective_date": "2026-06-01", "arr": 0},
    ]
}


def subscribe(client: TestClient, receiver: Receiver, events: list[str] | None = None) -> str:
    """Subscribe the receiver through the API; the generated secret."""
    answer = client.put("/v1/webhooks/rx", json={"url": receiver.url, "events": events or ["revenue.churned"]})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["secret"])


def deliveries(client: TestClient) -> list[dict]:
    answer = client.get("/v1/webhooks/rx/deliveries")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


class TestChurnDelivery:
    def test_a_churn_posted_through_the_api_is_delivered_once_and_its_signature_verifies(
        self, client: TestClient, receiver: Receiver, worker: Worker
    ) -> None:
        secret = subscribe(client, receiver)
        assert client.post("/v1/revenue-events", json=CHURN_BATCH).status_code == 200

        counts = deliver_pass(worker)

        assert counts["delivered"] == 1
        [request] = receiver.requests
        header = request.headers[signing.HEADER]
        timestamp = int(header.split(",")[0].removeprefix("t="))
        assert abs(timestamp - time.time()) < 60
        assert signing.verify(secret, header, request.body, now=int(time.time()))
        assert not signing.verify("whsec_someone-else-entirely", header, request.body, now=int(time.time()))
        body = json.loads(request.body)
        assert set(body) == {"id", "type", "created", "data"}
        assert body["type"] == "revenue.churned"
        assert body["id"].startswith("evt_")
        assert len(body["id"]) == 36
        assert datetime.fromisoformat(body["created"]).utcoffset() == timedelta(0)
        # The customer paid 12,000 until 2026-06-01, then nothing: 12,000 churned that day.
        assert body["data"] == {
            "currency": "USD",
            "customer": "acme",
            "customer_name": None,
            "effective_date": "2026-06-01",
            "churned_arr": 12000.00,
        }
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Csroi-Event-Id"] == body["id"]
        [logged] = deliveries(client)
        assert (logged["status"], logged["attempts"], logged["event"]) == ("delivered", 1, body["id"])
        assert logged["attempt_log"][0]["status_code"] == 200

    def test_a_second_pass_sends_nothing_more(self, client: TestClient, receiver: Receiver, worker: Worker) -> None:
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        deliver_pass(worker)
        assert deliver_pass(worker) == {}
        assert len(receiver.requests) == 1

    def test_the_readme_receiver_verifies_a_real_delivery(
        self, client: TestClient, receiver: Receiver, worker: Worker, repo_root: object
    ) -> None:
        """The ten-line receiver check of the README, run against what the worker sent."""
        readme = (repo_root / "README.md").read_text()  # type: ignore[operator]
        code = readme.split("<!-- receiver-check -->")[1].split("```python")[1].split("```")[0]
        namespace: dict = {}
        exec(code, namespace)  # noqa: S102 - the README's own example, run as documentation test
        secret = subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        deliver_pass(worker)
        [request] = receiver.requests
        assert namespace["verify"](request.body, request.headers["Csroi-Signature"], secret) is True
        assert namespace["verify"](request.body + b" ", request.headers["Csroi-Signature"], secret) is False


class TestRetries:
    def test_a_receiver_answering_500_then_200_gets_the_event_twice_and_the_log_shows_both(
        self, client: TestClient, receiver: Receiver, worker: Worker
    ) -> None:
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        receiver.statuses.extend([500, 200])

        first = deliver_pass(worker)
        [pending] = deliveries(client)
        retry_at = datetime.fromisoformat(pending["next_attempt_at"])
        with time_machine.travel(retry_at + timedelta(seconds=1), tick=True):
            second = deliver_pass(worker)

        assert (first["retrying"], second["delivered"]) == (1, 1)
        one, two = receiver.requests
        assert json.loads(one.body)["id"] == json.loads(two.body)["id"]  # the same event: receivers dedupe on it
        [logged] = deliveries(client)
        assert logged["status"] == "delivered"
        assert logged["attempts"] == 2
        assert [a["status_code"] for a in logged["attempt_log"]] == [500, 200]

    def test_the_first_retry_comes_within_60_seconds(
        self, client: TestClient, receiver: Receiver, worker: Worker
    ) -> None:
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        receiver.statuses.append(503)
        deliver_pass(worker)
        [pending] = deliveries(client)
        failed_at = datetime.fromisoformat(pending["attempt_log"][0]["at"])
        assert timedelta(0) < datetime.fromisoformat(pending["next_attempt_at"]) - failed_at <= timedelta(seconds=60)
        assert (pending["status"], pending["last_status_code"], pending["last_error"]) == ("pending", 503, "HTTP 503")

    def test_a_delivery_still_failing_after_24_hours_is_failed(
        self, client: TestClient, receiver: Receiver, worker: Worker, session: Session
    ) -> None:
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        receiver.statuses.extend([500] * 100)
        deliver_pass(worker)
        [pending] = deliveries(client)
        start = datetime.fromisoformat(pending["created"])
        # Walk through every retry the schedule makes: 30 s, 60 s, … then hourly, until 24 h have passed.
        attempts = 1
        while True:
            [row] = deliveries(client)
            if row["status"] != "pending":
                break
            with time_machine.travel(datetime.fromisoformat(row["next_attempt_at"]) + timedelta(seconds=1), tick=False):
                deliver_pass(worker)
            attempts += 1
        [failed] = deliveries(client)
        assert failed["status"] == "failed"
        assert failed["next_attempt_at"] is None
        last = datetime.fromisoformat(failed["attempt_log"][-1]["at"])
        assert timedelta(hours=23) <= last - start <= timedelta(hours=24)
        # 30 + 60 + … + 1,920 s (7 retries, 3,810 s) and then hourly retries up to the 24th hour.
        assert attempts == failed["attempts"] == len(failed["attempt_log"]) == 1 + 7 + (86_400 - 3_810) // 3_600
        assert len(receiver.requests) == attempts

    def test_a_retry_through_the_api_sends_a_failed_delivery_again(
        self, client: TestClient, receiver: Receiver, worker: Worker, session: Session
    ) -> None:
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        receiver.statuses.append(500)
        deliver_pass(worker)
        session.execute(update(WebhookDelivery).values(status="failed", next_attempt_at=None))
        session.commit()
        [failed] = deliveries(client)

        answer = client.post(f"/v1/webhooks/rx/deliveries/{failed['id']}/retry")

        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "pending"
        assert deliver_pass(worker)["delivered"] == 1
        assert len(receiver.requests) == 2
        audit = client.get("/v1/audit", params={"action": "webhook.delivery_retry"}).json()["items"]
        assert (audit[0]["before"]["status"], audit[0]["after"]["status"]) == ("failed", "pending")


class TestWhatIsNotSent:
    def test_a_change_that_rolls_back_produces_no_event(
        self, session: Session, receiver: Receiver, worker: Worker
    ) -> None:
        make_webhook(session, id="rx", url=receiver.url, events=["revenue.churned"])
        session.commit()
        make_customer(session, id="acme")
        post_revenue(session, revenue("acme", "2026-01-01", 500), revenue("acme", "2026-02-01", 0))
        assert session.scalar(select(WebhookDelivery.id)) is None  # the worker has not fanned it out
        session.rollback()

        assert deliver_pass(worker) == {}
        assert receiver.requests == []

    def test_a_batch_refused_with_a_conflict_produces_no_event(
        self, client: TestClient, receiver: Receiver, worker: Worker
    ) -> None:
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json={"events": CHURN_BATCH["events"][:1]})
        changed = {**CHURN_BATCH["events"][0], "arr": 1}
        answer = client.post("/v1/revenue-events", json={"events": [CHURN_BATCH["events"][1], changed]})
        assert answer.status_code == 409
        assert deliver_pass(worker) == {}
        assert receiver.requests == []

    def test_a_deleted_subscription_gets_nothing_more(
        self, client: TestClient, receiver: Receiver, worker: Worker
    ) -> None:
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        assert client.delete("/v1/webhooks/rx").status_code == 204
        assert deliver_pass(worker) == {"dispatched": 1}
        assert receiver.requests == []

    def test_an_erased_customer_is_not_announced(self, client: TestClient, receiver: Receiver, worker: Worker) -> None:
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        assert client.delete("/v1/customers/acme").status_code == 200
        assert deliver_pass(worker) == {}
        assert receiver.requests == []


class TestAddresses:
    def test_a_private_address_is_refused_at_delivery_unless_allowed(
        self, client: TestClient, receiver: Receiver, worker: Worker, session: Session
    ) -> None:
        """Stored while private addresses were allowed; the worker now runs without: its connection is refused."""
        subscribe(client, receiver)
        client.post("/v1/revenue-events", json=CHURN_BATCH)
        strict = Worker(worker.settings.model_copy(update={"webhook_allow_private": False}), worker.engine,
                        worker.maker, name="strict:1")  # fmt: skip
        try:
            assert deliver_pass(strict)["retrying"] == 1
        finally:
            strict.close()
        assert receiver.requests == []
        [row] = deliveries(client)
        assert row["last_status_code"] is None
        assert row["last_error"].startswith("refused: the host '127.0.0.1' resolves to a loopback or private address")


class TestRecord:
    """The state a batch of attempts leaves (delivery.record), at exact instants."""

    NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def _claimed(
        self, session: Session, *, failures: int = 0, window_start: datetime | None = None
    ) -> delivery.Claimed:
        row = session.scalars(select(WebhookDelivery)).one()
        return delivery.Claimed(
            id=row.id, claim=row.claim or "", failures=failures, window_start=window_start or self.NOW,
            url="http://x", secret="s", body=b"{}", event="evt_x", type="revenue.churned",
        )  # fmt: skip

    @pytest.fixture
    def claimed_row(self, session: Session, receiver: Receiver) -> None:
        # The outbox stamps its rows with the clock: write them at NOW, whatever the day the suite runs.
        with time_machine.travel(self.NOW, tick=False):
            make_webhook(session, id="rx", url=receiver.url, events=["revenue.churned"])
            make_customer(session, id="acme")
            post_revenue(session, revenue("acme", "2026-01-01", 500), revenue("acme", "2026-02-01", 0))
            delivery.dispatch(session)
        assert delivery.claim(session, now=self.NOW, limit=10, lease=timedelta(minutes=1), currency="USD")

    @pytest.mark.usefixtures("claimed_row")
    def test_the_third_failure_in_a_row_waits_two_minutes(self, session: Session) -> None:
        attempt = delivery.Attempt(self._claimed(session, failures=2), self.NOW, 502, None, 12)
        assert delivery.record(session, [attempt], now=self.NOW) == delivery.Recorded(retrying=1)
        row = session.scalars(select(WebhookDelivery)).one()
        session.refresh(row)
        # 30 s × 2^(3 − 1) = 120 s
        assert (row.failures, row.next_attempt_at, row.last_error) == (3, self.NOW + timedelta(seconds=120), "HTTP 502")
        assert session.scalars(select(WebhookAttempt.duration_ms)).all() == [12]

    @pytest.mark.usefixtures("claimed_row")
    def test_a_failure_whose_retry_would_pass_24_hours_fails_the_delivery(self, session: Session) -> None:
        started = self.NOW - timedelta(hours=23, minutes=30)
        attempt = delivery.Attempt(self._claimed(session, failures=9, window_start=started), self.NOW, None,
                                   "timeout: no answer in time", 10_000)  # fmt: skip
        # The 10th failure waits an hour (capped): 23 h 30 min + 1 h is past the 24 h window.
        assert delivery.record(session, [attempt], now=self.NOW) == delivery.Recorded(failed=1)
        row = session.scalars(select(WebhookDelivery)).one()
        session.refresh(row)
        assert (row.status, row.next_attempt_at, row.last_error) == ("failed", None, "timeout: no answer in time")

    @pytest.mark.usefixtures("claimed_row")
    def test_a_result_whose_claim_was_taken_over_does_not_overwrite_it(self, session: Session) -> None:
        stale = self._claimed(session)
        later = self.NOW + timedelta(minutes=2)
        assert delivery.claim(session, now=later, limit=10, lease=timedelta(minutes=1), currency="USD")  # lease passed
        delivery.record(session, [delivery.Attempt(stale, self.NOW, 200, None, 5)], now=self.NOW)
        row = session.scalars(select(WebhookDelivery)).one()
        session.refresh(row)
        assert (row.status, row.attempts) == ("pending", 0)
        assert session.scalars(select(WebhookAttempt.status_code)).all() == [200]  # the attempt is still logged
