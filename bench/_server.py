"""Start ``devteam-runner serve`` as a child process on a free port, for benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run the service in a child process; yield its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DEVTEAM_RUNNER_PORT": str(port),
            "WORKSPACE_DIR": str(Path(tmp) / "workspace"),
            "DATABASE_URL": f"sqlite:///{tmp}/runner.db",
            "LOG_LEVEL": "warning",
            **(extra_env or {}),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "serve"], env=env, stdout=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"{url}/healthz", timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the service did not start") from None
                    time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)
