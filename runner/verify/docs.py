"""Judge ``doc.updated``: the branch changed each named file, and left it with content.

A bare name (``task_outcomes.md``) matches any changed file with that basename; a path
(``docs/DevTeam/task_outcomes.md`` or ``DevTeam/task_outcomes.md``) matches a changed path
that ends with it on a directory boundary. A file the branch deleted, or left empty (aider
creates the files it is handed), is not an update.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from runner.verify.criteria import Criterion, CriterionResult

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["doc_result", "matching_files"]


def matching_files(wanted: str, changed: Sequence[str]) -> list[str]:
    """Return the changed paths that ``wanted`` names (by basename, or by path suffix)."""
    want = PurePosixPath(wanted.removeprefix("./")).parts
    found = []
    for path in changed:
        parts = PurePosixPath(path.removeprefix("./")).parts
        if len(want) <= len(parts) and parts[len(parts) - len(want) :] == want:
            found.append(path)
    return found


def _has_content(path: Path) -> bool:
    try:
        return path.is_file() and bool(path.read_bytes().strip())
    except OSError:
        return False


def doc_result(criterion: Criterion, changed: Sequence[str], repo: Path) -> CriterionResult:
    """Pass when every named file was changed and has content; ``files`` lists the matches."""
    files: list[str] = []
    missing: list[str] = []
    for wanted in criterion.paths:
        hits = matching_files(wanted, changed)
        useful = [h for h in hits if _has_content(repo / h)]
        files.extend(h for h in useful if h not in files)
        if not hits:
            missing.append(f"not changed: {wanted}")
        elif not useful:
            gone = all(not (repo / h).exists() for h in hits)
            missing.append(f"{'deleted' if gone else 'left empty'}: {', '.join(hits)}")
    if not missing:
        return CriterionResult(criterion.name, True, files=tuple(files))
    return CriterionResult(
        criterion.name,
        False,
        actual="; ".join(missing),
        required=criterion.required,
        files=tuple(files),
    )
