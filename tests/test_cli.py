"""The csroi command: keys, migrate, serve's first-run key, openapi, the health backtest."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app import cli
from app.customers import service as customers_service
from app.db import make_engine, make_sessionmaker
from app.health import service as health_service
from app.health.schemas import HealthModelIn
from app.interventions import service as interventions_service
from app.interventions.schemas import InterventionIn
from app.keys import service as keys_service
from app.models import HealthSnapshot
from tests.health.test_backtest import worked_book

runner = CliRunner()


def active_keys(url: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        count = keys_service.count_active_keys(session)
    engine.dispose()
    return count


def test_keys_create_prints_only_the_key_on_stdout(cli_db: str) -> None:
    assert runner.invoke(cli.cli, ["migrate"]).exit_code == 0
    result = runner.invoke(cli.cli, ["keys", "create", "--name", "crm", "--scope", "ingest", "--scope", "read"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("csroi_")
    assert len(result.stdout.strip().splitlines()) == 1
    assert "ingest, read" in result.stderr


def test_keys_list_and_revoke(cli_db: str) -> None:
    runner.invoke(cli.cli, ["migrate"])
    runner.invoke(cli.cli, ["keys", "create", "--name", "crm", "--scope", "read"])
    listing = runner.invoke(cli.cli, ["keys", "list"])
    assert "crm" in listing.stdout
    assert runner.invoke(cli.cli, ["keys", "revoke", "1"]).exit_code == 0
    assert active_keys(cli_db) == 0
    assert runner.invoke(cli.cli, ["keys", "revoke", "99"]).exit_code == 1


def test_unknown_scope_is_refused(cli_db: str) -> None:
    runner.invoke(cli.cli, ["migrate"])
    assert runner.invoke(cli.cli, ["keys", "create", "--name", "x", "--scope", "root"]).exit_code != 0


def test_serve_migrates_and_prints_one_admin_key_once(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[dict] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *a, **kw: started.append(kw))
    first = runner.invoke(cli.cli, ["serve", "--port", "8123"])
    assert first.exit_code == 0, first.output
    assert "csroi_" in first.stdout
    assert started[0]["port"] == 8123
    assert "API docs: http://127.0.0.1:8123/docs" in first.stdout
    assert active_keys(cli_db) == 1
    second = runner.invoke(cli.cli, ["serve"])
    assert "csroi_" not in second.stdout
    assert active_keys(cli_db) == 1


def test_serve_demo_on_a_database_with_customers_refuses(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[dict] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *a, **kw: started.append(kw))
    assert runner.invoke(cli.cli, ["migrate"]).exit_code == 0
    engine = make_engine(cli_db)
    with make_sessionmaker(engine)() as session:
        customers_service.ensure_customers(session, ["acme", "globex"])
        session.commit()
    engine.dispose()
    result = runner.invoke(cli.cli, ["serve", "--demo", "--port", "8124"])
    assert result.exit_code == 1
    assert started == []  # never served
    message = " ".join(result.stderr.split())
    assert "already has 2 customers" in message
    assert "empty database" in message
    assert "without --demo" in message
    assert active_keys(cli_db) == 0  # refused before creating the first key


def test_openapi_prints_the_document() -> None:
    result = runner.invoke(cli.cli, ["openapi"])
    assert json.loads(result.stdout)["info"]["title"] == "csroi"


def test_interventions_measure_stores_due_outcomes(cli_db: str) -> None:
    runner.invoke(cli.cli, ["migrate"])
    engine = make_engine(cli_db)
    with make_sessionmaker(engine)() as session:
        customers_service.ensure_customers(session, ["acme"])
        interventions_service.create_intervention(
            session,
            InterventionIn.model_validate(
                {
                    "id": "iv",
                    "customer": "acme",
                    "type": "qbr",
                    "framework": "social_proof",
                    "reason": "review",
                    "status": "in_progress",
                    "started_on": "2026-01-05",
                    "expected": {"metric": "arr", "change": 0, "unit": "absolute", "measure_after_days": 30},
                }
            ),
        )
        session.commit()
    engine.dispose()
    result = runner.invoke(cli.cli, ["interventions", "measure"])
    assert result.exit_code == 0, result.output
    assert "measured 1 intervention(s)" in result.stderr
    assert "measured 0" in runner.invoke(cli.cli, ["interventions", "measure"]).stderr


def test_health_snapshot_backfills_each_day_by_its_model_in_force(cli_db: str) -> None:
    """SPEC §10: a backfill of past days scores each by the version in force on it, unless one is asked for."""
    runner.invoke(cli.cli, ["migrate"])
    engine = make_engine(cli_db)
    with make_sessionmaker(engine)() as session:
        customers_service.ensure_customers(session, ["acme"])
        model = {"components": [{"name": "logins", "weight": 1, "kind": "login", "aggregate": "count",
                                 "window_days": 30, "bad": 0, "good": 10}], "effective_from": "2026-03-02"}  # fmt: skip
        health_service.put_health_model(session, HealthModelIn.model_validate(model), today=date(2026, 3, 2))
        session.commit()
    result = runner.invoke(cli.cli, ["health", "snapshot", "--date", "2026-03-01", "--until", "2026-03-03"])
    assert result.exit_code == 0, result.output
    assert "model version(s) 1, 2" in result.stderr
    asked = runner.invoke(cli.cli, ["health", "snapshot", "--date", "2026-03-01", "--model-version", "2"])
    assert asked.exit_code == 0, asked.output
    with make_sessionmaker(engine)() as session:
        stored = session.execute(select(HealthSnapshot.snapshot_date, HealthSnapshot.model_version)).all()
    engine.dispose()
    assert sorted(stored) == [(date(2026, 3, 1), 2), (date(2026, 3, 2), 2), (date(2026, 3, 3), 2)]
    unknown = runner.invoke(cli.cli, ["health", "snapshot", "--date", "2026-03-01", "--model-version", "9"])
    assert unknown.exit_code != 0
    assert "no health model version 9" in unknown.output


def test_health_backtest_prints_tables_or_csv(cli_db: str) -> None:
    runner.invoke(cli.cli, ["migrate"])
    engine = make_engine(cli_db)
    with make_sessionmaker(engine)() as session:
        worked_book(session)  # the backtest tests' hand-worked book: AUC 12.5 / 16
        session.commit()
    engine.dispose()
    dates = ["--start", "2025-03-03", "--end", "2025-03-10"]
    result = runner.invoke(cli.cli, ["health", "backtest", *dates], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "0.7812" in result.stdout
    assert "logins_per_seat" in result.stdout
    as_csv = runner.invoke(cli.cli, ["health", "backtest", *dates, "--csv"])
    assert as_csv.stdout.splitlines()[:2] == [
        "kind,group,pairs,churned,min_score,max_score,predicted,observed",
        "band,red,3,2,15.0,35.0,0.3,0.666667",
    ]
    backwards = runner.invoke(cli.cli, ["health", "backtest", "--start", "2025-03-10", "--end", "2025-03-03"])
    assert backwards.exit_code == 2
    assert "end is before start" in backwards.output
    yesterday = date.today() - timedelta(days=1)  # noqa: DTZ011 - a day whose 90 days are not over, whatever the zone
    recent = ["--start", (yesterday - timedelta(days=30)).isoformat(), "--end", yesterday.isoformat()]
    not_known = runner.invoke(cli.cli, ["health", "backtest", *recent])
    assert not_known.exit_code == 1
    assert "not known yet" in not_known.stderr


def test_serve_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    """`csroi serve --workers 2`, then `kill -9` of the parent only: the workers stop within seconds instead of
    serving on as orphans that hold the port (issue 10, defect 9)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "CSROI_LOG_LEVEL": "WARNING"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    argv = ["csroi", "serve", "--port", str(port), "--workers", "2"]
    code = f"import sys; from app.cli import main; sys.argv = {argv!r}; main()"
    parent = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _answers(port):
            time.sleep(0.2)
        assert _answers(port), "the server never answered"
        workers = _children(parent.pid)
        assert len(workers) >= 2, workers
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "orphan workers kept serving"
        assert not _answers(port)
    finally:
        for pid in _children(parent.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    """Processes whose command line marks them as multiprocessing children, started by `pid` (read from /proc
    before the parent dies: afterwards they are re-parented)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == pid and b"multiprocessing-fork" in command:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
