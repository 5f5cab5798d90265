"""Fixtures for the tool adapters: a real git repo with a first commit."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
import trio

if TYPE_CHECKING:
    from pathlib import Path

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}


async def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stdout (raises on failure)."""
    result = await trio.run_process(
        ["git", *args], cwd=repo, env=_GIT_ENV, capture_stdout=True, capture_stderr=True
    )
    return result.stdout.decode()


async def make_repo(root: Path, files: dict[str, str]) -> Path:
    """Create a git repo at ``root`` with ``files`` committed on ``main``."""
    await trio.Path(root).mkdir(parents=True, exist_ok=True)
    await git(root, "init", "-q", "-b", "main")
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    await git(root, "add", "-A")
    await git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A runner-owned HOME for the tool process."""
    path = tmp_path / "home"
    path.mkdir()
    return path


async def wait_gone(pid: int, *, within: float = 5.0) -> bool:
    """Poll until ``pid`` no longer runs (gone or a zombie); False if it outlives ``within``.

    A KILLed process on a busy machine may still show as running for a moment: the signal
    is delivered, but the process has not been scheduled to exit yet.
    """
    with trio.move_on_after(within):
        while True:
            try:
                os.kill(pid, 0)
                status = await trio.Path(f"/proc/{pid}/status").read_text()
            except (ProcessLookupError, FileNotFoundError):
                return True
            if "zombie" in status.lower():
                return True
            await trio.sleep(0.01)
    return False
