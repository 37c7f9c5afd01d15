"""No Docker engine runs here, so check what the Dockerfile runs: its files exist and its commands work."""

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import cli


@pytest.fixture(scope="module")
def dockerfile(repo_root: Path) -> str:
    return (repo_root / "Dockerfile").read_text()


def instruction(dockerfile: str, name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in dockerfile.splitlines() if line.startswith(name + " ")]


def test_slim_base_and_non_root_user(dockerfile: str) -> None:
    assert re.match(r"python:3\.1[1-9]-slim", instruction(dockerfile, "FROM")[0])
    assert instruction(dockerfile, "USER") == ["csroi"]


def test_every_copied_path_exists(dockerfile: str, repo_root: Path) -> None:
    for copy in instruction(dockerfile, "COPY"):
        for source in shlex.split(copy)[:-1]:
            assert (repo_root / source).exists(), source


def test_cmd_is_a_valid_csroi_serve_invocation(dockerfile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = json.loads(instruction(dockerfile, "CMD")[0])
    assert argv[:2] == ["csroi", "serve"]
    assert "0.0.0.0" in argv
    seen: list[dict] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *a, **kw: seen.append(kw))
    monkeypatch.setattr(cli.migrations, "upgrade", lambda url: None)
    monkeypatch.setattr(cli.keys_service, "count_active_keys", lambda session: 1)
    result = CliRunner().invoke(cli.cli, argv[1:])
    assert result.exit_code == 0, result.output
    assert (seen[0]["host"], seen[0]["port"]) == ("0.0.0.0", 8000)


def test_install_step_is_an_editable_install_of_the_project(dockerfile: str) -> None:
    # csroi locates migrations/ beside app/, which an editable install keeps (app/migrate.py).
    assert "pip install -e ." in instruction(dockerfile, "RUN")


def test_the_worker_it_documents_is_a_csroi_command(dockerfile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comment shows the API and the worker side by side; the worker command it gives starts the worker."""
    [line] = [line for line in dockerfile.splitlines() if line.startswith("#") and "csroi worker" in line]
    argv = shlex.split(line.split("IMAGE", 1)[1].split("#", 1)[0])
    assert argv == ["csroi", "worker"]
    started: list[object] = []
    monkeypatch.setattr(cli.worker_process, "run", lambda process, stop: started.append(process))
    # Keep the test process's own logging and Ctrl-C handling as they are.
    monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    result = CliRunner().invoke(cli.cli, argv[1:])
    assert result.exit_code == 0, result.output
    assert len(started) == 1
