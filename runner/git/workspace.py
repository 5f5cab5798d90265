"""A customer's clone of its repository: clone, fetch, repair, branches, merge, push.

The local commands and content reads are :class:`runner.git.worktree.WorkTree`'s. Lock files
are removed as stale before use: a killed git leaves them behind, and one workspace is used by
one actor at a time (nothing here locks). The remote URL stored in ``.git/config`` is the
credential-free ``repoUrl``.

Base branches: ``checkout_base`` makes the local base equal ``origin/<base>`` when it has no
commits of its own, and keeps commits the runner made there (COMPLETE merges not pushed because
the customer has ``push: false``), merging newer remote commits in. New task branches start from
that local base, so a task never loses the work of the tasks before it.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import attrs
import structlog
import trio

from runner.errors import GitError, MergeConflictError, RepoAccessError
from runner.git import remote
from runner.git.branch import check_branch_name, check_revision, is_valid_branch_name
from runner.git.gitdir import (
    origin_url_in_config,
    read_refs,
    remove_stale_locks,
    remove_tree,
    set_flag,
    take_flag,
)
from runner.git.urls import RepoUrl, validate_repo_url, workspace_path
from runner.git.worktree import WorkTree

if TYPE_CHECKING:
    from collections.abc import Sequence

    from runner.config import Settings
    from runner.git.credentials import GitAuth
    from runner.process import ProcessResult

__all__ = ["CLEAN_MARKER", "BranchCheckout", "Workspace"]

log = structlog.get_logger(__name__)

CLEAN_MARKER = "devteam-runner-clean"
"""A flag in ``.git``, set when a stage ends well; the next stage takes (clears) it first."""

_PARTIAL = ".partial-"
_SEQUENCE_STATE = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "sequencer")


@attrs.frozen
class BranchCheckout:
    """What :meth:`Workspace.create_or_reset_branch` did: the branch was created; its sha.

    ``synced`` says what :meth:`Workspace.sync_task_branch` did to an existing branch:
    ``fast-forwarded`` (to its remote copy's new commits), ``taken-from-remote`` (a remote copy
    without the local commits replaced them), ``recreated`` (from the new base:
    it had no commits of its own), ``merged-base`` (the base merged in), or ``""``.
    """

    created: bool
    sha: str
    synced: str = ""


@attrs.define
class Workspace(WorkTree):
    """The git working tree of one customer's repository.

    Args:
        path: ``WORKSPACE_DIR/<customerId>/<repo-hash>`` (see :func:`workspace_path`).
        auth: Credentials and environment for git children.
        timeout_s: Deadline of each network operation (``GIT_TIMEOUT_S``).
    """

    timeout_s: float = 300.0
    _repo: RepoUrl | None = None
    _before_fetch: dict[str, str] = attrs.field(factory=dict, init=False)
    _trusted_clean: bool = attrs.field(default=False, init=False)
    fetched_base: bool = attrs.field(default=False, init=False)
    """The last :meth:`ensure` also moved the local base to the remote's (no checkout needed)."""

    @classmethod
    def for_customer(
        cls, settings: Settings, auth: GitAuth, customer_id: str, repo: RepoUrl
    ) -> Workspace:
        """Return the workspace of ``customer_id`` for ``repo`` under ``WORKSPACE_DIR``."""
        path = workspace_path(settings.workspace_dir.absolute(), customer_id, repo)
        return cls(path, auth, timeout_s=settings.git_timeout_s, repo=repo)

    # -- clone / fetch / repair -------------------------------------------------------------

    async def ensure(self, repo: RepoUrl, base: str | None = None) -> bool:
        """Clone ``repo`` if the workspace is missing (True), else fetch (False).

        A directory that is not a clone of ``repo`` (half-cloned, corrupt, other remote) is
        removed and cloned again. ``base``, the branch :meth:`checkout_base` checks out next,
        narrows what is recorded from before the fetch to that branch's tracking ref; when the
        local base has no commits of its own and is not checked out, the fetch moves it too
        (:attr:`fetched_base`), which spares the caller a checkout of the base.

        Raises:
            RepoAccessError: unreachable, missing, credentials refused, or ``git_timeout``.
            GitError: any other git failure.
        """
        self._repo = repo
        if not self._trusted_clean:  # a killed git may have left locks or a partial clone
            await trio.to_thread.run_sync(self._remove_leftovers)
        if base is not None:
            tracking = f"refs/remotes/origin/{check_branch_name(base, 'baseBranch')}"
            self._before_fetch = await self._lookup([tracking]) or {}
        else:
            known = await trio.to_thread.run_sync(read_refs, self.git_dir, ["refs/remotes/origin/"])
            self._before_fetch = known or {}
        self.fetched_base = False
        if await self._is_clone_of(repo):
            await self._fetch(repo, base)
            self.touch()
            return False
        if self.path.exists():
            log.warning("workspace_recloned", path=str(self.path))
            await trio.to_thread.run_sync(remove_tree, self.path)
        await self._clone(repo)
        self.touch()
        return True

    async def _fetch(self, repo: RepoUrl, base: str | None) -> None:
        with remote.git_deadline(self.timeout_s, "fetch"):
            if base is not None and await self._follows_origin(base):
                try:
                    await remote.fetch(self.path, repo, self.auth, also=base)
                except RepoAccessError:
                    raise
                except GitError:  # e.g. the remote lost the base: checkout_base reports it
                    log.info("fetch_of_base_failed", base=base)
                else:
                    self.fetched_base = True
                    return
            await remote.fetch(self.path, repo, self.auth)

    async def _follows_origin(self, base: str) -> bool:
        """Whether the local ``base`` is its tracking ref before the fetch, and not checked out."""
        local = f"refs/heads/{base}"
        known = await self._refs(local)
        tracking = self._before_fetch.get(f"refs/remotes/origin/{base}")
        return (
            tracking is not None
            and known.get(local) == tracking
            and (await self.current_branch() != base)
        )

    def _remove_leftovers(self) -> None:
        """Remove partial clones and stale locks a killed git left (we own the path)."""
        parent = self.path.parent
        if parent.is_dir():
            for leftover in parent.glob(f".{self.path.name}{_PARTIAL}*"):
                remove_tree(leftover)
        remove_stale_locks(self.git_dir)

    async def _is_clone_of(self, repo: RepoUrl) -> bool:
        if not (self.git_dir / "HEAD").is_file():
            return False
        if origin_url_in_config(self.git_dir / "config") == repo.raw:
            return True  # the common case, without a process
        result = await self._run("config", "--get", "remote.origin.url")
        return result.ok and result.stdout.strip() == repo.raw

    async def _clone(self, repo: RepoUrl) -> None:
        """Clone into a hidden sibling and rename it into place; remove it on any failure."""
        await trio.Path(self.path.parent).mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}{_PARTIAL}{secrets.token_hex(4)}")
        try:
            with remote.git_deadline(self.timeout_s, f"clone of {repo.display}"):
                await remote.clone(repo, partial, self.auth)
            partial.rename(self.path)
        finally:
            if partial.exists():
                with trio.move_on_after(30, shield=True):
                    await trio.to_thread.run_sync(remove_tree, partial)

    def take_clean_mark(self) -> bool:
        """Take the mark the last stage left if it ended well; return whether it was there.

        Every stage takes it first thing, so a stage that fails or is killed leaves none. The
        runner is the only writer of its workspaces and a stage that ended well left the tree
        as committed with no git running: :meth:`ensure` then skips the search for stale locks
        and :meth:`repair_unless_clean` the ``git status`` run.
        """
        self._trusted_clean = take_flag(self.git_dir / CLEAN_MARKER)
        return self._trusted_clean

    def mark_clean(self) -> None:
        """Record that the stage ended well: the tree is as committed (the next stage's mark)."""
        if self.git_dir.is_dir():
            set_flag(self.git_dir / CLEAN_MARKER)

    async def repair_unless_clean(self) -> list[str]:
        """:meth:`repair`, unless the stage began with the last stage's clean mark."""
        if self._trusted_clean:
            await trio.lowlevel.checkpoint()
            return []
        return await self.repair()

    async def repair(self) -> list[str]:
        """Undo what a crash or a killed tool can leave behind; return what was repaired.

        Removes stale lock files, aborts a half-done rebase/merge/cherry-pick/revert, resets
        tracked files, removes untracked and ignored files, and gets off a detached HEAD
        (onto the branch ``origin/HEAD`` names, when there is one).
        """
        locks = await trio.to_thread.run_sync(remove_stale_locks, self.git_dir)
        fixed = [f"stale {name}" for name in locks]
        if (self.git_dir / "rebase-merge").exists() or (self.git_dir / "rebase-apply").exists():
            if not (await self._run("rebase", "--abort")).ok:
                for name in ("rebase-merge", "rebase-apply"):
                    await trio.to_thread.run_sync(remove_tree, self.git_dir / name)
            fixed.append("rebase in progress")
        fixed.extend(f"{n} in progress" for n in _SEQUENCE_STATE if (self.git_dir / n).exists())
        if (self.git_dir / "sequencer").exists():
            await trio.to_thread.run_sync(remove_tree, self.git_dir / "sequencer")
        status = await self._ok("status", "--porcelain", "--ignored", "--untracked-files=normal")
        if status or fixed:
            await self._reset_and_clean()
            if status:
                fixed.append("uncommitted or untracked files")
        if await self.current_branch() is None and await self._attach_head():
            fixed.append("detached HEAD")
        if fixed:
            log.info("workspace_repaired", path=str(self.path), fixed=fixed)
        return fixed

    async def _reset_and_clean(self) -> None:
        if (await self._run("rev-parse", "--verify", "-q", "HEAD")).ok:
            await self._ok("reset", "--hard", "-q")
        else:  # unborn branch: nothing to reset to, only drop what is staged
            await self._ok("read-tree", "--empty")
        await self._ok("clean", "-ffdxq")

    async def _attach_head(self) -> bool:
        result = await self._run("symbolic-ref", "-q", "refs/remotes/origin/HEAD")
        target = result.stdout.strip().removeprefix("refs/remotes/origin/")
        if not result.ok or not is_valid_branch_name(target):
            return False
        local = await self._refs(f"refs/heads/{target}")
        if local:
            await self._ok("checkout", "-q", "--force", target)
        else:
            await self._ok(
                "checkout",
                "-q",
                "--force",
                "--no-track",
                "-b",
                target,
                f"refs/remotes/origin/{target}",
            )
        return True

    # -- branches ---------------------------------------------------------------------------

    async def checkout_base(self, base: str) -> str:
        """Check out the local ``base`` brought up to date with ``origin/<base>``; return its sha.

        Raises:
            InvalidInputError: ``base`` is not a valid branch name (field ``baseBranch``).
            GitError: code ``base_branch_not_found`` when the remote has no such branch;
                ``base_diverged`` when the runner's unpushed commits conflict with the remote's.
        """
        check_branch_name(base, "baseBranch")
        local, tracking = f"refs/heads/{base}", f"refs/remotes/origin/{base}"
        refs = await self._refs(local, tracking)
        if tracking not in refs:
            raise GitError(
                f"base branch {base!r} does not exist on the remote", code="base_branch_not_found"
            )
        if (
            local not in refs
            or refs[local] in {refs[tracking], self._before_fetch.get(tracking)}
            or await self._is_ancestor(refs[local], refs[tracking])
        ):
            await self._ok("checkout", "-q", "--force", "--no-track", "-B", base, tracking)
            return refs[tracking]
        await self._ok("checkout", "-q", "--force", base)
        if not await self._is_ancestor(refs[tracking], refs[local]):
            await self._merge(tracking, f"Merge {tracking} into {base}", code="base_diverged")
        return await self.head_sha()

    async def _is_ancestor(self, older: str, newer: str) -> bool:
        result = await self._run("merge-base", "--is-ancestor", older, newer)
        if result.returncode not in {0, 1}:
            raise remote.classify_failure(result, self.auth, "git merge-base")
        return result.returncode == 0

    async def create_or_reset_branch(self, name: str, base: str) -> BranchCheckout:
        """Check out task branch ``name``; create it from the local ``base`` if it is new.

        Returns:
            ``created`` False when the branch already existed locally or on the remote and
            was checked out as it is; ``sha`` the commit checked out.
        """
        check_branch_name(name, "branch")
        check_branch_name(base, "baseBranch")
        own, theirs = f"refs/heads/{name}", f"refs/remotes/origin/{name}"
        base_local, base_tracking = f"refs/heads/{base}", f"refs/remotes/origin/{base}"
        refs = await self._refs(own, theirs, base_local, base_tracking)
        if own in refs:
            await self._ok("checkout", "-q", "--force", name)
            return BranchCheckout(created=False, sha=refs[own])
        if theirs in refs:
            await self._ok("checkout", "-q", "--force", "--no-track", "-b", name, theirs)
            return BranchCheckout(created=False, sha=refs[theirs])
        start = base_local if base_local in refs else base_tracking
        if start not in refs:
            raise GitError(
                f"base branch {base!r} does not exist on the remote", code="base_branch_not_found"
            )
        await self._ok("checkout", "-q", "--force", "--no-track", "-b", name, start)
        return BranchCheckout(created=True, sha=refs[start])

    async def sync_task_branch(self, name: str, base: str) -> BranchCheckout:
        """Check out task branch ``name`` brought up to date after a fetch.

        A new branch is created as :meth:`create_or_reset_branch` does. An existing one takes
        what happened meanwhile:

        - commits a person pushed to its remote copy: a fast-forward; a remote copy without
          the local commits replaces them (they were never published; the person's push is
          the newer word), which stay under ``refs/devteam/replaced/<branch>``; a branch
          that exists only on the remote is taken from there;
        - then the base: a branch with no commits beyond it is recreated from it as it now
          is; otherwise the base is merged in. A base rewritten (force-pushed) since the
          branch grew from it is not merged: that would bring back the commits the rewrite
          dropped (a leaked secret, a reverted mistake). The branch's own commits are replayed
          onto the new base instead (``rebased``, or ``recreated`` when none is left), the
          commits as they were kept under ``refs/devteam/rebased/<branch>``. The old base
          commit the branch grew from is read from the base's reflog, which keeps it for 30
          days (a fresh clone has none: the base is then merged as usual).

        Raises:
            GitError: ``merge_conflict`` (``files`` in its extra; the tree is left clean);
                ``base_rewritten`` when the branch must be replayed but is on the remote too
                (a rebased copy could not be pushed over it).
        """
        check_branch_name(name, "branch")
        check_branch_name(base, "baseBranch")
        own, theirs, base_ref = (
            f"refs/heads/{name}",
            f"refs/remotes/origin/{name}",
            f"refs/heads/{base}",
        )
        refs = await self._refs(own, theirs, base_ref)
        if base_ref not in refs or (own not in refs and theirs not in refs):
            return await self.create_or_reset_branch(name, base)
        steps: list[str] = []
        if own not in refs:  # only a person's copy exists: take it, then bring in the base
            await self._ok("checkout", "-q", "--force", "--no-track", "-b", name, theirs)
            refs[own] = refs[theirs]
            steps.append("taken-from-remote")
        else:
            await self._ok("checkout", "-q", "--force", name)
        head, remote_head = refs[own], refs.get(theirs)
        if remote_head is not None and remote_head != head:
            if await self._is_ancestor(head, remote_head):
                await self._ok("merge", "-q", "--ff-only", "--end-of-options", theirs)
                steps.append("fast-forwarded")
            elif not await self._is_ancestor(remote_head, head):
                # a person pushed their own version: it replaces the unpublished local one
                kept = f"refs/devteam/replaced/{name}"
                await self._ok("update-ref", kept, head)  # the runner's commits stay reachable
                log.warning("task_branch_replaced", branch=name, kept=kept, taken=remote_head)
                await self._ok("reset", "-q", "--hard", remote_head)
                steps.append("taken-from-remote")
            head = await self.head_sha()
        tip = refs[base_ref]
        grew_from = await self._fork_point(base_ref, head)
        if grew_from is not None and not await self._is_ancestor(grew_from, tip):
            if remote_head is not None:
                raise MergeConflictError(
                    f"{base} was rewritten (force-pushed) since {name} grew from it, and {name}"
                    " is on the remote too: replay its commits onto the new base and push it,"
                    " or delete it",
                    code="base_rewritten",
                )
            kept = f"refs/devteam/rebased/{name}"
            await self._ok("update-ref", kept, head)  # the commits as they were stay reachable
            await self._replay(name, tip, grew_from)
            # with no commit of its own left (none, or all empty on the new base) it is the
            # new base: as a branch recreated from it, the tool has work to do again
            steps.append("recreated" if await self.head_sha() == tip else "rebased")
        elif head != tip and await self._is_ancestor(head, tip):
            await self._ok("reset", "-q", "--hard", tip)
            steps.append("recreated")
        elif not await self._is_ancestor(tip, head):
            await self._merge(base_ref, f"Merge {base} into {name}")
            steps.append("merged-base")
        return BranchCheckout(created=False, sha=await self.head_sha(), synced=",".join(steps))

    async def _fork_point(self, base_ref: str, head: str) -> str | None:
        """The base commit ``head`` grew from, as the base's reflog remembers it (or None)."""
        result = await self._run("merge-base", "--fork-point", base_ref, head)
        found = result.stdout.strip()
        return found if result.ok and found else None

    async def _replay(self, name: str, onto: str, grew_from: str) -> None:
        """Replay the checked-out branch's own commits (after ``grew_from``) onto ``onto``."""
        result = await self._run("rebase", "-q", "--onto", onto, grew_from, name)
        if not result.ok:
            files = await self._abort("rebase")
            what = f"replaying {name} onto the rewritten base"
            raise self._failed(what, result, files, code="merge_conflict", otherwise="git_failed")

    async def reset_to(self, sha: str) -> None:
        """Move the checked-out branch back to ``sha`` and drop every change after it."""
        await self._ok("reset", "-q", "--hard", check_revision(sha))
        await self._ok("clean", "-q", "-fdx")

    async def branch_exists(self, name: str) -> bool:
        """Return whether branch ``name`` exists locally or on ``origin``."""
        check_branch_name(name, "branch")
        return bool(await self._refs(f"refs/heads/{name}", f"refs/remotes/origin/{name}"))

    # -- merge / push -----------------------------------------------------------------------

    async def merge_no_ff(self, branch: str, into: str, message: str) -> str:
        """Merge ``branch`` into ``into`` with a merge commit; return the merge's sha.

        Raises:
            GitError: code ``merge_conflict`` (the merge is aborted, the tree left clean).
        """
        check_branch_name(branch, "branch")
        check_branch_name(into, "baseBranch")
        await self._ok("checkout", "-q", "--force", into)
        await self._merge(f"refs/heads/{branch}", message)
        return await self.head_sha()

    async def _merge(self, rev: str, message: str, *, code: str = "merge_conflict") -> None:
        args = ["merge", "-q", "--no-ff", "--no-edit", "-m", message, "--end-of-options", rev]
        result = await self._run(*args)
        if not result.ok:
            in_progress = (self.git_dir / "MERGE_HEAD").exists()
            files = await self._abort("merge") if in_progress else []
            raise self._failed(f"merging {rev}", result, files, code=code, otherwise=code)

    async def _abort(self, operation: str) -> list[str]:
        """Abort a stopped merge or rebase, leave the tree clean; return the conflicted files."""
        unmerged = await self._run("diff", "--name-only", "--diff-filter=U")
        await self._run(operation, "--abort")
        await self._reset_and_clean()
        return unmerged.stdout.split()

    def _failed(
        self, what: str, result: ProcessResult, files: list[str], *, code: str, otherwise: str
    ) -> GitError:
        """The error of a merge or rebase: 409 ``code`` naming the conflicted files, else 500
        ``otherwise``."""
        detail = self.auth.redactor((result.stdout + result.stderr).strip())[-2000:]
        if not files:
            return GitError(f"{what} failed: {detail}", code=otherwise)
        message = f"{what} failed: conflicts in {', '.join(files)}: {detail}"
        return MergeConflictError(message, code=code, extra={"files": files})

    async def push(self, branches: Sequence[str]) -> None:
        """Push the local ``branches`` to ``origin`` (fast-forward only).

        Raises:
            RepoAccessError: unreachable or refused (also ``git_timeout``).
            GitError: code ``push_rejected`` when the remote has commits we do not.
        """
        names = [check_branch_name(b, "branch") for b in branches]
        repo = self._repo or await self._origin()
        with remote.git_deadline(self.timeout_s, "push"):
            await remote.push(self.path, repo, self.auth, names)

    async def _origin(self) -> RepoUrl:
        url = (await self._ok("config", "--get", "remote.origin.url")).strip()
        self._repo = validate_repo_url(url, allow_local=self.auth.allow_local)
        return self._repo
