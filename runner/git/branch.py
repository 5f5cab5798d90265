"""Task branch names (CONTRACT §3) and a pure check of git's branch-name rules."""

from __future__ import annotations

import re
import unicodedata

from runner.errors import InvalidInputError

__all__ = [
    "MAX_SLUG_LENGTH",
    "branch_name",
    "check_branch_name",
    "check_revision",
    "is_valid_branch_name",
    "slugify",
]

MAX_SLUG_LENGTH = 48
# A trailing " to|in|into|from|on <path>" clause; <path> is one path-like word (has a "/" or an
# extension), optionally in backticks.
_PATH_CLAUSE = re.compile(
    r"\s+(?:to|in|into|from|on)\s+`?(?:[\w.-]*/[\w./-]*|[\w-]+\.[A-Za-z0-9]+)`?[.\s]*$",
    re.IGNORECASE,
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def slugify(text: str, max_length: int = MAX_SLUG_LENGTH) -> str:
    """Kebab-case ``text`` (ASCII only) and cut it to ``max_length`` on a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NOT_ALNUM.sub("-", ascii_text.lower()).strip("-")
    if len(slug) <= max_length:
        return slug
    cut = slug[: max_length + 1]
    boundary = cut.rfind("-")
    return (cut[:boundary] if boundary > 0 else slug[:max_length]).strip("-")


def branch_name(task_id: str, title: str) -> str:
    """Return ``task/<id with dots as dashes>-<slug of the title>``.

    The slug drops a trailing " to|in|into|from|on <path>" clause, e.g.
    ``("1.1.1", "Add DEVTEAM_ENABLED flag to src/config.js")`` gives
    ``"task/1-1-1-add-devteam-enabled-flag"``. The result is always a valid branch name.
    """
    ident = _ID_UNSAFE.sub("-", task_id).strip("-") or "task"
    slug = slugify(_PATH_CLAUSE.sub("", title))
    return f"task/{ident}-{slug}" if slug else f"task/{ident}"


def is_valid_branch_name(name: str) -> bool:
    """Return whether ``name`` passes ``git check-ref-format --branch`` (no ``@{-N}`` forms).

    Stricter than git in two ways: a leading ``-`` is refused so that a name can never be
    taken for an option, and ``HEAD`` is refused (``origin/HEAD`` is a symbolic ref).
    """
    if not name or name.startswith("-") or name in {"@", "HEAD"} or len(name) > 255:
        return False
    if _BAD_REF_CHARS.search(name) or ".." in name or "@{" in name or "//" in name:
        return False
    if name.startswith("/") or name.endswith(("/", ".")):
        return False
    return all(
        part and not part.startswith(".") and not part.endswith(".lock") for part in name.split("/")
    )


def check_branch_name(name: str, field: str) -> str:
    """Return ``name`` if it is a valid branch name.

    Raises:
        InvalidInputError: naming ``field``.
    """
    if not is_valid_branch_name(name):
        raise InvalidInputError(f"{field} is not a valid git branch name", field=field)
    return name


def check_revision(rev: str) -> str:
    """Return ``rev`` if it can be passed to git as a revision (never taken for an option).

    Raises:
        InvalidInputError: naming the ``ref`` field.
    """
    if not rev or rev.startswith("-") or any(c.isspace() or ord(c) < 32 for c in rev):
        raise InvalidInputError("not a valid git revision", field="ref")
    return rev
