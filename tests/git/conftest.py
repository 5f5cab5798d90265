"""Fixtures for the git layer: an auth with a runner-owned home, a bare remote, a workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from runner.git import GitAuth, RepoUrl, Workspace, validate_repo_url, workspace_path
from tests.helpers.gitrepo import make_remote

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def auth(tmp_path: Path) -> GitAuth:
    """Credentials-free auth allowing local remotes."""
    return GitAuth.create(tmp_path / "state", allow_local=True)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """A bare remote with one commit on main."""
    return make_remote(
        tmp_path / "remotes" / "origin.git",
        {"README.md": "# demo\n", "src/app.py": "print('hi')\n", ".gitignore": "*.log\n"},
    )


@pytest.fixture
def repo(bare: Path) -> RepoUrl:
    """The bare remote as a validated local URL."""
    return validate_repo_url(str(bare), allow_local=True)


@pytest.fixture
def workspace(tmp_path: Path, auth: GitAuth, repo: RepoUrl) -> Workspace:
    """Customer ``acme``'s workspace for ``repo`` (not cloned yet)."""
    return Workspace(workspace_path(tmp_path / "ws", "acme", repo), auth, timeout_s=30)
