"""Read and tidy a repository's ``.git`` directory without starting a git process.

Used on the hot path of PREP (a process costs milliseconds) and for repairs after a crash.
Only formats git itself writes are parsed; anything unusual returns None so the caller can
ask git instead.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["origin_url_in_config", "read_refs", "read_small", "remove_stale_locks", "remove_tree"]


def remove_tree(path: Path) -> None:
    """Delete ``path`` recursively; a missing path is fine."""
    shutil.rmtree(path, ignore_errors=True)


def read_small(path: Path) -> str | None:
    """Read a small git metadata file (HEAD, config); None if it is missing."""
    try:
        return path.read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None


def origin_url_in_config(config: Path) -> str | None:
    """Return ``remote.origin.url`` from a config file git wrote, if plainly readable.

    Only the simple form git writes on clone is recognised; anything else (quotes, escapes,
    includes) returns None and the caller asks git.
    """
    text = read_small(config)
    if text is None:
        return None
    section = None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("["):
            section = line
        elif section == '[remote "origin"]' and line.startswith("url = "):
            value = line.removeprefix("url = ")
            return None if any(c in value for c in '\\"#;') else value
    return None


def remove_stale_locks(git_dir: Path) -> list[str]:
    """Delete ``*.lock`` files in ``git_dir`` and under ``refs/``; return their relative paths.

    Only safe when no git command runs on the repository (the caller holds the workspace).
    """
    removed: list[str] = []
    if git_dir.is_dir():
        for lock in [*git_dir.glob("*.lock"), *git_dir.glob("refs/**/*.lock")]:
            lock.unlink(missing_ok=True)
            removed.append(str(lock.relative_to(git_dir)))
    return removed


def _ref_value(text: str) -> str | None:
    value = text.strip()
    if len(value) in {40, 64} and all(c in "0123456789abcdef" for c in value):
        return value
    return None


def read_refs(git_dir: Path, prefixes: Sequence[str]) -> dict[str, str] | None:
    """Return ``{refname: sha}`` of the refs under ``prefixes`` (e.g. ``"refs/heads/"``).

    Reads ``packed-refs`` and loose ref files the way git does (loose wins). Symbolic refs
    (``refs/remotes/origin/HEAD``) are left out: callers look up branches, never those. Returns
    None when the repository uses something this does not read (reftable, unreadable or
    corrupt files): the caller then asks ``git for-each-ref``.
    """
    if (git_dir / "reftable").exists():
        return None
    refs: dict[str, str] = {}
    packed = read_small(git_dir / "packed-refs") or ""
    for line in packed.splitlines():
        if line.startswith(("#", "^")) or " " not in line:
            continue
        sha, name = line.split(" ", 1)
        if name.startswith(tuple(prefixes)):
            refs[name] = sha
    for prefix in prefixes:
        base = git_dir / prefix
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if not path.is_file() or path.name.endswith(".lock"):
                continue
            try:
                text = path.read_text()
            except OSError:
                return None
            value = _ref_value(text)
            if value is not None:
                refs[path.relative_to(git_dir).as_posix()] = value
            elif not text.startswith("ref: "):
                return None  # neither a sha nor a symbolic ref: let git decide
    return refs
