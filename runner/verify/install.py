"""Install a Node repository's dependencies once per lock file, shared by every workspace.

The install runs in the working tree (so ``file:`` dependencies and ``.npmrc`` resolve as
the project expects), then its ``node_modules`` moves to ``<cache>/<key>/node_modules`` and
the working tree gets a symlink to it, hidden from git through ``info/exclude``. The key
hashes the lock file, the dependency fields of ``package.json`` and the install flags, so a
second verification of the same lock file reuses the directory without running npm.

``npm ci`` is tried first; when npm says the lock file is out of sync with
``package.json``, ``npm install`` runs instead and the lock file it rewrote is put back: the
workspace is left as the tool left it. Install scripts are off (``--ignore-scripts``) unless
the repository opts in with ``[verify] install_scripts = true``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs
import trio

from runner.process import ProcessResult
from runner.verify.explain import combined

if TYPE_CHECKING:
    from pathlib import Path

    from runner.verify.detect import Command

__all__ = ["Install", "dependency_key", "git_common_dir", "hide_from_git", "install_node_modules"]

_DEPENDENCY_FIELDS = (
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "overrides",
    "workspaces",
)
_COMPLETE = ".devteam-complete"
_OUT_OF_SYNC = "can only install packages when your package.json and package-lock.json"
_LOCK = "package-lock.json"

RunCommand = Callable[["Command"], Awaitable[ProcessResult]]


@attrs.frozen
class Install:
    """What preparing ``node_modules`` did.

    Attributes:
        key: The cache key (lock file, dependency fields, flags).
        reused: True when the cached directory was linked without running npm.
        results: The npm runs, in order (``npm ci``, then ``npm install`` on fallback).
        note: Said to the user (the lock file was out of sync), or None.
    """

    key: str
    reused: bool
    results: tuple[ProcessResult, ...] = ()
    note: str | None = None

    @property
    def ok(self) -> bool:
        """Whether ``node_modules`` is in place."""
        return self.reused or (bool(self.results) and self.results[-1].ok)


def dependency_key(repo: Path, *, install_scripts: bool) -> str:
    """Hash what decides the installed tree: lock file, dependency fields, install flags."""
    digest = hashlib.sha256()
    lock = repo / _LOCK
    digest.update(lock.read_bytes() if lock.is_file() else b"no lock")
    try:
        package = json.loads((repo / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        package = {}
    fields = {k: package.get(k) for k in _DEPENDENCY_FIELDS} if isinstance(package, dict) else {}
    digest.update(json.dumps(fields, sort_keys=True).encode())
    digest.update(b"scripts" if install_scripts else b"no-scripts")
    return digest.hexdigest()[:32]


def git_common_dir(repo: Path) -> Path | None:
    dot_git = repo / ".git"
    if dot_git.is_dir():
        return dot_git
    if not dot_git.is_file():
        return None
    text = dot_git.read_text(encoding="utf-8").strip()
    if not text.startswith("gitdir:"):
        return None
    git_dir = (repo / text.removeprefix("gitdir:").strip()).resolve()
    common = git_dir / "commondir"
    if common.is_file():
        return (git_dir / common.read_text(encoding="utf-8").strip()).resolve()
    return git_dir


def hide_from_git(repo: Path, entry: str) -> None:
    """Add ``entry`` to the repository's ``info/exclude`` (a symlink escapes ``dir/`` rules)."""
    common = git_common_dir(repo)
    if common is None:
        return
    exclude = common / "info" / "exclude"
    existing = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
    if entry in existing.splitlines():
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    separator = "" if not existing or existing.endswith("\n") else "\n"
    exclude.write_text(f"{existing}{separator}{entry}\n", encoding="utf-8")


def _link(repo: Path, target: Path) -> None:
    hide_from_git(repo, "/node_modules")
    link = repo / "node_modules"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(target, target_is_directory=True)


def _store(repo: Path, target: Path) -> None:
    """Move the fresh ``node_modules`` into the cache (the first of two racing installs wins)."""
    built = repo / "node_modules"
    if not built.is_dir():
        built.mkdir()  # a package without dependencies still gets its (empty) directory
    (built / _COMPLETE).touch()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".incoming-{uuid.uuid4().hex}"
    os.rename(built, staging)
    try:
        os.rename(staging, target)
    except OSError:  # another workspace stored the same key first: use that one
        shutil.rmtree(staging, ignore_errors=True)
    _link(repo, target)


async def install_node_modules(
    repo: Path, npm: str, cache: Path, *, install_scripts: bool, run: RunCommand
) -> Install:
    """Link the cached ``node_modules`` for this lock file, installing it first if needed."""
    key = await trio.to_thread.run_sync(
        lambda: dependency_key(repo, install_scripts=install_scripts)
    )
    target = cache / key / "node_modules"
    if await trio.to_thread.run_sync((target / _COMPLETE).is_file):
        await trio.to_thread.run_sync(_link, repo, target)
        return Install(key, reused=True)
    link = repo / "node_modules"
    if link.is_symlink():
        link.unlink()
    lock = repo / _LOCK
    saved = lock.read_bytes() if lock.is_file() else None
    flags: tuple[str, ...] = ("--no-audit", "--no-fund", "--prefer-offline", "--no-progress")
    if not install_scripts:
        flags = (*flags, "--ignore-scripts")
    results: list[ProcessResult] = []
    note = None
    try:
        if saved is not None:
            results.append(await run((npm, "ci", *flags)))
        if saved is None or (
            not results[-1].ok and _OUT_OF_SYNC in combined(results[-1].stdout, results[-1].stderr)
        ):
            if saved is not None:
                note = (
                    "package-lock.json is out of sync with package.json: installed with "
                    "npm install (the lock file in the workspace is left unchanged)"
                )
            results.append(await run((npm, "install", *flags)))
    finally:
        await trio.to_thread.run_sync(_restore_lock, lock, saved)
    install = Install(key, reused=False, results=tuple(results), note=note)
    if install.ok:
        await trio.to_thread.run_sync(_store, repo, target)
    else:  # leave no half-installed tree behind
        await trio.to_thread.run_sync(lambda: shutil.rmtree(link, ignore_errors=True))
    return install


def _restore_lock(lock: Path, saved: bytes | None) -> None:
    if saved is None:
        lock.unlink(missing_ok=True)
    elif not lock.is_file() or lock.read_bytes() != saved:
        lock.write_bytes(saved)
