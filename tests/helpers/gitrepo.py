"""Build bare git repositories with commits, to serve as remotes in tests.

Synchronous and fast: commits are written with plumbing (a temporary index, ``commit-tree``,
``update-ref``) straight into the bare repository, no working tree involved. Usable by any
test suite: ``make_remote(tmp_path / "origin.git", {"README.md": "hi\\n"})``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["commit_files", "git", "git_environ", "make_remote", "set_head"]


def git_environ() -> dict[str, str]:
    """Return an environment for test-side git: no user or system config, fixed author."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Test Author",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test Author",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
    )
    return env


def git(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    check: bool = True,
) -> str:
    """Run git synchronously and return stdout (stripped of the final newline)."""
    full_env = git_environ()
    full_env.update(env or {})
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.rstrip("\n")


def commit_files(
    bare: Path,
    files: Mapping[str, str | None],
    message: str = "update",
    *,
    branch: str = "main",
    parents: Sequence[str] | None = None,
) -> str:
    """Commit ``files`` (path -> content; None deletes) on top of ``branch`` in a bare repo.

    Returns the new commit's sha. ``parents`` overrides the parent commits (default: the
    branch tip, if the branch exists).
    """
    ref = f"refs/heads/{branch}"
    tip = git("rev-parse", "--verify", "-q", ref, cwd=bare, check=False)
    if parents is None:
        parents = [tip] if tip else []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": f"{tmp}/index"}
        if parents:
            git("read-tree", parents[0], cwd=bare, env=env)
        for path, content in files.items():
            if content is None:
                git("update-index", "--force-remove", "--", path, cwd=bare, env=env)
                continue
            blob = git("hash-object", "-w", "--stdin", cwd=bare, stdin=content)
            git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", cwd=bare, env=env)
        tree = git("write-tree", cwd=bare, env=env)
    parent_args = [arg for p in parents for arg in ("-p", p)]
    sha = git("commit-tree", tree, *parent_args, "-m", message, cwd=bare)
    git("update-ref", ref, sha, cwd=bare)
    return sha


def set_head(bare: Path, branch: str) -> None:
    """Point the bare repository's HEAD (the default branch) at ``branch``."""
    git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=bare)


def make_remote(
    path: Path,
    files: Mapping[str, str] | None = None,
    *,
    branch: str = "main",
    message: str = "initial commit",
) -> Path:
    """Create a bare repository at ``path`` with one commit of ``files`` on ``branch``."""
    git("init", "--quiet", "--bare", "--initial-branch", branch, str(path))
    commit_files(path, files or {"README.md": "# test repo\n"}, message, branch=branch)
    return path
