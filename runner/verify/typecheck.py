"""Count type-checker and linter errors, and judge ``type.strict`` / ``lint.clean``.

One counter reads the output of every supported tool, so a configured command that runs
one of them is counted the same way as a detected one:

- ``tsc --pretty false``: ``src/a.ts(3,7): error TS2322: ...`` lines;
- mypy: ``pkg/a.py:3: error: ...`` lines; pyright: ``  /abs/a.py:3:5 - error: ...`` lines;
- ruff: ``Found N errors.``; eslint: ``✖ N problems (E errors, W warnings)``.

A command that failed without output we recognise counts as one error.
"""

from __future__ import annotations

import re

import attrs

from runner.verify.criteria import Criterion, CriterionResult

__all__ = ["ErrorCount", "check_result", "count_errors", "skipped_result"]

_LINE_PATTERNS = (
    re.compile(r"\berror TS\d+:"),  # tsc
    re.compile(r"^\S.*?:\d+(?::\d+)?: error:", re.MULTILINE),  # mypy
    re.compile(r"^\s+\S.*?:\d+:\d+ - error:", re.MULTILINE),  # pyright
)
_SUMMARIES = (
    re.compile(r"\((?P<n>\d+) errors?,"),  # eslint stylish
    re.compile(r"^Found (?P<n>\d+) errors?\b", re.MULTILINE),  # ruff, mypy
    re.compile(r"^(?P<n>\d+) errors?, \d+ warnings?", re.MULTILINE),  # pyright
)


@attrs.frozen
class ErrorCount:
    """Errors found by a checker; ``recognised`` is False when we fell back on the exit code."""

    errors: int
    recognised: bool = True


def count_errors(output: str, returncode: int) -> ErrorCount:
    """Count the errors in a checker's combined output."""
    for pattern in _LINE_PATTERNS:
        found = len(pattern.findall(output))
        if found:
            return ErrorCount(found)
    for pattern in _SUMMARIES:
        matches = pattern.findall(output)
        if matches:
            return ErrorCount(int(matches[-1]))
    if returncode != 0:
        return ErrorCount(1, recognised=False)
    return ErrorCount(0)


def _plural(count: int) -> str:
    return f"{count} error" if count == 1 else f"{count} errors"


def check_result(criterion: Criterion, count: ErrorCount) -> CriterionResult:
    """Judge an error-budget criterion (``0 errors`` / ``≤N errors``)."""
    assert criterion.limit is not None
    details: dict[str, object] = {}
    if not count.recognised:
        details["note"] = "the command failed without output we recognise"
    return CriterionResult(
        criterion.name,
        count.errors <= criterion.limit,
        _plural(count.errors),
        criterion.required,
        details=details,
    )


def skipped_result(criterion: Criterion, reason: str) -> CriterionResult:
    """Pass a criterion that does not apply (a JavaScript project has no types to check)."""
    return CriterionResult(
        criterion.name, True, "not applicable", criterion.required, details={"skipped": reason}
    )
