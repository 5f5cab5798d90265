from __future__ import annotations

import stat
from typing import TYPE_CHECKING

import trio

from runner.config import Settings
from runner.git import GitAuth, git_env, validate_repo_url
from runner.process.run import run_process

if TYPE_CHECKING:
    from pathlib import Path

TOKEN = "tok-cred-test-9876543210"


def test_askpass_script_is_private_and_holds_no_secret(tmp_path: Path) -> None:
    auth = GitAuth.create(tmp_path / "state", username="bot", token=TOKEN)
    assert stat.S_IMODE(auth.askpass.stat().st_mode) == 0o700
    assert stat.S_IMODE(auth.askpass.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(auth.home.stat().st_mode) == 0o700
    assert TOKEN not in auth.askpass.read_text()
    assert TOKEN not in repr(auth)


async def test_askpass_answers_from_the_environment(tmp_path: Path) -> None:
    auth = GitAuth.create(tmp_path / "state", username="bot", token=TOKEN)
    env = git_env(auth, validate_repo_url("https://example.com/r.git", allow_local=False))
    with trio.fail_after(10):
        user = await run_process(
            [str(auth.askpass), "Username for 'https://example.com': "], env=env
        )
        password = await run_process([str(auth.askpass), "Password for 'https://bot@x': "], env=env)
    assert user.stdout == "bot\n"
    assert password.stdout == f"{TOKEN}\n"


def test_git_env_is_minimal_and_locked_down(tmp_path: Path) -> None:
    auth = GitAuth.create(tmp_path / "state", token=TOKEN, author_name="Bot", allow_local=True)
    https = git_env(auth, validate_repo_url("https://example.com/r.git", allow_local=False))
    assert https["GIT_TERMINAL_PROMPT"] == "0"
    assert https["GIT_PROTOCOL_FROM_USER"] == "0"
    assert https["GIT_CONFIG_NOSYSTEM"] == "1"
    assert https["GIT_ALLOW_PROTOCOL"] == "https"
    assert https["HOME"] == str(auth.home)
    assert https["XDG_CONFIG_HOME"] == str(auth.home)
    assert "BatchMode=yes" in https["GIT_SSH_COMMAND"]
    assert https["GIT_AUTHOR_NAME"] == https["GIT_COMMITTER_NAME"] == "Bot"
    assert https["LC_ALL"] == "C"
    assert https["DEVTEAM_GIT_PASSWORD"] == TOKEN
    assert https["DEVTEAM_GIT_USERNAME"] == "x-access-token"
    ssh = git_env(auth, validate_repo_url("git@example.com:r.git", allow_local=False))
    assert ssh["GIT_ALLOW_PROTOCOL"] == "ssh"
    assert "DEVTEAM_GIT_PASSWORD" not in ssh  # the token only goes to http(s) remotes
    local = git_env(auth, validate_repo_url("/srv/r.git", allow_local=True))
    assert local["GIT_ALLOW_PROTOCOL"] == "file"
    assert git_env(auth)["GIT_ALLOW_PROTOCOL"] == ""
    assert "DEVTEAM_GIT_PASSWORD" not in git_env(auth)
    loopback = git_env(auth, validate_repo_url("http://127.0.0.1:9/r.git", allow_local=False))
    assert loopback["GIT_ALLOW_PROTOCOL"] == "http"


def test_git_auth_from_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"WORKSPACE_DIR": str(tmp_path / "ws"), "GIT_USERNAME": "u", "GIT_TOKEN": TOKEN}
    )
    auth = GitAuth.from_settings(settings)
    assert auth.askpass.parent == (tmp_path / "ws" / ".runner").absolute()
    assert (auth.username, auth.token, auth.allow_local) == ("u", TOKEN, True)
    assert auth.redactor(f"x {TOKEN} y") == "x *** y"
