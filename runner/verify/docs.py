"""Judge ``doc.updated``: the branch changed each named file.

A bare name (``task_outcomes.md``) matches any changed file with that basename; a path
(``docs/DevTeam/task_outcomes.md`` or ``DevTeam/task_outcomes.md``) matches a changed path
that ends with it on a directory boundary.
"""

from __future__ import annotations

from pathlib import PurePosixPath
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


def doc_result(criterion: Criterion, changed: Sequence[str]) -> CriterionResult:
    """Pass when every named file was changed; ``files`` lists the changed matches."""
    files: list[str] = []
    missing: list[str] = []
    for wanted in criterion.paths:
        hits = matching_files(wanted, changed)
        files.extend(h for h in hits if h not in files)
        if not hits:
            missing.append(wanted)
    if not missing:
        return CriterionResult(criterion.name, True, files=tuple(files))
    return CriterionResult(
        criterion.name,
        False,
        actual=f"not changed: {', '.join(missing)}",
        required=criterion.required,
        files=tuple(files),
    )
