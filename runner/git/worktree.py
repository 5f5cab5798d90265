"""A git working tree and the local git commands the stages run on it.

Every command runs as a child process (cancellable, see :mod:`runner.git.remote`) pinned to the
tree with ``GIT_DIR``/``GIT_WORK_TREE`` so that a missing ``.git`` can never make git act on an
enclosing repository. Refs are read from ``.git`` directly when that is cheaper than a process.
:class:`runner.git.Workspace` adds what PREP and COMPLETE do: clone, fetch, repair, branches,
merge and push.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import trio

from runner.errors import GitError
from runner.git import remote
from runner.git.branch import check_revision
from runner.git.credentials import GitAuth
from runner.git.gitdir import lookup_refs, packed_refs_size, read_small
from runner.git.secrets import secret_lines

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runner.process import ProcessResult
    from runner.redact import Redactor

__all__ = ["LAST_USED_MARKER", "WorkTree"]

LAST_USED_MARKER = "devteam-last-used"
"""File under ``.git/`` whose mtime records the workspace's last use (read by the janitor)."""

_BIG_OUTPUT = 32 * 1024 * 1024
_DIFF_CAP = 8 * 1024 * 1024
_INLINE_PACKED_REFS = 64 * 1024
"""Up to this size ``packed-refs`` is read on the event loop (see ``WorkTree._lookup``)."""


@attrs.define
class WorkTree:
    """A git working tree at ``path``, with git run under ``auth``'s environment."""

    path: Path
    auth: GitAuth

    @property
    def git_dir(self) -> Path:
        """The ``.git`` directory."""
        return self.path / ".git"

    # -- running git ------------------------------------------------------------------------

    async def _run(
        self, *args: str, stdin: bytes | None = None, cap: int = 64 * 1024
    ) -> ProcessResult:
        return await remote.run_git(args, self.auth, cwd=self.path, stdin=stdin, output_cap=cap)

    async def _ok(self, *args: str, stdin: bytes | None = None, cap: int = 64 * 1024) -> str:
        """Run a local git command and return its stdout; raise ``GitError`` on failure."""
        result = await self._run(*args, stdin=stdin, cap=cap)
        if not result.ok:
            raise remote.classify_failure(result, self.auth, f"git {args[0]}")
        if result.truncated:
            raise GitError(f"git {args[0]} produced more output than the runner accepts")
        return result.stdout

    async def _refs(self, *refs: str) -> dict[str, str]:
        """Return ``{refname: sha}`` for those of ``refs`` (full names) that exist."""
        known = await self._lookup(refs)
        if known is not None:
            return known
        out = await self._ok("for-each-ref", "--format=%(refname) %(objectname)", *refs)
        pairs = (line.split(" ", 1) for line in out.splitlines() if " " in line)
        return {ref: sha for ref, sha in pairs if ref in refs}

    async def _lookup(self, refs: Sequence[str]) -> dict[str, str] | None:
        """:func:`lookup_refs`, on the event loop while ``packed-refs`` is small.

        A few ref files and a small ``packed-refs`` take tens of microseconds to read, less
        than a round trip to a worker thread; a big ``packed-refs`` is read in a worker thread.
        """
        if packed_refs_size(self.git_dir) > _INLINE_PACKED_REFS:
            return await trio.to_thread.run_sync(lookup_refs, self.git_dir, refs)
        await trio.lowlevel.checkpoint()
        return lookup_refs(self.git_dir, refs)

    async def current_branch(self) -> str | None:
        """Return the checked-out branch, or None on a detached HEAD."""
        head = read_small(self.git_dir / "HEAD")
        if head is not None and head.startswith("ref: refs/heads/"):
            return head.removeprefix("ref: refs/heads/").strip() or None
        if head is not None and head.startswith("ref:"):
            return None  # a symbolic ref outside refs/heads: not a branch
        result = await self._run("symbolic-ref", "-q", "--short", "HEAD")
        return result.stdout.strip() or None if result.ok else None

    async def head_sha(self) -> str:
        """Return the sha of ``HEAD`` (read from ``.git`` when it can be, else from git)."""
        branch = await self.current_branch()
        if branch is not None:
            ref = f"refs/heads/{branch}"
            known = await self._refs(ref)
            if ref in known:
                return known[ref]
        return (await self._ok("rev-parse", "--verify", "HEAD^{commit}")).strip()

    async def ref_sha(self, ref: str) -> str | None:
        """Return the commit ``ref`` (a full ref name, or ``HEAD`` on a branch) points at, or
        None if it does not exist (or ``HEAD`` is detached)."""
        if ref == "HEAD":
            branch = await self.current_branch()
            if branch is None:
                return None
            ref = f"refs/heads/{branch}"
        return (await self._refs(ref)).get(ref)

    # -- content ----------------------------------------------------------------------------

    async def read_file(self, ref: str, path: str, *, limit: int = _BIG_OUTPUT) -> str | None:
        """Return the text of ``path`` at ``ref``, or None if either does not exist.

        Raises:
            GitError: ``file_too_large`` when the file has more than ``limit`` bytes.
        """
        spec = f"{check_revision(ref)}:{path.lstrip('/')}"
        result = await self._run("cat-file", "blob", "--end-of-options", spec, cap=limit)
        if not result.ok:
            return None
        if result.truncated:
            raise GitError(f"{path} is larger than {limit} bytes", code="file_too_large")
        return result.stdout

    async def commit_all(self, message: str, redactor: Redactor) -> str | None:
        """Stage every change and commit it; return the new sha, or None if nothing changed.

        Raises:
            GitError: ``secret_in_diff`` when an added line holds a secret (see
                :meth:`Redactor.leaks`); nothing is committed and the change is unstaged.
        """
        await self._ok("add", "--all")
        # the staged diff both says whether anything changed (every change, even a mode or an
        # empty new file, has a header) and holds the added lines to search for secrets
        args = ("diff", "--cached", "-U0", "--no-color", "--no-ext-diff", "--no-textconv")
        staged = await self._ok(*args, "--no-renames", cap=_BIG_OUTPUT)
        if not staged:
            return None
        await self._refuse_secrets(staged, redactor)
        await self._ok("commit", "-q", "--no-verify", "--file=-", stdin=message.encode())
        return await self.head_sha()

    async def _refuse_secrets(self, diff: str, redactor: Redactor) -> None:
        """Unstage and refuse ``diff`` (the staged change) if an added line holds a secret."""
        found = await trio.to_thread.run_sync(secret_lines, diff, redactor.leaks)
        if not found:
            return
        await self._ok("reset", "-q")
        where = ", ".join(f"{path}:{line}" for path, line in found[:10])
        raise GitError(
            f"the change holds {len(found)} secret(s) (a token or a configured key); "
            f"not committed: {where}",
            code="secret_in_diff",
            details=[{"file": path, "line": line} for path, line in found],
        )

    async def diff(self, base: str, head: str = "HEAD") -> str:
        """Return the unified diff of ``head`` against its merge base with ``base``."""
        args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--end-of-options"]
        result = await self._run(
            *args, f"{check_revision(base)}...{check_revision(head)}", cap=_DIFF_CAP
        )
        if not result.ok:
            raise remote.classify_failure(result, self.auth, "git diff")
        return result.stdout

    async def changed_files(self, base: str, head: str = "HEAD") -> list[str]:
        """Return the paths ``head`` changed since its merge base with ``base`` (sorted)."""
        spec = f"{check_revision(base)}...{check_revision(head)}"
        out = await self._ok(
            "diff", "--name-only", "-z", "--no-renames", "--end-of-options", spec, cap=_BIG_OUTPUT
        )
        return sorted(p for p in out.split("\0") if p)

    async def numstat(self, base: str, head: str = "HEAD") -> tuple[int, int]:
        """Return ``(insertions, deletions)`` of ``head`` since its merge base with ``base``."""
        spec = f"{check_revision(base)}...{check_revision(head)}"
        out = await self._ok(
            "diff", "--numstat", "--no-renames", "--end-of-options", spec, cap=_BIG_OUTPUT
        )
        added = deleted = 0
        for line in out.splitlines():
            plus, minus, _path = line.split("\t", 2)
            added += int(plus) if plus.isdigit() else 0  # "-" for binary files
            deleted += int(minus) if minus.isdigit() else 0
        return added, deleted

    async def diff_stats(self, base: str, head: str = "HEAD") -> tuple[list[str], int, int]:
        """Return ``(changed paths, insertions, deletions)`` since the merge base (one git run)."""
        spec = f"{check_revision(base)}...{check_revision(head)}"
        out = await self._ok(
            "diff", "--numstat", "-z", "--no-renames", "--end-of-options", spec, cap=_BIG_OUTPUT
        )
        paths: list[str] = []
        added = deleted = 0
        for record in out.split("\0"):
            if not record:
                continue
            plus, minus, path = record.split("\t", 2)
            added += int(plus) if plus.isdigit() else 0  # "-" for binary files
            deleted += int(minus) if minus.isdigit() else 0
            paths.append(path)
        return sorted(paths), added, deleted

    # -- last use ---------------------------------------------------------------------------

    def touch(self) -> None:
        """Record that the workspace is in use now (the janitor reads this)."""
        marker = self.git_dir / LAST_USED_MARKER
        marker.touch()
        os.utime(marker)

    def last_used(self) -> float | None:
        """Return the last-use time (epoch seconds), or None if never recorded."""
        try:
            return (self.git_dir / LAST_USED_MARKER).stat().st_mtime
        except FileNotFoundError:
            return None
