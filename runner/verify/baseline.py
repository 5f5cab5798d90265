"""The base commit's own test failures, so a branch is blamed only for what it broke.

The base is the merge base of the base branch and ``HEAD``: the commit the task started
from. Its tree is exported with ``git archive`` into the verification's work directory and
its tests run with the same plan (without coverage). The failing test ids are cached per
base commit and test command under ``<git dir>/devteam-verify/baseline/``, so the base runs
once however many attempts and tasks are verified on top of it.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from typing import TYPE_CHECKING

import attrs
import trio

from runner.verify.install import git_common_dir

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from runner.verify.results import TestReport

__all__ = ["Baseline", "base_commit", "base_failures", "command_key", "export_tree"]


@attrs.frozen
class Baseline:
    """The tests failing on the base commit (``known`` False when the base could not run)."""

    commit: str
    failures: frozenset[str] = frozenset()
    known: bool = True
    cached: bool = False
    note: str | None = None

    def to_wire(self) -> dict[str, object]:
        """Return what the results say about the base run."""
        wire: dict[str, object] = {"commit": self.commit, "failures": sorted(self.failures)}
        if self.cached:
            wire["cached"] = True
        if self.note:
            wire["note"] = self.note
        return wire


def _cache_file(repo: Path, commit: str, key: str) -> Path | None:
    common = git_common_dir(repo)
    if common is None:
        return None
    return common / "devteam-verify" / "baseline" / f"{commit}-{key}.json"


def command_key(command: tuple[str, ...], work: Path) -> str:
    """Hash a test command with its per-run work directory taken out."""
    text = "\0".join(command).replace(str(work), "<work>")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_cache(path: Path | None) -> frozenset[str] | None:
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return frozenset(str(f) for f in data["failures"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(path: Path | None, failures: frozenset[str]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"failures": sorted(failures)}), encoding="utf-8")


def export_tree(archive: Path, into: Path) -> None:
    """Unpack a ``git archive`` tarball (regular files and links inside ``into`` only)."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()


async def base_commit(git: Callable[..., Awaitable[tuple[int, str]]], base: str) -> str | None:
    """Return the merge base of ``base`` and ``HEAD`` (None when there is none)."""
    code, out = await git("merge-base", "--end-of-options", base, "HEAD")
    return out.strip() if code == 0 and out.strip() else None


async def base_failures(
    repo: Path,
    commit: str,
    key: str,
    run_base: Callable[[], Awaitable[TestReport | None]],
) -> Baseline:
    """Return the base's failing tests, from the cache or by running ``run_base``.

    ``run_base`` exports the base and runs its tests; it returns None when the base could
    not be tested (its setup failed, it timed out): then no failure counts as pre-existing.
    """
    path = await trio.to_thread.run_sync(_cache_file, repo, commit, key)
    cached = await trio.to_thread.run_sync(_read_cache, path)
    if cached is not None:
        return Baseline(commit, cached, cached=True)
    report = await run_base()
    if report is None or report.crashed:
        why = report.describe() if report is not None else "its setup failed"
        return Baseline(commit, known=False, note=f"the base could not be tested: {why}")
    failures = frozenset(report.failures)
    await trio.to_thread.run_sync(_write_cache, path, failures)
    return Baseline(commit, failures)
