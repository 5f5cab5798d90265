"""The service is SIGKILLed during IMPLEMENT: its next life ends the old tool before resuming."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from runner.process import marked_processes
from tests.helpers.calc_repo import make_calc_remote, make_tool
from tests.helpers.gitrepo import git

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# Wraps the scripted calc agent: while ``hang`` exists next to it, it starts a detached
# (setsid) process that keeps appending to a file of the workspace, then waits forever.
WRAPPER = """
import os, pathlib, runpy, subprocess, sys, time
here = pathlib.Path(__file__).parent
if (here / "hang").exists():
    appender = subprocess.Popen(
        [sys.executable, "-c",
         "import time\\nwhile True:\\n open('stray.txt', 'a').write('x'); time.sleep(0.02)"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (here / "repo").write_text(os.getcwd())
    (here / "pids.tmp").write_text(f"{os.getpid()} {appender.pid}")
    os.replace(here / "pids.tmp", here / "pids")  # last, and whole: the test waits for it
    time.sleep(300)
runpy.run_path(str(here / "agent.py"), run_name="__main__")
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "zombie" not in status.lower()


def _kill_leftovers(root: Path) -> None:
    """KILL every process with a runner marker working under ``root``."""
    for pid in marked_processes(""):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(root)):
                os.kill(pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _poll(check: Callable[[], bool], within: float = 60) -> None:
    """Poll ``check`` until it holds; fail past ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)  # polling other processes' effects with a deadline


def _start_service(env: Mapping[str, str], url: str) -> subprocess.Popen[bytes]:
    """Start ``python -m runner serve`` and wait (with a deadline) until it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "serve"], env=dict(env),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip

    def answers() -> bool:
        assert process.poll() is None, "the service exited"
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        return False

    _poll(answers)
    return process


def test_sigkilled_service_ends_the_old_tool_before_the_resume(
    tmp_path: Path, database_url: str
) -> None:
    remote = make_calc_remote(tmp_path)
    make_tool(tmp_path)
    tool_dir = tmp_path / "tool"
    (tool_dir / "wrapper.py").write_text(WRAPPER)
    (tool_dir / "hang").write_text("")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEVTEAM_RUNNER_PORT": str(port),
        "WORKSPACE_DIR": str(tmp_path / "ws"),
        "DATABASE_URL": database_url,
        "TOOL_COMMAND": f"{sys.executable} {tool_dir / 'wrapper.py'}",
        "PYTHON_PATH": sys.executable,
        "TOOL_TIMEOUT_S": "120",
        "LOG_LEVEL": "warning",
    }
    first = _start_service(env, url)
    pids: list[int] = []
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            client.put("/customers/acme", json={"repoUrl": str(remote), "tool": "command"})
            prep = client.post("/prep", json={"repoUrl": str(remote), "taskId": "1.1.1"})
            assert prep.status_code == 200, prep.text
            branch = prep.json()["branch"]

            def implement() -> None:
                with contextlib.suppress(httpx.TransportError):  # killed under this request
                    client.post("/implement", json={"taskId": "1.1.1", "branch": branch})

            request = threading.Thread(target=implement, daemon=True)
            request.start()
            _poll(lambda: (tool_dir / "pids").exists())
            pids = [int(p) for p in (tool_dir / "pids").read_text().split()]
            stray = Path((tool_dir / "repo").read_text()) / "stray.txt"
            _poll(stray.exists)
            first.send_signal(signal.SIGKILL)
            first.wait()
            request.join(30)
        assert all(_alive(pid) for pid in pids)  # orphaned, still running
        (tool_dir / "hang").unlink()

        second = _start_service(env, url)
        try:
            # serving means start-up is over: the old tool and its detached child are dead
            assert not any(_alive(pid) for pid in pids)
            with httpx.Client(base_url=url, timeout=120) as client:
                resumed = client.post("/implement", json={"taskId": "1.1.1", "branch": branch})
            assert resumed.status_code == 200, resumed.text
            repo = stray.parent
            assert not stray.exists()  # the resumed stage cleaned it; nothing writes it again
            assert git("status", "--porcelain", cwd=repo) == ""
            changed = git("show", "--name-only", "--format=", "HEAD", cwd=repo).split()
            assert "stray.txt" not in changed
            assert "calc/ops.py" in changed
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    finally:
        _kill_leftovers(tmp_path)  # only if the test failed: leave nothing running
        if first.poll() is None:
            first.kill()
            first.wait()
