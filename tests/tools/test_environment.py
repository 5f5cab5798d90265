from __future__ import annotations

from typing import TYPE_CHECKING

from runner.config import Settings
from runner.tools.environment import tool_environment

if TYPE_CHECKING:
    from pathlib import Path


def test_tool_environment_keeps_only_the_allowlist(tmp_path: Path) -> None:
    base = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "GIT_TOKEN": "ghp_secret",
        "GIT_USERNAME": "bot",
        "DATABASE_URL": "sqlite:///x.db",
        "HOME": "/root",
        "SSH_AUTH_SOCK": "/tmp/agent",
    }
    settings = Settings(model_env={"OPENAI_API_KEY": "sk-x", "AIDER_DARK_MODE": "true"})
    env = tool_environment(settings, home=tmp_path, extra={"BROWSER": "true"}, base=base)
    assert env["PATH"] == "/usr/bin"
    assert env["LANG"] == env["LC_ALL"] == "C.UTF-8"
    assert env["HOME"] == str(tmp_path)
    assert env["TERM"] == "dumb"
    assert env["OPENAI_API_KEY"] == "sk-x"
    assert env["AIDER_DARK_MODE"] == "true"
    assert env["BROWSER"] == "true"
    for name in ("GIT_TOKEN", "GIT_USERNAME", "DATABASE_URL", "SSH_AUTH_SOCK"):
        assert name not in env


def test_tool_environment_never_passes_git_credentials_even_if_configured(tmp_path: Path) -> None:
    settings = Settings(model_env={"GIT_TOKEN": "ghp_sneaky", "OPENAI_API_KEY": "sk-x"})
    env = tool_environment(settings, home=tmp_path, base={})
    assert "GIT_TOKEN" not in env
    assert env["PATH"]  # falls back to the default search path
