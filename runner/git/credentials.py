"""Credentials and the environment of every git child process.

The token reaches git only through ``GIT_ASKPASS``: a small script in a runner-owned
directory (mode 0700) that prints ``$DEVTEAM_GIT_PASSWORD``. The script holds no secret; the
value lives only in the environment of the git child (never in argv, a URL, ``.git/config``
or a file). Every git child gets a minimal environment: no system or user config (a
runner-owned ``HOME``), no terminal prompts, ``GIT_ALLOW_PROTOCOL`` limited to the transport of
the repository in use (nothing for local commands), ssh in batch mode, the configured author.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from runner.redact import Redactor

if TYPE_CHECKING:
    from runner.config import Settings
    from runner.git.urls import RepoUrl

__all__ = ["DEFAULT_USERNAME", "GitAuth", "git_env"]

DEFAULT_USERNAME = "x-access-token"
"""The user name sent with ``GIT_TOKEN`` when ``GIT_USERNAME`` is unset (GitHub's convention)."""

_ASKPASS = """#!/bin/sh
# devteam-runner: answers git's credential prompts from the environment; holds no secret.
case "$1" in
  [Uu]sername*) printf '%s\\n' "$DEVTEAM_GIT_USERNAME" ;;
  *) printf '%s\\n' "$DEVTEAM_GIT_PASSWORD" ;;
esac
"""
# Configuration for every git child, passed through GIT_CONFIG_COUNT (not argv, not a file).
_CONFIG = (
    ("credential.helper", ""),  # never store or look up credentials elsewhere
    ("core.hooksPath", "/dev/null"),  # hooks written by a tool never run
    ("core.fsmonitor", "false"),
    ("advice.detachedHead", "false"),
    ("init.defaultBranch", "main"),
    ("protocol.version", "2"),
    ("submodule.recurse", "false"),
    ("gc.autoDetach", "false"),
    # no housekeeping process after each commit and merge: the fetch runs it (remote.fetch)
    ("maintenance.auto", "false"),
)
_PASSTHROUGH = ("PATH", "SSH_AUTH_SOCK", "TMPDIR")


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


@attrs.frozen
class GitAuth:
    """What git children need: credentials, author, runner-owned home and askpass script.

    Build it with :meth:`create` (writes the askpass script) or :meth:`from_settings`.
    """

    home: Path
    askpass: Path
    author_name: str = "devteam-runner"
    author_email: str = "devteam-runner@localhost"
    username: str | None = None
    token: str | None = attrs.field(default=None, repr=False)
    allow_local: bool = False

    @classmethod
    def create(
        cls,
        state_dir: Path,
        *,
        username: str | None = None,
        token: str | None = None,
        author_name: str = "devteam-runner",
        author_email: str = "devteam-runner@localhost",
        allow_local: bool = False,
    ) -> GitAuth:
        """Write the askpass script under ``state_dir`` (mode 0700) and return the auth."""
        base = _private_dir(Path(state_dir).absolute())
        home = _private_dir(base / "home")
        askpass = base / "askpass.sh"
        tmp = base / "askpass.sh.tmp"
        tmp.write_text(_ASKPASS)
        tmp.chmod(0o700)
        tmp.replace(askpass)
        return cls(
            home=home,
            askpass=askpass,
            author_name=author_name,
            author_email=author_email,
            username=username,
            token=token,
            allow_local=allow_local,
        )

    @classmethod
    def from_settings(cls, settings: Settings, state_dir: Path | None = None) -> GitAuth:
        """Build from ``GIT_USERNAME``/``GIT_TOKEN``/author settings.

        ``state_dir`` defaults to ``WORKSPACE_DIR/.runner`` (a customer id never starts with
        a dot, so it cannot collide with a workspace).
        """
        return cls.create(
            state_dir if state_dir is not None else settings.workspace_dir / ".runner",
            username=settings.git_username,
            token=settings.git_token,
            author_name=settings.git_author_name,
            author_email=settings.git_author_email,
            allow_local=settings.allow_local_repos,
        )

    @property
    def redactor(self) -> Redactor:
        """A redactor hiding the token (and the usual token shapes)."""
        return Redactor((self.token,) if self.token else ())


def git_env(auth: GitAuth, repo: RepoUrl | None = None) -> dict[str, str]:
    """Return the complete environment for a git child process.

    Args:
        auth: Credentials, author and the runner-owned home.
        repo: The remote this command talks to; ``None`` for local-only commands, which then
            may use no transport at all. The token is only offered to http(s) remotes.
    """
    env = {name: os.environ[name] for name in _PASSTHROUGH if name in os.environ}
    env.setdefault("PATH", os.defpath)
    home = str(auth.home)
    env.update(
        {
            "HOME": home,
            "XDG_CONFIG_HOME": home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_ALLOW_PROTOCOL": _allowed_protocol(auth, repo),
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
            "GIT_ASKPASS": str(auth.askpass),
            "SSH_ASKPASS": str(auth.askpass),
            "GIT_AUTHOR_NAME": auth.author_name,
            "GIT_AUTHOR_EMAIL": auth.author_email,
            "GIT_COMMITTER_NAME": auth.author_name,
            "GIT_COMMITTER_EMAIL": auth.author_email,
            "LC_ALL": "C",
            "LANG": "C",
            "GIT_CONFIG_COUNT": str(len(_CONFIG)),
        }
    )
    for index, (key, value) in enumerate(_CONFIG):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    if repo is not None and repo.transport in {"https", "http"} and auth.token:
        env["DEVTEAM_GIT_USERNAME"] = auth.username or DEFAULT_USERNAME
        env["DEVTEAM_GIT_PASSWORD"] = auth.token
    return env


def _allowed_protocol(auth: GitAuth, repo: RepoUrl | None) -> str:
    """Allow exactly the repository's own transport (``file`` only when local repos are on)."""
    if repo is None:
        return ""
    if repo.transport == "file" and not auth.allow_local:
        return ""
    return repo.transport
