"""End to end (SPEC §11): `csroi serve` and `csroi worker` as separate processes on one database; a churn posted to
the API reaches a local receiver as a signed delivery. SQLite by default, PostgreSQL with CSROI_TEST_DATABASE_URL."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.webhooks import signing
from tests.receiver import running_receiver

ROOT = Path(__file__).resolve().parent.parent
CSROI = [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def environment(fresh_database_url: Callable[[], Iterator[str]]) -> Iterator[dict[str, str]]:
    for url in fresh_database_url():
        yield {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": url,
            "CSROI_WEBHOOK_ALLOW_PRIVATE": "true",
            "CSROI_WEBHOOK_POLL_SECONDS": "0.5",
            "CSROI_LOG_JSON": "true",
        }


def csroi(*argv: str, env: dict[str, str]) -> str:
    """Run a csroi command to its end; its stdout."""
    done = subprocess.run([*CSROI, *argv], env=env, cwd=ROOT, capture_output=True, timeout=120, check=True)  # noqa: S603
    return done.stdout.decode()


@contextmanager
def started(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A csroi process writing its log to `log`; stopped (SIGTERM) afterwards, its exit code kept in returncode."""
    with log.open("wb") as out:
        process = subprocess.Popen([*CSROI, *argv], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then wait; the exit code (a process that ignores SIGTERM is killed and fails the test)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return -9
    return int(process.returncode)


def wait_ready(api: httpx.Client, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if api.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


EVENTS = [
    {"id": "e2e-1", "customer": "globex", "product": "core", "effective_date": "2026-01-01", "arr": 6000},
    {"id": "e2e-2", "customer": "globex", "product": "core", "effective_date": "2026-09-01", "arr": 0},
]


def test_a_churn_posted_to_serve_is_delivered_signed_by_the_worker(environment: dict[str, str], tmp_path: Path) -> None:
    csroi("migrate", env=environment)
    key = csroi("keys", "create", "--name", "e2e", "--scope", "admin", env=environment).strip()
    port = free_port()
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    with (
        started(["serve", "--port", str(port), "--no-migrate"], environment, serve_log) as server,
        started(["worker"], environment, worker_log) as worker,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as api,
        running_receiver() as receiver,
    ):
        wait_ready(api, serve_log)
        answer = api.put("/v1/webhooks/e2e", json={"url": receiver.url, "events": ["revenue.churned"]})
        assert answer.status_code == 201, answer.text
        secret = answer.json()["secret"]
        assert api.post("/v1/revenue-events", json={"events": EVENTS}).status_code == 200

        received = receiver.wait_for(1, timeout=60)
        assert len(received) == 1, worker_log.read_text()[-3000:]
        assert signing.verify(secret, received[0].headers[signing.HEADER], received[0].body, now=int(time.time()))
        body = json.loads(received[0].body)
        assert (body["type"], body["data"]["customer"]) == ("revenue.churned", "globex")
        assert body["data"]["churned_arr"] == 6000

        deadline = time.monotonic() + 30
        while (logged := api.get("/v1/webhooks/e2e/deliveries").json()["items"])[0]["status"] != "delivered":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert logged[0]["event"] == body["id"]
        jobs = {job["name"]: job for job in api.get("/v1/jobs").json()["items"]}
        assert jobs["health.snapshot"]["last_status"] == "succeeded"  # the worker caught up its daily slot
        assert jobs["webhooks.deliver"]["last_trigger"] == "poll"
    assert worker.returncode == 0, worker_log.read_text()[-3000:]
    assert server.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it shut down on
    lines = [json.loads(line) for line in worker_log.read_text().splitlines() if line.startswith("{")]
    logged_events = {line["event"] for line in lines}
    assert {"worker_started", "job_finished", "webhook_delivered", "worker_stopped"} <= logged_events
