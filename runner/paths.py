"""The one guard for paths that come from outside: a request, a task list, a repo's config.

Every such path (a task's files, ``doc.updated``, ``tasksFile``, ``.devteam.toml`` paths, a
coverage report) must be relative, normalised and, once symlinks are resolved, inside the
repository. :func:`relative_path` is the static half, checked at registration;
:func:`path_in_repo` adds the symlink half and is checked again at each use, since the
repository's content may have changed in between.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from runner.errors import InvalidInputError

__all__ = ["path_in_repo", "relative_path"]


def relative_path(raw: str, field: str) -> str:
    """Return ``raw`` normalised (``./a//b`` -> ``a/b``) if it is a relative in-repo path.

    Raises:
        InvalidInputError: (400, ``field``) empty, absolute, ``..``, a NUL or a backslash.
    """
    path = PurePosixPath(raw)
    if not raw or "\0" in raw or "\\" in raw or path.is_absolute() or ".." in path.parts:
        raise InvalidInputError(f"{raw!r} must be a relative path inside the repo", field=field)
    if path == PurePosixPath("."):
        raise InvalidInputError(f"{raw!r} names the repo itself, not a path in it", field=field)
    return path.as_posix()


def path_in_repo(root: Path, raw: str, field: str) -> Path:
    """Return ``root / raw`` with symlinks resolved, if it stays inside ``root``.

    Raises:
        InvalidInputError: (400, ``field``) as :func:`relative_path`, or a symlink on the way
            leads out of the repo.
    """
    clean = relative_path(raw, field)
    base = root.resolve()
    resolved = (base / clean).resolve()
    if not resolved.is_relative_to(base):
        raise InvalidInputError(f"{raw!r} points outside the repo", field=field)
    return resolved
