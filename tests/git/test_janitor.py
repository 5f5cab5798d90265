from __future__ import annotations

import os
from typing import TYPE_CHECKING

import trio

from runner.git import LAST_USED_MARKER, RepoUrl, Workspace, remove_idle_workspaces

if TYPE_CHECKING:
    from pathlib import Path

HOUR = 3600.0


def make_workspace_dir(root: Path, customer: str, name: str, last_used: float) -> Path:
    path = root / customer / name
    (path / ".git").mkdir(parents=True)
    marker = path / ".git" / LAST_USED_MARKER
    marker.touch()
    os.utime(marker, (last_used, last_used))
    return path


def test_janitor_removes_only_idle_unused_workspaces(tmp_path: Path) -> None:
    now = 1_000_000.0
    old = make_workspace_dir(tmp_path, "acme", "repo-aaa", now - 25 * HOUR)
    fresh = make_workspace_dir(tmp_path, "acme", "repo-bbb", now - 1 * HOUR)
    busy = make_workspace_dir(tmp_path, "beta", "repo-ccc", now - 48 * HOUR)
    state = tmp_path / ".runner" / "home"
    state.mkdir(parents=True)
    os.utime(tmp_path / ".runner", (0, 0))
    removed = remove_idle_workspaces(tmp_path, max_age_s=24 * HOUR, in_use={busy}, now=now)
    assert removed == [old]
    assert not old.exists()
    assert fresh.exists()
    assert busy.exists()
    assert state.exists()


def test_janitor_falls_back_to_directory_mtime_and_removes_stale_partials(tmp_path: Path) -> None:
    now = 1_000_000.0
    unmarked = tmp_path / "acme" / "repo-ddd"
    unmarked.mkdir(parents=True)
    os.utime(unmarked, (now - 30 * HOUR, now - 30 * HOUR))
    partial = tmp_path / "acme" / ".repo-eee.partial-1234"
    partial.mkdir()
    os.utime(partial, (now - 30 * HOUR, now - 30 * HOUR))
    young_partial = tmp_path / "acme" / ".repo-fff.partial-5678"
    young_partial.mkdir()
    os.utime(young_partial, (now, now))
    removed = remove_idle_workspaces(tmp_path, max_age_s=24 * HOUR, in_use=(), now=now)
    assert sorted(removed) == sorted([unmarked, partial])
    assert young_partial.exists()


def test_janitor_on_missing_root_is_a_no_op(tmp_path: Path) -> None:
    assert remove_idle_workspaces(tmp_path / "none", max_age_s=1, in_use=(), now=0) == []


async def test_workspace_use_refreshes_marker(
    workspace: Workspace, repo: RepoUrl, tmp_path: Path
) -> None:
    with trio.fail_after(30):
        await workspace.ensure(repo)
    marker = workspace.git_dir / LAST_USED_MARKER
    os.utime(marker, (0, 0))
    assert workspace.last_used() == 0
    workspace.touch()
    used = workspace.last_used()
    assert used is not None
    assert used > 0
    assert remove_idle_workspaces(tmp_path / "ws", max_age_s=HOUR, in_use=(), now=used) == []
