"""Benchmark helpers: ``devteam-runner serve`` as a child process, HTTP calls, a task list."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator


def memory_kib(pid: int) -> dict[str, int]:
    """Return ``VmRSS`` and ``VmHWM`` (peak RSS) of ``pid`` in KiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = int(value.split()[0])
    return fields


def cpu_seconds(pid: int) -> float:
    """Return the CPU time of ``pid`` and of its reaped children (user + system), from /proc."""
    # the fields after the parenthesised command name; utime is field 14 of /proc/<pid>/stat
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(tick) for tick in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def wait_until_up(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    """Poll ``url`` until it answers (30 s at most, and only while ``process`` lives)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{name} did not start") from None
            time.sleep(0.05)


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(extra_env: dict[str, str] | None = None, log_path: Path | None = None) -> Iterator[str]:
    """Run the service in a child process; yield its base URL.

    Its log (stderr) goes to ``log_path`` when given, else to this process's stderr.
    """
    with served_process(extra_env, log_path) as (url, _process):
        yield url


@contextmanager
def served_process(
    extra_env: dict[str, str] | None = None, log_path: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like :func:`served`, and also yield the service's process (for its pid)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        env = {
            **os.environ,
            "DEVTEAM_RUNNER_PORT": str(port),
            "DEVTEAM_RUNNER_BASE_URL": f"http://127.0.0.1:{port}",
            "WORKSPACE_DIR": str(Path(tmp) / "workspace"),
            "DATABASE_URL": f"sqlite:///{tmp}/runner.db",
            "LOG_LEVEL": "warning",
            **(extra_env or {}),
        }
        stderr = stack.enter_context(log_path.open("ab")) if log_path is not None else None
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/healthz", process, "the service")
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=15)


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def task_list(count: int, file: str) -> str:
    """A plain-line task list with atomic tasks ``1.1.1`` .. ``1.1.<count>`` editing ``file``."""
    lines = ["# Tasks", "", "Phase 1 — Bench (Dependencies: none)", ""]
    lines.append("1.1 Rounds (Dependencies: none)")
    lines += [f"1.1.{n} Change round {n} in [{file}]({file})." for n in range(1, count + 1)]
    return "\n".join(lines) + "\n"


def http_client(url: str, timeout_s: float = 600.0) -> httpx.AsyncClient:
    """An HTTP client for the service at ``url`` (loopback; no proxies from the environment)."""
    return httpx.AsyncClient(base_url=url, timeout=timeout_s, trust_env=False)


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], ok: tuple[int, ...] = (200,)
) -> dict[str, Any]:
    """POST ``body`` as JSON; return the decoded response if its status is in ``ok``, else raise."""
    response = await client.post(path, json=body)
    if response.status_code not in ok:
        raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text[:2000]}")
    decoded: dict[str, Any] = response.json()
    return decoded


async def timed_post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], ok: tuple[int, ...] = (200,)
) -> tuple[float, dict[str, Any]]:
    """Like :func:`post`; also return the request's wall time in seconds."""
    started = time.perf_counter()
    decoded = await post(client, path, body, ok)
    return time.perf_counter() - started, decoded
