"""Read and tidy a repository's ``.git`` directory without starting a git process.

Used on the hot path of PREP (a process costs milliseconds) and for repairs after a crash.
Only formats git itself writes are parsed; anything unusual returns None so the caller can
ask git instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

__all__ = [
    "lookup_refs",
    "origin_url_in_config",
    "packed_refs_size",
    "read_refs",
    "read_small",
    "remove_stale_locks",
    "remove_tree",
    "set_flag",
    "take_flag",
]

_FLAG_SET, _FLAG_CLEAR = b"1", b"0"


def remove_tree(path: Path) -> None:
    """Delete ``path`` recursively; a missing path is fine."""
    shutil.rmtree(path, ignore_errors=True)


def take_flag(path: Path) -> bool:
    """Clear the one-byte flag file ``path``; return whether it was set (``1``).

    A flag rewritten in place costs microseconds where creating and deleting a marker file
    costs hundreds on some filesystems (a directory update each time). A missing or unreadable
    flag is clear.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        was_set = os.pread(fd, 1, 0) == _FLAG_SET
        if was_set:
            os.pwrite(fd, _FLAG_CLEAR, 0)
        return was_set
    finally:
        os.close(fd)


def set_flag(path: Path) -> None:
    """Set the one-byte flag file ``path`` (created the first time)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, _FLAG_SET, 0)
    finally:
        os.close(fd)


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
    if not git_dir.is_dir():
        return removed
    found = itertools.chain(
        _files(str(git_dir), "", recursive=False), _files(os.path.join(git_dir, "refs"), "refs/")
    )
    for name, path in found:
        if name.endswith(".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            removed.append(name)
    return removed


def _files(directory: str, prefix: str, *, recursive: bool = True) -> Iterator[tuple[str, str]]:
    """Yield ``(prefix + relative name, path)`` of the regular files under ``directory``.

    ``os.scandir`` rather than ``Path.rglob``: this runs on every stage and is several
    times faster. A missing directory yields nothing.
    """
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_file(follow_symlinks=False):
            yield prefix + entry.name, entry.path
        elif recursive and entry.is_dir(follow_symlinks=False):
            yield from _files(entry.path, f"{prefix}{entry.name}/")


_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
"""A sha-1 or sha-256 object name, as git writes it in a loose ref."""


def _loose_ref(path: str) -> str | None:
    """Return the sha a loose ref file holds; None for a symbolic ref.

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` when there is none).
        ValueError: neither a sha nor a symbolic ref (let git decide).
    """
    with open(path, encoding="utf-8", errors="replace") as file:
        text = file.read()
    value = text.strip()
    if _SHA.fullmatch(value):
        return value
    if text.startswith("ref: "):
        return None
    raise ValueError(f"unrecognised ref file {path}")


def read_refs(git_dir: Path, prefixes: Sequence[str]) -> dict[str, str] | None:
    """Return ``{refname: sha}`` of the refs under ``prefixes`` (e.g. ``"refs/heads/"``).

    Reads ``packed-refs`` and loose ref files the way git does (loose wins). Symbolic refs
    (``refs/remotes/origin/HEAD``) are left out: callers look up branches, never those. Returns
    None when the repository uses something this does not read (reftable, unreadable or
    corrupt files): the caller then asks ``git for-each-ref``.
    """
    if (git_dir / "reftable").exists():
        return None
    refs = {
        name: sha for name, sha in _packed_refs(git_dir).items() if name.startswith(tuple(prefixes))
    }
    try:
        for prefix in prefixes:
            for name, path in _files(os.path.join(git_dir, prefix), prefix):
                if not name.endswith(".lock") and (value := _loose_ref(path)) is not None:
                    refs[name] = value
    except (OSError, ValueError):
        return None
    return refs


def packed_refs_size(git_dir: Path) -> int:
    """Return the size of ``packed-refs`` in bytes (0 when there is none)."""
    try:
        return os.stat(os.path.join(git_dir, "packed-refs")).st_size
    except (FileNotFoundError, NotADirectoryError):
        return 0


def lookup_refs(git_dir: Path, names: Sequence[str]) -> dict[str, str] | None:
    """Return ``{refname: sha}`` of those of the full ref ``names`` that exist.

    Like :func:`read_refs`, but reads only the named refs' files, and ``packed-refs`` only
    when one of them is not a loose file: its cost does not grow with the number of branches.
    None means "ask git" (reftable, an unreadable or unrecognised file).
    """
    if (git_dir / "reftable").exists():
        return None
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        try:
            value = _loose_ref(os.path.join(git_dir, name))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            missing.append(name)
            continue
        except (OSError, ValueError):
            return None
        if value is not None:
            found[name] = value
    if missing:
        packed = _packed_refs(git_dir)
        found.update((name, packed[name]) for name in missing if name in packed)
    return found


def _packed_refs(git_dir: Path) -> dict[str, str]:
    refs: dict[str, str] = {}
    for line in (read_small(git_dir / "packed-refs") or "").splitlines():
        if line.startswith(("#", "^")) or " " not in line:
            continue
        sha, name = line.split(" ", 1)
        refs[name] = sha
    return refs
