"""Against a local smart-HTTP server that requires basic auth: GIT_TOKEN never leaks."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import pytest
import structlog
import trio

import runner.git.remote
from runner.errors import RepoAccessError
from runner.git import GitAuth, Workspace, validate_repo_url, workspace_path
from runner.process.run import run_process
from runner.redact import Redactor
from tests.helpers.git_server import GitHttpServer
from tests.helpers.gitrepo import git, make_remote

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from runner.process.run import ProcessResult

TOKEN = "tok-Zx81Qw-secret-value-4242"
WRONG = "tok-wrong-value-0000000000"
USER = "deploy-bot"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitHttpServer]:
    """An authenticated HTTP git server over ``tmp_path/srv`` with one repository."""
    make_remote(tmp_path / "srv" / "app.git", {"README.md": "over http\n"})
    with GitHttpServer(tmp_path / "srv", username=USER, token=TOKEN) as running:
        yield running


@pytest.fixture
def argv_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Record the argv of every git process the git layer starts."""
    seen: list[tuple[str, ...]] = []

    async def recording(cmd: Sequence[str], **kwargs: Any) -> ProcessResult:
        seen.append(tuple(cmd))
        return await run_process(cmd, **kwargs)

    monkeypatch.setattr(runner.git.remote, "run_process", recording)
    return seen


def make_workspace(tmp_path: Path, token: str, url: str) -> tuple[Workspace, Any]:
    auth = GitAuth.create(tmp_path / "state", username=USER, token=token)
    repo = validate_repo_url(url, allow_local=False)
    return Workspace(workspace_path(tmp_path / "ws", "acme", repo), auth, timeout_s=30), repo


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def test_clone_and_push_with_token_over_http(
    tmp_path: Path, server: GitHttpServer, argv_log: list[tuple[str, ...]]
) -> None:
    workspace, repo = make_workspace(tmp_path, TOKEN, server.url("app.git"))
    with structlog.testing.capture_logs() as logs, trio.fail_after(30):
        assert await workspace.ensure(repo) is True
        await workspace.checkout_base("main")
        assert (await workspace.create_or_reset_branch("task/1-x", "main")).created is True
        (workspace.path / "f.txt").write_text("x\n")
        sha = await workspace.commit_all("Task 1: x", Redactor((TOKEN,)))
        await workspace.push(["task/1-x"])
        assert await workspace.ensure(repo) is False
    assert git("rev-parse", "refs/heads/task/1-x", cwd=tmp_path / "srv" / "app.git") == sha
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    assert expected in server.auth_headers  # git really authenticated with the token
    assert (workspace.path / "README.md").read_text() == "over http\n"
    assert git("config", "--get", "remote.origin.url", cwd=workspace.path) == repo.raw
    assert files_containing(tmp_path / "ws", TOKEN.encode()) == []
    assert files_containing(tmp_path / "state", TOKEN.encode()) == []
    assert argv_log
    assert not [argv for argv in argv_log if any(TOKEN in arg for arg in argv)]
    assert TOKEN not in repr(logs)


async def test_wrong_token_is_git_auth_failed_without_leaking(
    tmp_path: Path, server: GitHttpServer, argv_log: list[tuple[str, ...]]
) -> None:
    workspace, repo = make_workspace(tmp_path, WRONG, server.url("app.git"))
    with (
        structlog.testing.capture_logs() as logs,
        trio.fail_after(30),
        pytest.raises(RepoAccessError) as info,
    ):
        await workspace.ensure(repo)
    error = info.value
    assert error.code == "git_auth_failed"
    assert error.extra["failure"]["transient"] is False
    assert error.http_status == 409
    assert "Authentication failed" in error.message
    text = f"{error.message} {error.details} {error!r} {logs!r}"
    assert WRONG not in text
    assert TOKEN not in text
    assert not [argv for argv in argv_log if any(WRONG in arg for arg in argv)]
    assert not workspace.path.exists()
    assert files_containing(tmp_path / "ws", WRONG.encode()) == []
    assert any(log["event"] == "git_failed" for log in logs)


async def test_missing_token_fails_fast_without_prompting(
    tmp_path: Path, server: GitHttpServer
) -> None:
    auth = GitAuth.create(tmp_path / "state")
    repo = validate_repo_url(server.url("app.git"), allow_local=False)
    workspace = Workspace(workspace_path(tmp_path / "ws", "acme", repo), auth)
    with trio.fail_after(30), pytest.raises(RepoAccessError):
        await workspace.ensure(repo)


async def test_unknown_repository_is_repo_not_found(tmp_path: Path, server: GitHttpServer) -> None:
    workspace, repo = make_workspace(tmp_path, TOKEN, server.url("missing.git"))
    with trio.fail_after(30), pytest.raises(RepoAccessError) as info:
        await workspace.ensure(repo)
    assert (info.value.code, info.value.http_status) == ("repo_not_found", 409)
    assert TOKEN not in info.value.message
