"""Browser tests of the dashboard: a live `csroi serve` on the suite's database kind, loaded with a small demo
book, driven by Debian's Chromium through Playwright.

The tests skip only when Chromium or Playwright is missing on a developer's machine; with CSROI_REQUIRE_BROWSER=1
(set by .ci/run) that is a failure instead. Screenshots go to $CSROI_SCREENSHOTS (default: a pytest temp folder).
"""

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from app import migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.demo import load_demo
from app.keys import service as keys_service
from app.keys.service import Scope

CHROMIUM = Path(os.environ.get("CSROI_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("CSROI_REQUIRE_BROWSER") == "1"
# Big enough that every page has data (an experiment with both arms, red customers, every framework), small
# enough to load in seconds: 120 customers load in about 6 s on SQLite.
BOOK_CUSTOMERS = 120
TARGETS = {"nrr": (1.05, "higher_is_better"), "logo_churn_rate": (0.02, "lower_is_better")}
WIDE, NARROW = 1280, 390


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed: pip install -e '.[dev]'"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver"
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session."""
    missing = browser_missing()
    if missing:
        if REQUIRE_BROWSER:
            pytest.fail(f"CSROI_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (optional: dev extra)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@dataclass
class LiveServer:
    """A running `csroi serve` and its keys; `api` calls the public API with the admin key."""

    url: str
    admin_key: str
    read_key: str
    api: httpx.Client

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params)
        response.raise_for_status()
        return response.json()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load_book(url: str) -> tuple[str, str]:
    """Migrate, load the demo book and create an admin and a read-only key; returns their secrets."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        maker = make_sessionmaker(engine)
        load_demo(maker, customers=BOOK_CUSTOMERS, min_churns=Settings().churn_min_churns)
        with maker() as session:
            admin = keys_service.create_key(session, name="browser admin", scopes=[Scope.admin])
            reader = keys_service.create_key(session, name="browser reader", scopes=[Scope.read])
            session.commit()
    finally:
        engine.dispose()
    return admin.secret, reader.secret


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"csroi serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"csroi serve did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="session")
def live_server(
    chromium: Any,
    fresh_database_url: Callable[[], Iterator[str]],
    tmp_path_factory: pytest.TempPathFactory,
    repo_root: Path,
) -> Iterator[LiveServer]:
    """`csroi serve` on a fresh database of the suite's kind, with the demo book and two targets set."""
    databases = fresh_database_url()
    url = next(databases)
    admin, reader = _load_book(url)
    port = _free_port()
    log = tmp_path_factory.mktemp("live") / "serve.log"
    env = {**os.environ, "DATABASE_URL": url, "CSROI_LOG_LEVEL": "WARNING", "PYTHONPATH": str(repo_root)}
    command = [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port), "--no-migrate"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=repo_root, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as api:
            for metric, (value, direction) in TARGETS.items():
                api.put(f"/v1/targets/{metric}", json={"value": value, "direction": direction}).raise_for_status()
            yield LiveServer(url=base, admin_key=admin, read_key=reader, api=api)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        databases.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory, dialect: str) -> Path:
    """Where page screenshots go: $CSROI_SCREENSHOTS/<database kind>, else a pytest temp folder."""
    root = os.environ.get("CSROI_SCREENSHOTS")
    folder = Path(root) / dialect if root else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Console:
    """What a page reported: console errors and warnings, uncaught exceptions, failed requests; every request URL
    and every API answer it received (so a test can compare the screen with the very answer the page read)."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)

    def watch(self, tab: Any) -> None:
        def on_console(message: Any) -> None:
            if message.type in ("error", "warning"):
                self.errors.append(f"console.{message.type}: {message.text}")

        tab.on("console", on_console)
        tab.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        tab.on("requestfailed", lambda request: self.errors.append(f"request failed: {request.url} {request.failure}"))
        tab.on("request", lambda request: self.requests.append(request.url))
        tab.on("response", lambda response: self.answers.append(response) if "/v1/" in response.url else None)

    def answer(self, path: str, **params: Any) -> Any:
        """The JSON of the page's last GET of `path` with exactly `params` (values compared as text)."""
        wanted = {name: str(value) for name, value in params.items()}
        for response in reversed(self.answers):
            url = urlsplit(response.url)
            if url.path == path and dict(parse_qsl(url.query)) == wanted and response.request.method == "GET":
                assert response.ok, f"{response.url}: {response.status}"
                return response.json()
        raise AssertionError(f"the page never read {path} with {wanted}; it read {[r.url for r in self.answers]}")


def new_tab(browser: Any, server: LiveServer, console: Console) -> tuple[Any, Any]:
    """A fresh context (empty sessionStorage) and page at 1280 px whose reports go to `console`."""
    context = browser.new_context(viewport={"width": WIDE, "height": 900}, base_url=server.url)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    console.watch(tab)
    return context, tab


@dataclass
class Tab:
    """A signed-in page and what it reported."""

    page: Any
    console: Console
    server: LiveServer


@pytest.fixture(scope="class")
def tab_for(chromium: Any, live_server: LiveServer) -> Iterator[Callable[..., Tab]]:
    """Open a signed-in page on a route, shared by the tests of a class (each page is loaded once); when the
    class is done, the pages must have reported no console error, exception or failed request."""
    opened: list[tuple[Any, Console]] = []

    def open_tab(route: str, key: str | None = None) -> Tab:
        from tests.dashboard.browser import sign_in  # noqa: PLC0415

        console = Console()
        context, tab = new_tab(chromium, live_server, console)
        opened.append((context, console))
        sign_in(tab, key or live_server.admin_key, route)
        return Tab(page=tab, console=console, server=live_server)

    yield open_tab
    problems = [error for context, console in opened for error in console.errors]
    for context, _ in opened:
        context.close()
    assert problems == [], "the page reported problems"


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(chromium: Any, live_server: LiveServer, console: Console) -> Iterator[Any]:
    """A fresh page of its own for one test; the test fails on any console error, exception or failed request."""
    context, tab = new_tab(chromium, live_server, console)
    yield tab
    context.close()
    assert console.errors == [], "the page reported problems"
