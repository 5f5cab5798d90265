"""Remove workspaces nobody has used for a while (``CLEANUP_AGE_HOURS``).

Blocking (directory walks and deletes): call it through ``trio.to_thread.run_sync``.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import structlog

from runner.git.worktree import LAST_USED_MARKER

if TYPE_CHECKING:
    from collections.abc import Container
    from pathlib import Path

__all__ = ["remove_idle_workspaces"]

log = structlog.get_logger(__name__)


def _last_used(workspace: Path) -> float:
    """Return the last-use marker's mtime, else the directory's own mtime."""
    try:
        return (workspace / ".git" / LAST_USED_MARKER).stat().st_mtime
    except FileNotFoundError:
        return workspace.stat().st_mtime


def remove_idle_workspaces(
    root: Path, *, max_age_s: float, in_use: Container[Path], now: float
) -> list[Path]:
    """Delete workspaces under ``root/<customerId>/`` idle for longer than ``max_age_s``.

    Hidden entries (the runner's own ``.runner`` state, clones in progress) are skipped,
    except abandoned partial clones older than ``max_age_s``. A path in ``in_use`` is never
    removed.

    Args:
        root: ``WORKSPACE_DIR``.
        max_age_s: Idle time after which a workspace goes.
        in_use: Workspace paths currently held by an actor (compared as given and resolved).
        now: The current time, epoch seconds (injected so tests can pin it).

    Returns:
        The removed workspace paths.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for customer in sorted(root.iterdir()):
        if customer.name.startswith(".") or not customer.is_dir() or customer.is_symlink():
            continue
        for workspace in sorted(customer.iterdir()):
            if not workspace.is_dir() or workspace.is_symlink():
                continue
            if workspace.name.startswith(".") and ".partial-" not in workspace.name:
                continue
            if workspace in in_use or workspace.resolve() in in_use:
                continue
            try:
                idle = now - _last_used(workspace)
            except FileNotFoundError:  # removed meanwhile
                continue
            if idle > max_age_s:
                shutil.rmtree(workspace, ignore_errors=True)
                log.info("workspace_removed", path=str(workspace), idle_s=round(idle))
                removed.append(workspace)
    return removed
