"""`csroi scorecard MONTH --url --key --format`: retries on 5xx and connection errors, a clear 4xx, a real server."""

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app import cli
from app.keys.service import Scope
from app.scorecard.client import ClientError, fetch_scorecard

runner = CliRunner()
BASE = "http://csroi.test"


def scripted(*answers: int | Exception) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering each request with the next status (or raising the next exception)."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if answer >= 400:
            body = {"type": "x", "title": "Unauthorized", "status": answer, "detail": "The API key is unknown."}
            return httpx.Response(answer, json=body, headers={"Content-Type": "application/problem+json"})
        return httpx.Response(answer, text="quadrant,metric,value,previous,change,target,status\r\n")

    return httpx.MockTransport(handler), seen


class TestFetchScorecard:
    def test_retries_5xx_and_connection_errors_with_doubling_backoff(self) -> None:
        transport, seen = scripted(503, httpx.ConnectError("refused"), 502, 200)
        waits: list[float] = []
        text = fetch_scorecard(BASE, "k", "2026-10", "csv", transport=transport, backoff=0.5, sleep=waits.append)
        assert text.startswith("quadrant,metric")
        assert len(seen) == 4
        assert waits == [0.5, 1.0, 2.0]

    def test_gives_up_after_the_last_try_with_exit_code_1(self) -> None:
        transport, seen = scripted(500, 500, 500, 500)
        with pytest.raises(ClientError, match="gave up after 4 tries") as caught:
            fetch_scorecard(BASE, "k", "2026-10", "json", transport=transport, sleep=lambda _: None)
        assert (caught.value.exit_code, len(seen)) == (1, 4)

    def test_4xx_fails_at_once_with_the_problem_detail(self) -> None:
        transport, seen = scripted(401, 200)
        with pytest.raises(ClientError, match=r"401 Unauthorized: The API key is unknown\.") as caught:
            fetch_scorecard(BASE, "k", "2026-10", "json", transport=transport, sleep=lambda _: None)
        assert (caught.value.exit_code, len(seen)) == (2, 1)

    def test_sends_the_key_and_asks_for_the_format(self) -> None:
        transport, seen = scripted(200)
        fetch_scorecard(BASE + "/", "secret", "2026-10", "csv", transport=transport)
        assert str(seen[0].url) == f"{BASE}/v1/scorecards/2026-10?format=csv"
        assert seen[0].headers["Authorization"] == "Bearer secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The test's app served by a real uvicorn on a free port, in a thread (same rolled-back transaction)."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def seeded(client: TestClient) -> None:
    """Feb cohort 10,000 → 11,000 (NRR 1.1); January 8,000 → 10,000 (1.25)."""
    events = [
        {"id": "e1", "customer": "a", "product": "core", "effective_date": "2025-12-01", "arr": 8000},
        {"id": "e2", "customer": "a", "product": "core", "effective_date": "2026-01-10", "arr": 10000},
        {"id": "e3", "customer": "a", "product": "core", "effective_date": "2026-02-10", "arr": 11000},
    ]
    assert client.post("/v1/revenue-events", json={"events": events}).status_code == 200


class TestCommandAgainstTheRunningApp:
    def test_json_to_a_file(self, seeded: None, server: str, make_key: Callable[..., str], tmp_path: Path) -> None:
        out = tmp_path / "feb.json"
        args = ["scorecard", "2026-02", "--url", server, "--key", make_key(Scope.read), "--output", str(out)]
        result = runner.invoke(cli.cli, args)
        assert result.exit_code == 0, result.output
        card = json.loads(out.read_text())
        nrr = next(e for e in card["quadrants"]["financial"] if e["metric"] == "nrr")
        assert (nrr["value"], nrr["previous"]) == (11000 / 10000, 10000 / 8000)

    def test_csv_to_stdout(self, seeded: None, server: str, make_key: Callable[..., str]) -> None:
        args = ["scorecard", "2026-02", "--url", server, "--key", make_key(Scope.read), "--format", "csv"]
        result = runner.invoke(cli.cli, args)
        assert result.exit_code == 0, result.output
        # The in-process server's access log shares this stdout: keep the CSV lines only.
        lines = [line for line in result.stdout.splitlines() if "[info" not in line]
        assert lines[0] == "quadrant,metric,value,previous,change,target,status"
        assert "financial,nrr,1.100000,1.250000,-0.150000,," in lines

    def test_bad_key_is_a_clear_message_and_exit_2(self, server: str) -> None:
        result = runner.invoke(cli.cli, ["scorecard", "2026-02", "--url", server, "--key", "csroi_nope"])
        assert result.exit_code == 2
        assert "401 Unauthorized: The API key is unknown or revoked." in result.stderr
        assert "quadrant" not in result.stdout  # (the in-process server logs to the same stdout)

    def test_malformed_month_is_exit_2_naming_the_field(self, server: str, make_key: Callable[..., str]) -> None:
        result = runner.invoke(cli.cli, ["scorecard", "2026-13", "--url", server, "--key", make_key(Scope.read)])
        assert result.exit_code == 2
        assert "path.month" in result.stderr
