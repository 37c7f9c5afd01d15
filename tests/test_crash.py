"""The crash test (issue 10) at a small size: `kill -9` of `csroi serve` during ingest loses nothing acknowledged.

Runs benchmarks/crash.py as a subprocess (20,000 events, 2 kills: one aimed at a just-committed batch, one at a
random moment) against the PostgreSQL server of CSROI_TEST_DATABASE_URL, in a database of its own; skipped on
SQLite.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import TEST_URL_ENV

ROOT = Path(__file__).resolve().parent.parent


def _table(stdout: str) -> dict[str, str]:
    """The script's result table as {label: value}."""
    rows = [line.strip("|").split("|") for line in stdout.splitlines() if line.startswith("| ")]
    return {label.strip(): value.strip() for label, value in rows}


def test_kill_9_during_ingest_loses_no_acknowledged_event() -> None:
    server = os.environ.get(TEST_URL_ENV)
    if not server or make_url(server).get_backend_name() != "postgresql":
        pytest.skip("the crash test needs PostgreSQL (set CSROI_TEST_DATABASE_URL)")
    argv = [sys.executable, str(ROOT / "benchmarks" / "crash.py"), "--pg", server, "--events", "20000", "--kills", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr[-5000:]
    table = _table(done.stdout)
    assert table["acknowledged events lost"] == "0"
    assert table["partial batches"] == "0"
    assert table["stored events nobody posted"] == "0"
    assert table["kill -9 of the server's process group"].startswith("2 ")
    assert table["events posted"] == "20,000 (20,000 acknowledged)"
