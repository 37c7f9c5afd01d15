"""The scheduled-script client: pull one month's scorecard over HTTP (SPEC §7 "scheduled scripts").

Retries with exponential backoff on 5xx answers and connection errors (a restarting server, a brief network
outage); never on 4xx, which retrying cannot fix: those fail at once with the problem's `detail`.
"""

import time
from collections.abc import Callable

import httpx

from app.types import ResponseFormat

RETRYABLE_STATUS = 500


class ClientError(Exception):
    """The scorecard could not be fetched; `exit_code` 2 for a request the server refused (4xx), else 1."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _problem_detail(response: httpx.Response) -> str:
    """The problem+json `detail` (and field errors) of a refusal, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
    errors = body.get("errors") or []
    fields = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg', '')}" for e in errors[:5])
    return f"{detail} ({fields})" if fields else detail


def fetch_scorecard(
    base_url: str,
    key: str,
    month: str,
    fmt: ResponseFormat,
    *,
    tries: int = 4,
    backoff: float = 1.0,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """The scorecard text (JSON or CSV) of `month`; waits backoff, 2×backoff, 4×backoff… between tries."""
    url = f"{base_url.rstrip('/')}/v1/scorecards/{month}"
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/csv" if fmt == "csv" else "application/json"}
    problem = ""
    with httpx.Client(timeout=timeout, transport=transport) as client:
        for attempt in range(tries):
            if attempt:
                sleep(backoff * 2 ** (attempt - 1))
            try:
                response = client.get(url, params={"format": fmt}, headers=headers)
            except httpx.TransportError as exc:
                problem = f"cannot reach {base_url}: {exc.__class__.__name__}: {exc}"
                continue
            if response.status_code >= RETRYABLE_STATUS:
                problem = f"server error {response.status_code}: {_problem_detail(response)}"
                continue
            if response.is_error:
                raise ClientError(f"{response.status_code} {response.reason_phrase}: {_problem_detail(response)}", 2)
            return response.text
    raise ClientError(f"gave up after {tries} tries; last: {problem}", 1)
