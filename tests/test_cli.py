from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from runner.cli import main
from runner.logging import configure_logging
from runner.redact import Redactor
from runner.store import open_postgres_store
from tests.helpers.calc_repo import TASKS, make_calc_remote, make_tool
from tests.helpers.gitrepo import git
from tests.helpers.postgres import PASSWORD
from tests.store.factories import customer

if TYPE_CHECKING:
    import pytest

    from tests.helpers.postgres import PostgresServer


def test_bad_setting_exits_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAX_PARALLEL_JOBS", "many")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "MAX_PARALLEL_JOBS" in err


def test_tasks_check_prints_tree_next_task_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "tasks.md"
    good.write_text(TASKS)
    assert main(["tasks", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "1.1.1" in out
    assert "Add sub function to calc/ops.py" in out
    broken = tmp_path / "cycle.md"
    broken.write_text("1.1 G\n1.1.1 A (Dependencies: 1.1.2)\n1.1.2 B (Dependencies: 1.1.1)\n")
    assert main(["tasks", "check", str(broken)]) == 1
    assert "line" in capsys.readouterr().out


def test_tasks_check_missing_file_is_exit_1(tmp_path: Path) -> None:
    assert main(["tasks", "check", str(tmp_path / "nope.md")]) == 1


def test_logs_are_json_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    configure_logging("info", "json", Redactor(("hunter2-secret",)))
    try:
        structlog.get_logger("t").info("cloning", url="https://u:hunter2-secret@example.com/r")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["event"] == "cloning"
        assert "hunter2-secret" not in line
    finally:
        structlog.reset_defaults()


def test_run_command_drives_the_pipeline_from_the_terminal(
    tmp_path: Path, database_url: str
) -> None:
    remote = make_calc_remote(tmp_path)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "WORKSPACE_DIR": str(tmp_path / "ws"),
        "DATABASE_URL": database_url,
        "TOOL_COMMAND": " ".join(make_tool(tmp_path)),
        "PYTHON_PATH": sys.executable,
        "LOG_LEVEL": "warning",
    }
    result = subprocess.run(
        [sys.executable, "-m", "runner", "run", str(remote), "--tool", "command",
         "--stop-after-task", "1.1.1"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "IMPLEMENTING" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("PAUSED")
    assert "ghp_" not in result.stdout
    assert git("log", "-1", "--format=%s", "main", cwd=remote) == "initial commit"


def test_serve_starts_answers_and_stops_on_sigterm(tmp_path: Path, database_url: str) -> None:
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEVTEAM_RUNNER_PORT": str(port),
        "WORKSPACE_DIR": str(tmp_path / "ws"),
        "DATABASE_URL": database_url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "serve"], env=env, stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert json.loads(r.read()) == {"status": "ok"}
                    break
            except OSError:
                assert time.monotonic() < deadline, "the service did not start"
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                time.sleep(0.05)  # polling a child process's port with a deadline
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        logs = process.stderr.read().decode() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    assert '"event": "serving"' in logs
    assert '"event": "shutting_down"' in logs


def test_serve_that_cannot_open_its_database_says_why_without_the_password(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.url().replace(PASSWORD, "wrong-password-5150")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEVTEAM_RUNNER_PORT": "0",
        "WORKSPACE_DIR": str(tmp_path / "ws"),
        "DATABASE_URL": url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "runner", "serve"], env=env, capture_output=True, text=True,
        timeout=60, check=False, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot start: database error" in result.stderr
    assert "password authentication failed" in result.stderr
    assert "wrong-password-5150" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_run_command_names_the_instance_that_runs_the_customer(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database()
    remote = make_calc_remote(tmp_path)

    async def held_elsewhere() -> None:
        async with open_postgres_store(url) as store:
            await store.customers.upsert(customer("cli", str(remote)))
            await store.leases.register_instance("ghost", "http://10.0.0.9:8081", "2026-01-01Z")
            assert await store.leases.claim("ghost", 600.0, customer_id="cli")

    trio.run(held_elsewhere)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATABASE_URL": url,
           "WORKSPACE_DIR": str(tmp_path / "ws"), "LOG_LEVEL": "error"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "runner", "run", str(remote), "--tool", "command"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert result.returncode == 1
    assert "run by instance ghost at http://10.0.0.9:8081" in result.stderr
    assert "Traceback" not in result.stderr
