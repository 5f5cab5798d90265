from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import pytest
import trio

from runner.errors import GitError, InvalidInputError, RepoAccessError
from runner.git import (
    CLEAN_MARKER,
    GitAuth,
    RepoUrl,
    Workspace,
    validate_repo_url,
    workspace_path,
)
from runner.redact import Redactor
from tests.helpers.gitrepo import commit_files, git, make_remote

if TYPE_CHECKING:
    from pathlib import Path

BRANCH = "task/1-1-1-add-devteam-enabled-flag"


async def prepped(workspace: Workspace, repo: RepoUrl, branch: str = BRANCH) -> bool:
    """Run the PREP sequence; return whether the branch was created."""
    await workspace.ensure(repo)
    await workspace.repair()
    await workspace.checkout_base("main")
    checkout = await workspace.create_or_reset_branch(branch, "main")
    assert checkout.sha == await workspace.head_sha()
    return checkout.created


async def test_ensure_clones_then_fetches(workspace: Workspace, repo: RepoUrl, bare: Path) -> None:
    with trio.fail_after(30):
        assert await workspace.ensure(repo) is True
        assert (workspace.path / "README.md").read_text() == "# demo\n"
        new = commit_files(bare, {"NEW.md": "new\n"}, "second")
        assert await workspace.ensure(repo) is False
        assert await workspace.checkout_base("main") == new
    assert await workspace.head_sha() == new
    assert (workspace.path / "NEW.md").exists()
    assert git("config", "--get", "remote.origin.url", cwd=workspace.path) == repo.raw
    assert workspace.last_used() is not None


async def test_reprep_returns_same_branch_not_created(workspace: Workspace, repo: RepoUrl) -> None:
    with trio.fail_after(30):
        assert await prepped(workspace, repo) is True
        (workspace.path / "work.txt").write_text("progress\n")
        sha = await workspace.commit_all("Task 1.1.1: work", Redactor())
        assert await prepped(workspace, repo) is False
    assert await workspace.current_branch() == BRANCH
    assert await workspace.head_sha() == sha


async def test_new_branch_starts_from_freshly_fetched_base(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        newer = commit_files(bare, {"later.md": "x\n"}, "remote moved on")
        assert await prepped(workspace, repo, "task/1-1-2-next") is True
    assert await workspace.head_sha() == newer


async def test_the_fetch_moves_a_base_with_no_commits_of_its_own_that_is_not_checked_out(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)  # on the task branch
        newer = commit_files(bare, {"later.md": "x\n"}, "remote moved on")
        assert await workspace.ensure(repo, base="main") is False
        assert workspace.fetched_base is True
        assert await workspace.current_branch() == BRANCH  # nothing checked out
        assert not (workspace.path / "later.md").exists()
        assert git("rev-parse", "main", "origin/main", cwd=workspace.path).split() == [newer] * 2
        checkout = await workspace.create_or_reset_branch("task/1-1-2-next", "main")
        assert (checkout.created, checkout.sha) == (True, newer)

        await workspace.checkout_base("main")  # the base checked out: the fetch leaves it
        newest = commit_files(bare, {"later.md": "y\n"}, "and again")
        await workspace.ensure(repo, base="main")
        assert workspace.fetched_base is False
        assert git("rev-parse", "main", cwd=workspace.path) == newer
        assert await workspace.checkout_base("main") == newest


async def test_the_fetch_leaves_a_base_with_commits_of_its_own_or_missing_on_the_remote(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        await workspace.checkout_base("main")
        (workspace.path / "mine.md").write_text("mine\n")
        mine = await workspace.commit_all("a merge the runner did not push", Redactor())
        await workspace.create_or_reset_branch("task/1-1-2-next", "main")
        commit_files(bare, {"theirs.md": "theirs\n"}, "remote moved on")
        await workspace.ensure(repo, base="main")
        assert workspace.fetched_base is False
        assert git("rev-parse", "main", cwd=workspace.path) == mine  # kept for checkout_base

        git("branch", "-D", "gone", cwd=bare, check=False)
        git("branch", "gone", "main", cwd=bare)
        await workspace.ensure(repo, base="gone")
        git("branch", "gone", "origin/gone", cwd=workspace.path)  # a local base, like main's
        git("branch", "-D", "gone", cwd=bare)  # the remote loses it
        assert await workspace.ensure(repo, base="gone") is False  # a plain fetch instead
        assert workspace.fetched_base is False
        with pytest.raises(GitError) as info:
            await workspace.checkout_base("gone")
    assert info.value.code == "base_branch_not_found"


async def test_a_remote_gone_while_the_base_is_moved_is_an_access_error(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
    os.rename(bare, bare.with_name("moved.git"))  # the remote goes away
    with trio.fail_after(30), pytest.raises(RepoAccessError):
        await workspace.ensure(repo, base="main")
    assert workspace.fetched_base is False


async def test_branch_only_on_remote_is_checked_out_not_created(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    remote_sha = commit_files(bare, {"wip.md": "wip\n"}, "wip", branch=BRANCH)
    with trio.fail_after(30):
        assert await prepped(workspace, repo) is False
        assert await workspace.branch_exists(BRANCH)
        assert not await workspace.branch_exists("task/other")
    assert await workspace.head_sha() == remote_sha


async def test_checkout_base_missing_on_remote_is_base_branch_not_found(
    workspace: Workspace, repo: RepoUrl
) -> None:
    with trio.fail_after(30):
        await workspace.ensure(repo)
        with pytest.raises(GitError) as info:
            await workspace.checkout_base("develop")
    assert info.value.code == "base_branch_not_found"
    assert "develop" in info.value.message


async def test_checkout_base_rejects_option_like_name(workspace: Workspace, repo: RepoUrl) -> None:
    await workspace.ensure(repo)
    with pytest.raises(InvalidInputError) as info:
        await workspace.checkout_base("--upload-pack=touch")
    assert info.value.field == "baseBranch"


async def test_commit_diff_merge_push_round_trip(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        assert await workspace.commit_all("nothing", Redactor()) is None
        (workspace.path / "src" / "app.py").write_text("print('hello')\nprint('two')\n")
        (workspace.path / "docs.md").write_text("a\nb\n")
        sha = await workspace.commit_all("Task 1.1.1: Add flag", Redactor())
        assert sha is not None
        assert await workspace.changed_files("main") == ["docs.md", "src/app.py"]
        assert await workspace.numstat("main", "HEAD") == (4, 1)
        diff = await workspace.diff("main")
        assert "+print('hello')" in diff
        assert "-print('hi')" in diff
        assert await workspace.read_file(BRANCH, "docs.md") == "a\nb\n"
        assert await workspace.read_file("main", "docs.md") is None
        merge = await workspace.merge_no_ff(BRANCH, "main", "Merge task 1.1.1")
        await workspace.push(["main", BRANCH])
    assert git("rev-parse", "refs/heads/main", cwd=bare) == merge
    assert git("rev-parse", f"refs/heads/{BRANCH}", cwd=bare) == sha
    assert git("rev-list", "--parents", "-n1", merge, cwd=bare).split()[2] == sha
    assert git("log", "-1", "--format=%s|%an", merge, cwd=bare) == (
        "Merge task 1.1.1|devteam-runner"
    )


async def test_checkout_base_keeps_unpushed_merge_and_takes_remote_commits(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        (workspace.path / "done.md").write_text("done\n")
        await workspace.commit_all("Task 1.1.1", Redactor())
        merge = await workspace.merge_no_ff(BRANCH, "main", "Merge task 1.1.1")
        commit_files(bare, {"other.md": "upstream\n"}, "upstream change")
        assert await prepped(workspace, repo, "task/1-1-2-next") is True
    assert (workspace.path / "done.md").exists()
    assert (workspace.path / "other.md").exists()
    git("merge-base", "--is-ancestor", merge, "HEAD", cwd=workspace.path)


async def test_merge_conflict_is_aborted_and_reported(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        (workspace.path / "README.md").write_text("branch side\n")
        await workspace.commit_all("branch edit", Redactor())
        await workspace.checkout_base("main")
        (workspace.path / "README.md").write_text("main side\n")
        await workspace.commit_all("main edit", Redactor())
        with pytest.raises(GitError) as info:
            await workspace.merge_no_ff(BRANCH, "main", "Merge")
        assert info.value.code == "merge_conflict"
        assert not (workspace.git_dir / "MERGE_HEAD").exists()
        assert await workspace.repair() == []


async def test_ensure_replaces_corrupt_workspace(workspace: Workspace, repo: RepoUrl) -> None:
    workspace.path.mkdir(parents=True)
    (workspace.path / "junk.txt").write_text("half a clone\n")
    (workspace.path / ".git").mkdir()
    with trio.fail_after(30):
        assert await workspace.ensure(repo) is True
    assert not (workspace.path / "junk.txt").exists()
    assert (workspace.path / "README.md").exists()


async def test_repair_fixes_lock_merge_untracked_and_detached_head(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        (workspace.path / "README.md").write_text("mine\n")
        await workspace.commit_all("mine", Redactor())
        commit_files(bare, {"README.md": "theirs\n"}, "theirs")
        await workspace.ensure(repo)
        git("merge", "origin/main", cwd=workspace.path, check=False)  # conflicts
        assert (workspace.git_dir / "MERGE_HEAD").exists()
        (workspace.path / "untracked.txt").write_text("x\n")
        (workspace.path / "debug.log").write_text("ignored\n")
        (workspace.git_dir / "index.lock").write_text("")
        fixed = await workspace.repair()
        assert "stale index.lock" in fixed
        assert "MERGE_HEAD in progress" in fixed
        assert git("status", "--porcelain", "--ignored", cwd=workspace.path) == ""
        assert await workspace.current_branch() == BRANCH

        git("checkout", "--detach", "HEAD~1", cwd=workspace.path)
        assert await workspace.current_branch() is None
        assert "detached HEAD" in await workspace.repair()
        assert await workspace.current_branch() == "main"
        assert await prepped(workspace, repo) is False


async def test_a_clean_mark_spares_the_repair_of_the_stage_that_takes_it(
    workspace: Workspace, repo: RepoUrl
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        (workspace.path / "untracked.txt").write_text("x\n")  # what a clean mark vouches away
        (workspace.git_dir / "index.lock").write_text("")
        workspace.mark_clean()
        assert workspace.take_clean_mark() is True
        assert (workspace.git_dir / CLEAN_MARKER).read_bytes() == b"0"  # a failing stage: clear
        assert await workspace.ensure(repo, base="main") is False  # no search for stale locks
        assert (workspace.git_dir / "index.lock").exists()
        assert await workspace.repair_unless_clean() == []

        assert workspace.take_clean_mark() is False  # the next stage: no mark, full repair
        assert await workspace.repair_unless_clean() == [
            "stale index.lock",
            "uncommitted or untracked files",
        ]
    assert not (workspace.path / "untracked.txt").exists()


async def test_a_clean_mark_left_by_an_older_runner_or_garbled_is_not_trusted(
    workspace: Workspace, repo: RepoUrl
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
    flag = workspace.git_dir / CLEAN_MARKER
    assert workspace.take_clean_mark() is False  # never marked
    for content in (b"", b"x", b"01"):
        flag.write_bytes(content)
        assert workspace.take_clean_mark() is False
    workspace.mark_clean()
    workspace.mark_clean()  # setting twice is setting once
    assert workspace.take_clean_mark() is True
    assert workspace.take_clean_mark() is False


async def test_repair_aborts_rebase_in_progress(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        (workspace.path / "README.md").write_text("mine\n")
        before = await workspace.commit_all("mine", Redactor())
        commit_files(bare, {"README.md": "theirs\n"}, "theirs")
        await workspace.ensure(repo)
        git("rebase", "origin/main", cwd=workspace.path, check=False)
        assert (workspace.git_dir / "rebase-merge").exists()
        assert "rebase in progress" in await workspace.repair()
    assert not (workspace.git_dir / "rebase-merge").exists()
    assert await workspace.current_branch() == BRANCH
    assert await workspace.head_sha() == before


async def test_two_customers_clone_same_repo_concurrently(
    tmp_path: Path, auth: GitAuth, repo: RepoUrl
) -> None:
    spaces = [Workspace(workspace_path(tmp_path / "ws", c, repo), auth) for c in ("a", "b")]
    results: dict[int, bool] = {}

    async def prep(index: int) -> None:
        results[index] = await prepped(spaces[index], repo)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for index in range(2):
                nursery.start_soon(prep, index)
    assert results == {0: True, 1: True}
    assert spaces[0].path != spaces[1].path
    (spaces[0].path / "only-a.txt").write_text("a\n")
    assert await spaces[0].commit_all("a's work", Redactor()) is not None
    assert not (spaces[1].path / "only-a.txt").exists()
    assert await spaces[1].current_branch() == BRANCH


async def test_ensure_recognises_clone_whose_url_git_quotes(tmp_path: Path, auth: GitAuth) -> None:
    odd = make_remote(tmp_path / "we#ird;dir" / "origin.git")
    odd_repo = validate_repo_url(str(odd), allow_local=True)
    workspace = Workspace(workspace_path(tmp_path / "ws", "acme", odd_repo), auth)
    with trio.fail_after(30):
        assert await workspace.ensure(odd_repo) is True
        assert await workspace.ensure(odd_repo) is False


async def test_ensure_survives_locks_left_by_a_killed_fetch(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    with trio.fail_after(30):
        await workspace.ensure(repo)
        (workspace.git_dir / "refs" / "remotes" / "origin" / "main.lock").write_text("")
        (workspace.git_dir / "shallow.lock").write_text("")
        new = commit_files(bare, {"x.md": "x\n"}, "x")
        assert await workspace.ensure(repo) is False
        assert await workspace.checkout_base("main") == new


async def test_git_never_falls_back_to_an_enclosing_repository(
    tmp_path: Path, auth: GitAuth, repo: RepoUrl
) -> None:
    outer = tmp_path / "outer"
    git("init", "-q", str(outer))
    (outer / "keep.txt").write_text("precious\n")
    workspace = Workspace(workspace_path(outer / "ws", "acme", repo), auth)
    with trio.fail_after(30):
        await workspace.ensure(repo)
        await trio.to_thread.run_sync(shutil.rmtree, workspace.git_dir)
        with pytest.raises(GitError):
            await workspace.repair()
    assert (outer / "keep.txt").read_text() == "precious\n"


async def test_commit_refuses_a_secret_in_the_staged_diff(
    workspace: Workspace, repo: RepoUrl, bare: Path
) -> None:
    git_token = "s3cr3t-git-token-value"
    model_key = "sk-ant-" + "k" * 30
    with trio.fail_after(30):
        await prepped(workspace, repo)
        before = await workspace.head_sha()
        (workspace.path / "docs.md").write_text("fine\nalso fine\n")
        (workspace.path / "src" / "app.py").write_text(
            f"print('hi')\nTOKEN = '{git_token}'\n# {'ghp_' + 'A' * 36}\nKEY = '{model_key}'\n"
        )
        with pytest.raises(GitError) as info:
            await workspace.commit_all("Task 1.1.1: leak", Redactor((git_token,)))
        assert await workspace.head_sha() == before  # nothing committed
        await workspace.push([BRANCH])
    error = info.value
    assert error.code == "secret_in_diff"
    assert error.details == [
        {"file": "src/app.py", "line": 2},
        {"file": "src/app.py", "line": 3},
        {"file": "src/app.py", "line": 4},
    ]
    assert "src/app.py:2" in error.message
    for value in (git_token, model_key, "ghp_"):
        assert value not in error.message
        assert value not in str(error.details)
    assert git("log", "-1", "--format=%s", BRANCH, cwd=bare, check=False) != "Task 1.1.1: leak"


async def test_commit_allows_code_that_only_names_a_token(
    workspace: Workspace, repo: RepoUrl
) -> None:
    with trio.fail_after(30):
        await prepped(workspace, repo)
        (workspace.path / "src" / "app.py").write_text(
            "import os\nTOKEN = os.environ['GIT_TOKEN']\nurl = 'https://x@example.com/r'\n"
        )
        assert await workspace.commit_all("Task 1.1.1: env", Redactor(("s3cr3t",))) is not None


def _loose_objects(workspace: Workspace) -> int:
    counts = dict(
        line.split(": ", 1) for line in git("count-objects", "-v", cwd=workspace.path).splitlines()
    )
    return int(counts["count"])


async def test_housekeeping_runs_with_the_fetch_not_after_each_commit_and_merge(
    workspace: Workspace, repo: RepoUrl
) -> None:
    with trio.fail_after(60):
        await prepped(workspace, repo)
        # git guesses the loose objects from one of 256 fan-out directories: 3,000 blobs put
        # more than one there (gc.auto=1 asks for housekeeping above that) all but surely
        git("config", "gc.auto", "1", cwd=workspace.path)
        for n in range(3000):
            (workspace.path / "many" / f"{n}.txt").parent.mkdir(exist_ok=True)
            (workspace.path / "many" / f"{n}.txt").write_text(f"blob {n}\n")
        assert await workspace.commit_all("Task 1.1.1: many files", Redactor()) is not None
        await workspace.merge_no_ff(BRANCH, "main", "Merge task 1.1.1")
        assert _loose_objects(workspace) > 3000  # no commit or merge packed them
        assert await workspace.ensure(repo) is False  # a fetch
    assert _loose_objects(workspace) == 0  # the fetch's housekeeping packed them
