from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from runner.git.gitdir import lookup_refs, origin_url_in_config, read_refs, remove_stale_locks
from runner.redact import Redactor
from tests.helpers.gitrepo import git

if TYPE_CHECKING:
    from pathlib import Path

    from runner.git import RepoUrl, Workspace


def for_each_ref(workdir: Path, *prefixes: str) -> dict[str, str]:
    out = git("for-each-ref", "--format=%(refname) %(objectname)", *prefixes, cwd=workdir)
    return dict(line.split(" ", 1) for line in out.splitlines())


async def test_read_refs_agrees_with_git(workspace: Workspace, repo: RepoUrl) -> None:
    with trio.fail_after(30):
        await workspace.ensure(repo)
        await workspace.checkout_base("main")
        await workspace.create_or_reset_branch("task/1-a", "main")
        (workspace.path / "a.txt").write_text("a\n")
        await workspace.commit_all(
            "a", Redactor()
        )  # loose ref beside the packed ones from the clone
    git("pack-refs", "--all", cwd=workspace.path)
    git("branch", "feature/x", "HEAD~1", cwd=workspace.path)
    prefixes = ["refs/heads/", "refs/remotes/origin/"]
    expected = for_each_ref(workspace.path, *prefixes)
    assert expected.pop("refs/remotes/origin/HEAD")  # symbolic: left out by design
    assert read_refs(workspace.git_dir, prefixes) == expected


async def test_read_refs_defers_to_git_on_corrupt_refs(workspace: Workspace, repo: RepoUrl) -> None:
    with trio.fail_after(30):
        await workspace.ensure(repo)
        (workspace.git_dir / "refs" / "heads" / "broken").write_text("garbage\n")
        assert read_refs(workspace.git_dir, ["refs/heads/"]) is None
        assert await workspace.branch_exists("main")  # answered by git instead
    assert origin_url_in_config(workspace.git_dir / "config") == repo.raw


async def test_stale_locks_are_removed_at_the_top_and_under_refs_only(
    workspace: Workspace, repo: RepoUrl
) -> None:
    with trio.fail_after(30):
        await workspace.ensure(repo)
    git_dir = workspace.git_dir
    (git_dir / "refs" / "heads" / "task").mkdir()
    locks = ["index.lock", "HEAD.lock", "refs/heads/main.lock", "refs/heads/task/1-a.lock"]
    for name in locks:
        (git_dir / name).write_text("")
    (git_dir / "objects" / "keep.lock").write_text("")  # not git's ref or index lock
    before = read_refs(git_dir, ["refs/heads/"])

    assert sorted(remove_stale_locks(git_dir)) == sorted(locks)
    assert not any((git_dir / name).exists() for name in locks)
    assert (git_dir / "objects" / "keep.lock").exists()
    assert read_refs(git_dir, ["refs/heads/"]) == before
    assert remove_stale_locks(git_dir / "missing") == []


async def test_lookup_refs_reads_only_the_named_refs_and_agrees_with_git(
    workspace: Workspace, repo: RepoUrl
) -> None:
    with trio.fail_after(30):
        await workspace.ensure(repo)
        await workspace.checkout_base("main")
    git("branch", "packed-only", cwd=workspace.path)
    git("pack-refs", "--all", cwd=workspace.path)
    git("branch", "loose-only", cwd=workspace.path)
    (workspace.path / "b.txt").write_text("b\n")
    git("add", "b.txt", cwd=workspace.path)
    git("commit", "-q", "-m", "b", cwd=workspace.path)  # main: loose, newer than its packed line
    names = [
        "refs/heads/main",
        "refs/heads/packed-only",
        "refs/heads/loose-only",
        "refs/heads/missing",
        "refs/heads/missing/deeper",
        "refs/remotes/origin/main",
        "refs/remotes/origin/HEAD",  # symbolic: left out, as read_refs does
    ]
    expected = for_each_ref(workspace.path, "refs/heads/", "refs/remotes/origin/")
    assert lookup_refs(workspace.git_dir, names) == {
        name: expected[name] for name in names if name in expected and not name.endswith("HEAD")
    }
    assert lookup_refs(workspace.git_dir / "missing", names) == {}
    (workspace.git_dir / "refs" / "heads" / "broken").write_text("garbage\n")
    assert lookup_refs(workspace.git_dir, ["refs/heads/broken"]) is None  # git decides
