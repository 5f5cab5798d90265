"""Dependency health: git, the coding tool (probed in the background), filesystem, store.

What breaks writes counts: free space below ``MIN_FREE_MB`` on the workspace's or the
database's volume is unhealthy (naming the volume), and the store probe is a write.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import attrs
import structlog
import trio

from runner.config import Settings
from runner.errors import InsufficientStorageError
from runner.process import run_process
from runner.store import Store

__all__ = ["HealthProbe", "HealthReport"]

log = structlog.get_logger(__name__)

AVAILABLE = "available"
UNAVAILABLE = "unavailable"
_TOOL_PROBE_INTERVAL_S = 300.0
_TOOL_PROBE_TIMEOUT_S = 60.0
_STORE_CHECK_S = 0.5
_MB = 1024 * 1024

FreeBytes = Callable[[Path], int]
"""Returns the bytes free to unprivileged writers on the volume holding a path."""


def free_bytes(path: Path) -> int:
    """Return the bytes an unprivileged writer can still use on ``path``'s volume."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


@attrs.frozen
class HealthReport:
    """Overall status, HTTP status code and per-dependency state."""

    status: str
    http_status: int
    dependencies: dict[str, str]


@attrs.define(eq=False)
class HealthProbe:
    """Checks dependencies; the coding tool is probed in the background and cached."""

    settings: Settings
    store: Store
    tool_state: str = "unknown"
    git_state: str = "unknown"
    probed: trio.Event = attrs.field(factory=trio.Event)
    free_bytes: FreeBytes = free_bytes
    _store_checked: tuple[float, str] | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Probe git and the tool now and then every few minutes, until cancelled."""
        task_status.started()
        while True:
            self.git_state = await self._probe([self._git(), "--version"])
            self.tool_state = await self._probe([self.settings.aider_path, "--version"])
            self.probed.set()
            log.info("health_probed", git=self.git_state, tool=self.tool_state)
            await trio.sleep(_TOOL_PROBE_INTERVAL_S)

    def _git(self) -> str:
        return shutil.which("git") or "git"

    async def _probe(self, argv: list[str]) -> str:
        home = self.settings.workspace_dir.parent / ".probe-home"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "LC_ALL": "C"}
        try:
            await trio.Path(home).mkdir(parents=True, exist_ok=True)
            with trio.fail_after(_TOOL_PROBE_TIMEOUT_S):
                result = await run_process(argv, env=env, output_cap=4096)
        except (OSError, trio.TooSlowError):
            return UNAVAILABLE
        return AVAILABLE if result.ok else UNAVAILABLE

    async def _store_state(self) -> str:
        """Ask the store at most every ``_STORE_CHECK_S``; one answer serves a burst of probes."""
        now = trio.current_time()
        if self._store_checked is not None and now - self._store_checked[0] < _STORE_CHECK_S:
            return self._store_checked[1]
        try:
            with trio.fail_after(2):
                await self.store.check()
            state = AVAILABLE
        except InsufficientStorageError:
            state = "full: a write failed for lack of space"
        except Exception:  # noqa: BLE001 - any store failure means unhealthy, reported not raised
            state = "unhealthy"
        self._store_checked = (now, state)
        return state

    def _filesystem(self) -> str:
        directory = self.settings.workspace_dir
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            return "not writable"
        return "writable" if os.access(directory, os.W_OK | os.X_OK) else "not writable"

    def _volume(self, path: Path) -> str:
        """``"<n> MB free"``, or ``"low: ..."`` below ``MIN_FREE_MB`` (unhealthy)."""
        while not path.exists() and path != path.parent:  # the store may not have made it yet
            path = path.parent
        try:
            free_mb = self.free_bytes(path) // _MB
        except OSError as exc:
            return f"unknown: {exc.strerror or exc}"
        if free_mb < self.settings.min_free_mb:
            return f"low: {free_mb} MB free (MIN_FREE_MB is {self.settings.min_free_mb})"
        return f"{free_mb} MB free"

    def _database_volume(self) -> str:
        """The SQLite file's volume; a PostgreSQL server's disk is not ours to measure."""
        if self.settings.postgres_url is not None:
            return "remote: postgresql"
        return self._volume(self.settings.database_path.absolute().parent)

    async def report(self) -> HealthReport:
        """Return the current health without waiting on the tool probe."""
        git = (
            self.git_state
            if self.probed.is_set()
            else (AVAILABLE if shutil.which("git") else UNAVAILABLE)
        )
        store = await self._store_state()
        deps = {
            "git": git,
            "aider": self.tool_state,
            "filesystem": self._filesystem(),
            "store": store,
            "workspaceVolume": self._volume(self.settings.workspace_dir.absolute()),
            "databaseVolume": self._database_volume(),
        }
        space_ok = not any(deps[v].startswith("low") for v in ("workspaceVolume", "databaseVolume"))
        core_ok = (
            git == AVAILABLE
            and deps["filesystem"] == "writable"
            and store == AVAILABLE
            and space_ok
        )
        if not core_ok:
            return HealthReport("unhealthy", 503, deps)
        if self.tool_state != AVAILABLE:
            return HealthReport("degraded", 200, deps)
        return HealthReport("healthy", 200, deps)
