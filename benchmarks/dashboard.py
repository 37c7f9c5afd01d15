"""Benchmark: what each dashboard page costs in the browser against what its API calls cost on the server.

    .venv/bin/python benchmarks/dashboard.py --customers 500          # SQLite in a temporary folder
    .venv/bin/python benchmarks/dashboard.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Loads the demo book (`csroi demo`'s, through the services) into a fresh database, starts `csroi serve` on a free
port, and opens every page of /app in Debian's Chromium (Playwright), `--runs` times each after one warm-up. For
each page it prints, from the browser's Resource Timing of one run: the API calls the page made, the page's time
to ready over its slowest call (how close the page is to its slowest answer: 1.0 is the floor), and the sum of the
calls' times over the page's time (how much the calls overlapped). It also checks that the page rendered without
an error and that one figure on it equals the API's answer (exit 1 otherwise). A measurement, not a test.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.demo import load_demo
from app.keys import service as keys_service
from app.keys.service import Scope

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["scorecard", "retention", "health", "customer", "roi", "interventions"]
# Resource Timing of the API calls since the page's navigation, in milliseconds.
CALLS_JS = """() => performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/'))
  .map(e => ({ url: e.name, start: e.startTime, end: e.responseEnd }))"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database(args: argparse.Namespace, folder: str) -> tuple[str, str | None]:
    """A fresh database URL, and the name of the PostgreSQL database to drop afterwards."""
    if not args.pg:
        return f"sqlite:///{folder}/dashboard.db", None
    name = f"csroi_bench_dashboard_{uuid.uuid4().hex[:8]}"
    with create_engine(args.pg, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(args.pg).set(database=name).render_as_string(hide_password=False), name


def load(url: str, customers: int) -> str:
    """Migrate, load the demo book, and return a new admin key."""
    migrate.upgrade(url)
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    started = time.perf_counter()
    load_demo(maker, customers=customers, min_churns=Settings().churn_min_churns)
    print(f"demo book of {customers} customers loaded in {time.perf_counter() - started:.0f} s")
    with maker() as session:
        key = keys_service.create_key(session, name="benchmark", scopes=[Scope.admin]).secret
        session.commit()
    engine.dispose()
    return key


def route(page: str, api: httpx.Client) -> str:
    if page != "customer":
        return page
    saved = api.get("/v1/interventions", params={"framework": "loss_aversion", "limit": 1}).json()["items"][0]
    return f"customers/{saved['customer']}"


def measure(browser: Any, base: str, key: str, hash_route: str) -> tuple[float, list[dict[str, float]], Any]:
    """Open the page signed in; its time from navigation to ready, its API calls, and the page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
    page = context.new_page()
    page.goto("/app/")
    page.evaluate("key => sessionStorage.setItem('csroi.apiKey', key)", key)
    page.goto(f"/app/#/{hash_route}")
    page.reload()  # a cold start of the page with the key already in the session: only this page's calls
    page.wait_for_selector("main[data-state=ready], main[data-state=error]", timeout=600_000)
    assert page.get_attribute("main", "data-state") == "ready", page.inner_text("main")
    ready = page.evaluate("() => performance.now()")
    calls = [c for c in page.evaluate(CALLS_JS) if not c["url"].endswith("/v1/me")]
    return ready, calls, (context, page)


def month_window(months: int = 12) -> dict[str, str]:
    """The pages' default range: `months` whole months ending with the last month that has ended (UTC)."""
    first_of_this = datetime.now(UTC).date().replace(day=1)
    last = (first_of_this - timedelta(days=1)).replace(day=1)
    index = last.year * 12 + last.month - 1 - (months - 1)
    return {
        "start": date(index // 12, index % 12 + 1, 1).isoformat(),
        "end": (first_of_this - timedelta(days=1)).isoformat(),
    }


def expected(name: str, hash_route: str, api: httpx.Client) -> tuple[str, float | None]:
    """The metric of one figure the page shows first, and its value as the API answers it."""
    window = month_window()
    month = window["end"][:7]
    if name == "scorecard":
        card = api.get(f"/v1/scorecards/{month}").json()
        return "nrr", next(e["value"] for e in card["quadrants"]["financial"] if e["metric"] == "nrr")
    if name == "retention":
        return "range_nrr", api.get("/v1/metrics/retention", params=window).json()["rows"][0]["nrr"]
    if name == "health":
        rows = api.get("/v1/metrics/health", params={**window, "interval": "month"}).json()["rows"]
        return "revenue_at_risk", rows[-1]["revenue_at_risk"]
    if name == "customer":
        return "arr", api.get(f"/v1/{hash_route}").json()["arr"]
    if name == "roi":
        return "roi_incremental", api.get("/v1/metrics/roi", params=window).json()["rows"][0]["roi_incremental"]
    return "cost", api.get("/v1/interventions", params={"limit": 50}).json()["items"][0]["cost"]


def check(page: Any, name: str, hash_route: str, api: httpx.Client) -> bool:
    """The first figure of the metric `expected` names shows the API's value; says so when it does not."""
    metric, value = expected(name, hash_route, api)
    shown = page.locator(f".figure[data-metric='{metric}']").first.get_attribute("data-value")
    same = (float(shown) if shown else None) == value
    if not same:
        print(f"{name}: the page shows {metric} = {shown!r}, the API answers {value!r}")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", help="a PostgreSQL server URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, dropped = database(args, folder)
        key = load(url, args.customers)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "CSROI_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        command = [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--no-migrate",
        ]
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            return run(args, base, key)
        finally:
            server.terminate()
            server.wait(timeout=30)
            if dropped:
                with create_engine(args.pg, isolation_level="AUTOCOMMIT").connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)'))


def run(args: argparse.Namespace, base: str, key: str) -> int:
    failures = 0
    kind = "PostgreSQL" if args.pg else "SQLite"
    print(f"{kind}, {args.customers} customers, median of {args.runs} runs after a warm-up\n")
    print(f"{'page':<14} {'API calls':>9} {'ready / slowest call':>21} {'sum of calls / ready':>21}   (ready, slowest)")
    with (
        sync_playwright() as playwright,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300) as api,
    ):
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        for name in PAGES:
            hash_route = route(name, api)
            rows = []
            for run_index in range(args.runs + 1):
                ready, calls, (context, page) = measure(browser, base, key, hash_route)
                if run_index == 0:
                    failures += not check(page, name, hash_route, api)
                context.close()
                if run_index:
                    slowest = max(c["end"] - c["start"] for c in calls)
                    rows.append((ready, slowest, sum(c["end"] - c["start"] for c in calls), len(calls)))
            ready, slowest, total, count = (statistics.median(column) for column in zip(*rows, strict=True))
            print(f"{name:<14} {count:>9.0f} {ready / slowest:>21.2f} {total / ready:>21.2f}"
                  f"   ({ready:,.0f} ms, {slowest:,.0f} ms)")  # fmt: skip
        browser.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
