from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import runner.git.remote
from runner.errors import GitError, InvalidInputError
from runner.git import GitAuth, Workspace, validate_repo_url, workspace_path
from runner.process.run import ProcessResult

if TYPE_CHECKING:
    from collections.abc import Sequence


@pytest.mark.parametrize(
    ("url", "kind", "transport"),
    [
        ("https://github.com/org/repo.git", "https", "https"),
        ("https://gitlab.example.com:8443/group/sub/repo", "https", "https"),
        ("http://127.0.0.1:8080/repo.git", "https", "http"),
        ("http://localhost/repo.git", "https", "http"),
        ("git@github.com:org/repo.git", "ssh", "ssh"),
        ("github.com:org/repo.git", "ssh", "ssh"),
        ("ssh://git@github.com/org/repo.git", "ssh", "ssh"),
        ("ssh://git@host.example:2222/org/repo.git", "ssh", "ssh"),
        ("/srv/git/repo.git", "local", "file"),
        ("file:///srv/git/repo.git", "local", "file"),
    ],
)
def test_validate_repo_url_accepts(url: str, kind: str, transport: str) -> None:
    repo = validate_repo_url(url, allow_local=True)
    assert (repo.raw, repo.kind, repo.transport, repo.display) == (url, kind, transport, url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ext::sh -c touch% /tmp/pwned",
        "ext::sh",
        "fd::17",
        "https::github.com/x",
        "-uhttps://x/y",
        "--upload-pack=touch /tmp/x",
        "https://github.com/org/re po.git",
        "https://github.com/org/repo.git\n",
        "https://github.com/org/\x00repo",
        "https://github.com/org/repo\u200b",
        "http://github.com/org/repo.git",
        "git://github.com/org/repo.git",
        "ftp://host/repo",
        "https://github.com/org/repo.git?x=1",
        "https://github.com/",
        "https:///org/repo",
        "https://-oProxyCommand=x/repo",
        "ssh://-oProxyCommand=touch/repo",
        "git@-oProxyCommand=x:repo",
        "relative/path/repo",
        "./repo",
        "https://github.com/org/../etc",
        "https://github.com:99999/org/repo",
        "https://[::1]/repo.git",
        "https://github.com/" + "a" * 3000,
    ],
)
def test_validate_repo_url_rejects(url: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_repo_url(url, allow_local=True)
    assert info.value.field == "repoUrl"
    assert info.value.details == [{"field": "repoUrl", "message": info.value.message}]


@pytest.mark.parametrize("url", ["/srv/git/repo.git", "file:///srv/git/repo.git"])
def test_validate_repo_url_local_needs_allow_local(url: str) -> None:
    with pytest.raises(InvalidInputError, match="ALLOW_LOCAL_REPOS"):
        validate_repo_url(url, allow_local=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://alice:hunter2secret@github.com/org/repo.git",
        "https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/org/repo.git",
        "https://x-access-token:hunter2secret@github.com/org/repo.git",
        "ssh://git:hunter2secret@github.com/org/repo.git",
        "git:hunter2secret@github.com:org/repo.git",
    ],
)
def test_validate_repo_url_rejects_credentials_without_echoing(url: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_repo_url(url, allow_local=False)
    assert "GIT_TOKEN" in info.value.message
    for secret in ("hunter2secret", "ghp_abc", "alice"):
        assert secret not in info.value.message
        assert secret not in str(info.value.details)


def test_workspace_path_is_per_customer_and_stable(tmp_path: Path) -> None:
    one = validate_repo_url("https://github.com/Org/Repo.git", allow_local=False)
    same = validate_repo_url("https://GITHUB.com/Org/Repo/", allow_local=False)
    other = validate_repo_url("https://github.com/org/other.git", allow_local=False)
    path = workspace_path(tmp_path, "acme", one)
    assert path.parent == tmp_path / "acme"
    assert path.name.startswith("repo-")
    assert workspace_path(tmp_path, "acme", same) == path
    assert workspace_path(tmp_path, "acme", other) != path
    assert workspace_path(tmp_path, "beta", one).name == path.name
    with pytest.raises(InvalidInputError):
        workspace_path(tmp_path, "../evil", one)


_PREFIXES = st.sampled_from(
    [
        "",
        "https://",
        "http://",
        "ssh://",
        "git@",
        "file://",
        "/",
        "ext::",
        "fd::",
        "-",
        "git://",
        "https://127.0.0.1/",
        "git@host:",
        "ssh://git@host/",
        "x::",
        "HTTPS://",
    ]
)
_BODY = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9./_-]{0,30}", fullmatch=True),
    st.text(
        alphabet=st.sampled_from(list("abcAZ09./:@-_~+%?#=:[] \t\n\x00\x7f\u200b\u00e9!$;&'\"|`")),
        max_size=40,
    ),
)


@given(prefix=_PREFIXES, body=_BODY, allow_local=st.booleans())
def test_validate_repo_url_accepted_values_are_safe(
    prefix: str, body: str, allow_local: bool
) -> None:
    url = prefix + body
    try:
        repo = validate_repo_url(url, allow_local=allow_local)
    except InvalidInputError as exc:
        field = exc.field
    else:
        field = None
    if field is not None:
        assert field == "repoUrl"
        return
    assert repo.raw == url
    assert not url.startswith("-")
    assert "::" not in url
    assert not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url)
    assert repo.kind in {"https", "ssh", "local"}
    assert allow_local or repo.kind != "local"


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(prefix=_PREFIXES, body=_BODY)
async def test_rejected_repo_url_never_reaches_git(
    monkeypatch: pytest.MonkeyPatch, prefix: str, body: str
) -> None:
    spawned: list[tuple[str, ...]] = []

    async def no_git(cmd: Sequence[str], **kwargs: Any) -> ProcessResult:
        spawned.append(tuple(cmd))
        return ProcessResult(tuple(cmd), 128, "", "fatal: offline test", 0.0)

    monkeypatch.setattr(runner.git.remote, "run_process", no_git)
    url = prefix + body
    with tempfile.TemporaryDirectory() as tmp:
        auth = GitAuth.create(Path(tmp) / "state", allow_local=True)
        try:
            repo = validate_repo_url(url, allow_local=True)
        except InvalidInputError:
            event("rejected")
            assert spawned == []
            return
        event(f"accepted {repo.kind}")
        workspace = Workspace(workspace_path(Path(tmp) / "ws", "c", repo), auth)
        with pytest.raises(GitError):
            await workspace.ensure(repo)
    clone = [argv for argv in spawned if argv[1] == "clone"]
    assert clone
    assert clone[0][-3:-1] == ("--", url)  # the URL always comes after "--"
