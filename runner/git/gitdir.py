"""Read and tidy a repository's ``.git`` directory without starting a git process.

Used on the hot path of PREP (a process costs milliseconds) and for repairs after a crash.
Only formats git itself writes are parsed; anything unusual returns None so the caller can
ask git instead.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["origin_url_in_config", "read_small", "remove_stale_locks", "remove_tree"]


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
