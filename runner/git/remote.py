"""Git as child processes: clone, fetch and push, plus the error classification.

Every git command runs through :func:`run_git`, i.e. :func:`runner.process.run.run_process`
in its own process group, so cancelling the caller kills git and its helpers
(``git-remote-https``, ``ssh``). A failure whose stderr matches a ``git`` row of
:data:`runner.failures.RULES` becomes a :class:`~runner.errors.RepoAccessError` (409) with
that row's code: ``git_auth_failed``, ``repo_not_found``, ``repo_access_denied`` (permanent)
or ``git_remote_unavailable`` (transient), and the row in ``extra["failure"]``; any other
failure is a :class:`~runner.errors.GitError` (500 ``git_failed``). git's stderr is redacted
first.

Timeouts: wrap network calls in :func:`git_deadline`. An overrun becomes
``RepoAccessError(code="git_timeout")`` (409, transient): a remote too slow to answer is, for
the client, an unreachable remote, and retrying later is the remedy.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

import structlog
import trio

from runner.errors import GitError, InsufficientStorageError, RepoAccessError
from runner.failures import classify
from runner.git.credentials import git_env
from runner.process import ProcessResult, run_process

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from runner.git.credentials import GitAuth
    from runner.git.urls import RepoUrl

__all__ = ["classify_failure", "clone", "fetch", "git_deadline", "push", "run_git"]

log = structlog.get_logger(__name__)

_STDERR_TAIL = 2000
_NO_SPACE = re.compile(r"no space left on device|disk quota exceeded", re.IGNORECASE)


async def run_git(
    args: Sequence[str],
    auth: GitAuth,
    *,
    cwd: Path | None = None,
    repo: RepoUrl | None = None,
    stdin: bytes | None = None,
    output_cap: int = 64 * 1024,
    config: Sequence[str] = (),
) -> ProcessResult:
    """Run ``git <args>`` with the runner's environment; a non-zero exit is returned.

    With ``cwd`` (a workspace), git is pinned to ``cwd/.git`` and ``cwd`` as work tree: it
    never searches parent directories for a repository. ``config``: ``name=value`` settings
    for this run only (over the environment's).
    """
    env = git_env(auth, repo)
    if cwd is not None:
        env["GIT_DIR"] = str(cwd / ".git")
        env["GIT_WORK_TREE"] = str(cwd)
    settings = [arg for setting in config for arg in ("-c", setting)]
    result = await run_process(
        ["git", *settings, *args], cwd=cwd, env=env, stdin=stdin, output_cap=output_cap
    )
    log.debug(
        "git_ran",
        command=args[0] if args else "",
        returncode=result.returncode,
        duration_s=round(result.duration, 4),
    )
    return result


def classify_failure(
    result: ProcessResult, auth: GitAuth, what: str
) -> GitError | InsufficientStorageError:
    """Turn a failed git run into ``RepoAccessError`` or ``GitError`` with redacted stderr
    (``InsufficientStorageError`` when git ran out of disk space).

    The failure table (:func:`runner.failures.classify`) picks the ``RepoAccessError``'s code.
    """
    stderr = auth.redactor(result.stderr.strip())[-_STDERR_TAIL:]
    detail = stderr or f"exit status {result.returncode}"
    evidence = {
        "git": {
            "command": " ".join(auth.redactor(a) for a in result.args),
            "exitStatus": result.returncode,
            "stderr": stderr,
        }
    }
    if _NO_SPACE.search(stderr):
        log.warning("git_failed", operation=what, code="insufficient_storage", stderr=stderr)
        return InsufficientStorageError(f"{what} failed: {detail}", extra=evidence)
    failure = classify("git", stderr)
    if failure is not None:
        error: GitError = RepoAccessError(
            f"{what}: {failure.reason}: {detail}",
            code=failure.code,
            extra={**evidence, "failure": failure.as_dict()},
        )
    else:
        error = GitError(f"{what} failed: {detail}", extra=evidence)
    log.warning(
        "git_failed", operation=what, code=error.code, returncode=result.returncode, stderr=stderr
    )
    return error


@contextlib.contextmanager
def git_deadline(seconds: float, what: str) -> Iterator[None]:
    """Fail a network git operation that takes longer than ``seconds``.

    Raises:
        RepoAccessError: code ``git_timeout`` when the deadline passes (git is killed).
    """
    try:
        with trio.fail_after(seconds):
            yield
    except trio.TooSlowError:
        log.warning("git_timeout", operation=what, seconds=seconds)
        raise RepoAccessError(
            f"{what} timed out after {seconds:g} s; the remote is too slow or unreachable",
            code="git_timeout",
        ) from None


async def clone(repo: RepoUrl, dest: Path, auth: GitAuth) -> None:
    """Clone ``repo`` into ``dest`` (which must not exist).

    Raises:
        RepoAccessError: the remote is unreachable, missing or refused the credentials.
        GitError: any other failure.
    """
    args = ["clone", "--quiet", "--origin", "origin", "--no-recurse-submodules", "--"]
    result = await run_git([*args, repo.raw, str(dest)], auth, repo=repo)
    if not result.ok:
        raise classify_failure(result, auth, f"clone of {repo.display}")


async def fetch(workdir: Path, repo: RepoUrl, auth: GitAuth, *, also: str | None = None) -> None:
    """Fetch every branch of ``origin`` into ``refs/remotes/origin/*``, pruning deleted ones.

    ``also``: a local branch moved to the remote's in the same run (forced; the caller knows
    it has no commits of its own and is not checked out). Fails when the remote lacks it.
    """
    args = ["fetch", "--quiet", "--prune", "origin"]
    if also is not None:
        args += ["+refs/heads/*:refs/remotes/origin/*", f"+refs/heads/{also}:refs/heads/{also}"]
    # the workspace's housekeeping (packing loose objects when there are many) runs here,
    # once per task, rather than after every commit and merge (see credentials._CONFIG)
    result = await run_git(args, auth, cwd=workdir, repo=repo, config=["maintenance.auto=true"])
    if not result.ok:
        raise classify_failure(result, auth, f"fetch from {repo.display}")


async def push(workdir: Path, repo: RepoUrl, auth: GitAuth, branches: Sequence[str]) -> None:
    """Push the local ``branches`` to the same names on ``origin`` (no force).

    Raises:
        GitError: code ``push_rejected`` when the remote refused a non-fast-forward update.
    """
    if not branches:
        return
    refspecs = [f"refs/heads/{b}:refs/heads/{b}" for b in branches]
    args = ["push", "--porcelain", "--end-of-options", "origin", *refspecs]
    result = await run_git(args, auth, cwd=workdir, repo=repo)
    if result.ok:
        return
    if "[rejected]" in result.stdout or "non-fast-forward" in result.stderr:
        raise GitError(
            f"push to {repo.display} was rejected (the remote has other commits): "
            f"{auth.redactor(result.stdout.strip())[-_STDERR_TAIL:]}",
            code="push_rejected",
        )
    raise classify_failure(result, auth, f"push to {repo.display}")
