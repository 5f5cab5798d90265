"""PREP after a person stepped in: the task branch takes their commits or the new base."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio

from runner.errors import GitError
from runner.redact import Redactor
from tests.helpers.gitrepo import commit_files, git

if TYPE_CHECKING:
    from pathlib import Path

    from runner.git import BranchCheckout, RepoUrl, Workspace

BRANCH = "task/1-1-1-fix"


async def _prep(workspace: Workspace, repo: RepoUrl) -> BranchCheckout:
    """PREP's git sequence: fetch, bring the base up to date, sync the task branch."""
    with trio.fail_after(30):
        await workspace.ensure(repo)
        await workspace.checkout_base("main")
        checkout = await workspace.sync_task_branch(BRANCH, "main")
    assert checkout.sha == await workspace.head_sha()
    assert await workspace.current_branch() == BRANCH
    return checkout


async def _tool_commit(workspace: Workspace, files: dict[str, str]) -> str:
    for name, text in files.items():
        (workspace.path / name).write_text(text)
    sha = await workspace.commit_all("Task 1.1.1: the tool's change", Redactor())
    assert sha is not None
    return sha


def _push(workspace: Workspace) -> None:
    git("push", "-q", "origin", f"{BRANCH}:{BRANCH}", cwd=workspace.path)


async def test_a_persons_commit_on_the_remote_task_branch_is_taken(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    assert (await _prep(workspace, repo)).created
    await _tool_commit(workspace, {"fix.py": "x = 1\n"})
    _push(workspace)
    fixed = commit_files(bare, {"fix.py": "x = 2  # fixed by hand\n"}, "fix", branch=BRANCH)
    checkout = await _prep(workspace, repo)
    assert (checkout.created, checkout.synced, checkout.sha) == (False, "fast-forwarded", fixed)
    assert (workspace.path / "fix.py").read_text() == "x = 2  # fixed by hand\n"


async def test_a_persons_own_version_of_the_task_branch_replaces_the_unpublished_one(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    await _prep(workspace, repo)
    await _tool_commit(workspace, {"fix.py": "x = 1  # the tool's wrong try\n"})
    main = git("rev-parse", "main", cwd=bare)
    theirs = commit_files(bare, {"fix.py": "x = 2\n"}, "by hand", branch=BRANCH, parents=[main])
    checkout = await _prep(workspace, repo)
    assert (checkout.synced, checkout.sha) == ("taken-from-remote", theirs)
    assert (workspace.path / "fix.py").read_text() == "x = 2\n"


async def test_a_branch_without_own_commits_is_recreated_from_the_new_base(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    await _prep(workspace, repo)
    base = commit_files(bare, {"src/app.py": "print('fixed on main')\n"}, "fix on main")
    checkout = await _prep(workspace, repo)
    assert (checkout.synced, checkout.sha) == ("recreated", base)
    assert "fixed on main" in (workspace.path / "src/app.py").read_text()


async def test_a_base_fix_is_merged_into_a_branch_with_the_tools_commits(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    await _prep(workspace, repo)
    own = await _tool_commit(workspace, {"feature.py": "y = 1\n"})
    base = commit_files(bare, {"src/app.py": "print('fixed on main')\n"}, "fix on main")
    checkout = await _prep(workspace, repo)
    assert checkout.synced == "merged-base"
    parents = git("rev-list", "--parents", "-n", "1", "HEAD", cwd=workspace.path).split()[1:]
    assert set(parents) == {own, base}
    assert (workspace.path / "feature.py").read_text() == "y = 1\n"
    assert "fixed on main" in (workspace.path / "src/app.py").read_text()


async def test_a_conflict_with_the_base_stops_naming_the_files_and_leaves_the_tree_clean(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    await _prep(workspace, repo)
    own = await _tool_commit(workspace, {"src/app.py": "print('tool')\n"})
    commit_files(bare, {"src/app.py": "print('person')\n"}, "conflicting fix on main")
    with pytest.raises(GitError) as info:
        await _prep(workspace, repo)
    assert info.value.code == "merge_conflict"
    assert info.value.extra["files"] == ["src/app.py"]
    assert "src/app.py" in info.value.message
    assert await workspace.head_sha() == own
    assert git("status", "--porcelain", cwd=workspace.path) == ""


async def test_an_up_to_date_branch_is_taken_as_it_is(workspace: Workspace, repo: RepoUrl) -> None:
    await _prep(workspace, repo)
    own = await _tool_commit(workspace, {"feature.py": "y = 1\n"})
    checkout = await _prep(workspace, repo)
    assert (checkout.created, checkout.synced, checkout.sha) == (False, "", own)


async def test_a_branch_only_on_the_remote_is_taken_and_gets_the_new_base(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    await _prep(workspace, repo)
    main = git("rev-parse", "main", cwd=bare)
    theirs = commit_files(bare, {"fix.py": "x = 2\n"}, "by hand", branch=BRANCH, parents=[main])
    git("checkout", "-q", "main", cwd=workspace.path)
    git("branch", "-D", BRANCH, cwd=workspace.path)  # a fresh clone after a cleanup, say
    base = commit_files(bare, {"src/app.py": "print('fixed')\n"}, "base fix")
    checkout = await _prep(workspace, repo)
    assert checkout.synced == "taken-from-remote,merged-base"
    for sha in (theirs, base):
        assert git("merge-base", "--is-ancestor", sha, "HEAD", cwd=workspace.path) == ""


async def test_the_replaced_local_commits_stay_reachable(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    await _prep(workspace, repo)
    own = await _tool_commit(workspace, {"fix.py": "x = 1\n"})
    main = git("rev-parse", "main", cwd=bare)
    commit_files(bare, {"fix.py": "x = 2\n"}, "by hand", branch=BRANCH, parents=[main])
    assert (await _prep(workspace, repo)).synced == "taken-from-remote"
    kept = git("rev-parse", f"refs/devteam/replaced/{BRANCH}", cwd=workspace.path)
    assert kept == own


def _commit_to_drop(bare: Path, files: dict[str, str]) -> tuple[str, str]:
    """Commit ``files`` on main; return (main before it, the commit a rewrite will drop)."""
    before = git("rev-parse", "main", cwd=bare)
    return before, commit_files(bare, files, "dropped by the rewrite")


def _force_push_main(bare: Path, parent: str, files: dict[str, str]) -> str:
    """A person rewrites main: a new commit on ``parent`` becomes its tip (a force-push)."""
    return commit_files(bare, files, "rewrite", parents=[parent])


async def test_a_rewritten_base_is_not_merged_back_the_own_commits_are_replayed_onto_it(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    grew_from, leaked = _commit_to_drop(bare, {"leak.txt": "ghp_oops\n"})
    await _prep(workspace, repo)  # the task branch grows from the commit about to be dropped
    own = await _tool_commit(workspace, {"feature.py": "y = 1\n"})
    rewritten = _force_push_main(bare, grew_from, {"src/app.py": "print('fixed')\n"})
    checkout = await _prep(workspace, repo)
    assert checkout.synced == "rebased"
    log = git("rev-list", "HEAD", cwd=workspace.path).split()
    assert leaked not in log  # a merge would have brought it back into main at COMPLETE
    assert own not in log  # replayed: a new commit with the same change
    assert git("merge-base", "--is-ancestor", rewritten, "HEAD", cwd=workspace.path) == ""
    assert not (workspace.path / "leak.txt").exists()
    assert (workspace.path / "feature.py").read_text() == "y = 1\n"
    assert git("log", "-1", "--format=%s", cwd=workspace.path) == "Task 1.1.1: the tool's change"
    assert git("rev-parse", f"refs/devteam/rebased/{BRANCH}", cwd=workspace.path) == own


async def test_a_branch_without_own_commits_on_a_rewritten_base_is_recreated(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    grew_from, _ = _commit_to_drop(bare, {"leak.txt": "x\n"})
    await _prep(workspace, repo)  # the tool never ran: nothing of its own
    rewritten = _force_push_main(bare, grew_from, {"src/app.py": "print('fixed')\n"})
    checkout = await _prep(workspace, repo)
    assert (checkout.synced, checkout.sha) == ("recreated", rewritten)  # IMPLEMENT runs again


async def test_a_replay_that_conflicts_stops_naming_the_files_and_leaves_the_branch(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    grew_from, _ = _commit_to_drop(bare, {"notes.txt": "one\n"})
    await _prep(workspace, repo)
    own = await _tool_commit(workspace, {"src/app.py": "print('tool')\n"})
    _force_push_main(bare, grew_from, {"src/app.py": "print('person')\n"})
    with pytest.raises(GitError) as info:
        await _prep(workspace, repo)
    assert (info.value.code, info.value.http_status) == ("merge_conflict", 409)
    assert info.value.extra["files"] == ["src/app.py"]
    assert await workspace.head_sha() == own
    assert git("status", "--porcelain", cwd=workspace.path) == ""


async def test_a_rewritten_base_under_a_published_task_branch_needs_a_person(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    grew_from, _ = _commit_to_drop(bare, {"notes.txt": "one\n"})
    await _prep(workspace, repo)
    own = await _tool_commit(workspace, {"feature.py": "y = 1\n"})
    _push(workspace)  # on the remote too: a replayed copy could not be pushed over it
    _force_push_main(bare, grew_from, {"src/app.py": "print('fixed')\n"})
    with pytest.raises(GitError) as info:
        await _prep(workspace, repo)
    assert (info.value.code, info.value.http_status) == ("base_rewritten", 409)
    assert await workspace.head_sha() == own
