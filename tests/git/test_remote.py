"""Network failures: a remote that never answers, timeouts, refused transports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio

from runner.errors import GitError, InsufficientStorageError, RepoAccessError
from runner.git import GitAuth, RepoUrl, Workspace, git_deadline, validate_repo_url, workspace_path
from runner.git.remote import classify_failure
from runner.process.run import ProcessResult
from tests.helpers.git_server import serve_stalled

if TYPE_CHECKING:
    from collections.abc import Callable


def processes_mentioning(needle: str) -> list[int]:
    """Return live (non-zombie) pids whose command line contains ``needle``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state not in {"Z", "X"}:
            found.append(int(entry.name))
    return found


async def wait_for(predicate: Callable[[], bool], seconds: float) -> None:
    """Poll ``predicate`` until true (fails the test after ``seconds``)."""
    with trio.fail_after(seconds):
        while True:  # /proc cannot notify us: poll it
            if predicate():
                return
            await trio.sleep(0.02)


async def test_cancelled_stalled_clone_kills_git_and_leaves_workspace_usable(
    tmp_path: Path, nursery: trio.Nursery, auth: GitAuth, repo: RepoUrl
) -> None:
    port = await nursery.start(serve_stalled)
    url = f"http://127.0.0.1:{port}/stalled.git"
    stalled = validate_repo_url(url, allow_local=False)
    workspace = Workspace(workspace_path(tmp_path / "ws", "acme", stalled), auth)
    with trio.fail_after(20):
        async with trio.open_nursery() as clone_nursery:
            clone_nursery.start_soon(workspace.ensure, stalled)
            await wait_for(lambda: bool(processes_mentioning(url)), 10)
            started = trio.current_time()
            clone_nursery.cancel_scope.cancel()
        # ensure() returns once git is killed; SIGKILL to the helpers lands a moment later
        await wait_for(lambda: not processes_mentioning(url), 2.0)
        assert trio.current_time() - started < 2.0
        assert list(workspace.path.parent.iterdir()) == []  # no half clone left behind
        assert await workspace.ensure(repo) is True  # same path, now a good remote
    assert (workspace.path / "README.md").exists()


async def test_stalled_clone_timeout_is_git_timeout_and_kills_git(
    tmp_path: Path, nursery: trio.Nursery, auth: GitAuth
) -> None:
    port = await nursery.start(serve_stalled)
    url = f"http://127.0.0.1:{port}/slow.git"
    stalled = validate_repo_url(url, allow_local=False)
    workspace = Workspace(workspace_path(tmp_path / "ws", "acme", stalled), auth, timeout_s=0.5)
    with trio.fail_after(10), pytest.raises(RepoAccessError) as info:
        await workspace.ensure(stalled)
    assert info.value.code == "git_timeout"
    assert info.value.http_status == 409
    await wait_for(lambda: not processes_mentioning(url), 2.0)
    assert not workspace.path.exists()
    assert list(workspace.path.parent.iterdir()) == []


async def test_missing_local_remote_is_repo_not_found(tmp_path: Path, auth: GitAuth) -> None:
    missing = validate_repo_url(str(tmp_path / "nope.git"), allow_local=True)
    workspace = Workspace(workspace_path(tmp_path / "ws", "acme", missing), auth)
    with trio.fail_after(10), pytest.raises(RepoAccessError) as info:
        await workspace.ensure(missing)
    assert info.value.code == "repo_not_found"


async def test_file_transport_refused_when_local_repos_disallowed(
    tmp_path: Path, repo: RepoUrl
) -> None:
    # defence in depth: even a RepoUrl built elsewhere cannot make git use file:// then
    strict = GitAuth.create(tmp_path / "strict", allow_local=False)
    workspace = Workspace(workspace_path(tmp_path / "ws", "acme", repo), strict)
    file_url = validate_repo_url(f"file://{repo.raw}", allow_local=True)
    with trio.fail_after(10), pytest.raises(RepoAccessError) as info:
        await workspace.ensure(file_url)
    assert "not allowed" in info.value.message


def test_classify_failure_redacts_token_and_picks_class(tmp_path: Path) -> None:
    auth = GitAuth.create(tmp_path / "s", token="ghp_secretsecretsecret1234567890")
    denied = ProcessResult(
        args=("git",),
        returncode=128,
        stdout="",
        stderr="fatal: Authentication failed for 'https://ghp_secretsecretsecret1234567890@h/x'",
        duration=0.1,
    )
    other = ProcessResult(("git",), 128, "", "fatal: bad object deadbeef", 0.1)
    access = classify_failure(denied, auth, "clone")
    assert isinstance(access, RepoAccessError)
    assert "ghp_secret" not in access.message
    failed = classify_failure(other, auth, "checkout")
    assert type(failed) is GitError
    assert failed.code == "git_failed"
    assert failed.http_status == 500


def test_classify_failure_carries_the_command_and_its_stderr(tmp_path: Path) -> None:
    token = "ghp_secretsecretsecret1234567890"
    auth = GitAuth.create(tmp_path / "s", token=token)
    result = ProcessResult(
        ("git", "fetch", f"https://{token}@h/x"), 128, "", "fatal: bad object deadbeef\n", 0.1
    )
    error = classify_failure(result, auth, "fetch")
    assert error.extra == {
        "git": {
            "command": "git fetch https://***@h/x",
            "exitStatus": 128,
            "stderr": "fatal: bad object deadbeef",
        }
    }


def test_classify_failure_of_a_full_disk_is_insufficient_storage(tmp_path: Path) -> None:
    auth = GitAuth.create(tmp_path / "s", token=None)
    stderr = "error: unable to write file .git/objects/ab/cd: No space left on device\n"
    error = classify_failure(ProcessResult(("git", "clone"), 128, "", stderr, 0.1), auth, "clone")
    assert isinstance(error, InsufficientStorageError)
    assert (error.code, error.http_status) == ("insufficient_storage", 507)
    assert error.extra["git"]["command"] == "git clone"


async def test_git_deadline_converts_too_slow() -> None:
    with pytest.raises(RepoAccessError) as info, git_deadline(0.01, "fetch"):
        await trio.sleep(1)
    assert info.value.code == "git_timeout"
    assert "fetch timed out" in info.value.message
