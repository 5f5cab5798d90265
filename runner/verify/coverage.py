"""Line coverage of the touched scope, and the test failures that void it.

Reads coverage.py JSON (``coverage json``) and istanbul JSON (``coverage-final.json`` from
vitest or jest). The touched scope is the set of SOURCE files the branch changed (tests,
docs and non-source files excluded) and that still exist; a touched file the report did not
measure (no test imported it) counts as 0 % covered, never as "unmeasured". Only when the
branch touched no source file at all is the scope every measured source file.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import attrs

from runner.errors import VerifyError
from runner.verify.criteria import Criterion, CriterionResult, format_percent
from runner.verify.results import TestReport, failure_details, new_failures, repo_relative

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

__all__ = [
    "CoverageData",
    "FileCoverage",
    "coverage_result",
    "coverage_table",
    "estimated_lines",
    "is_source_file",
    "parse_coverage",
]

_SOURCE_SUFFIXES = {".py", ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".vue"}
_TEST_DIRS = {"tests", "test", "__tests__", "testing", "spec", "e2e"}
_NON_SOURCE_DIRS = {"docs", "doc", "node_modules", ".venv", "venv", "coverage", "dist", "build"}
_TEST_NAME = re.compile(
    r"^(?:test_.*\.py|.*_test\.py|conftest\.py|.*\.(?:test|spec)\.[cm]?[jt]sx?)$"
)
_CONFIG_NAME = re.compile(r"^(?:setup\.py|noxfile\.py|.*\.config\.[cm]?[jt]s|.*\.d\.[cm]?ts)$")
_JS_CODE_LINE = re.compile(r"^\s*(?!//|/\*|\*|[\]\)}\s;,]*$)\S")


def is_source_file(path: str) -> bool:
    """Return whether a repository path is product source (not a test, doc or config)."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else ""
    if PurePosixPath(name).suffix not in _SOURCE_SUFFIXES:
        return False
    dirs = set(parts[:-1])
    return not (
        dirs & (_TEST_DIRS | _NON_SOURCE_DIRS) or _TEST_NAME.match(name) or _CONFIG_NAME.match(name)
    )


@attrs.frozen
class FileCoverage:
    """Covered and measurable line counts of one file, and the lines not run."""

    covered: int
    total: int
    missing: tuple[int, ...] = ()


@attrs.frozen
class CoverageData:
    """Per-file line coverage keyed by repository-relative POSIX path."""

    files: Mapping[str, FileCoverage]


def _istanbul_lines(entry: Mapping[str, Any]) -> FileCoverage:
    """Line coverage as istanbul-lib-coverage computes it: a line is hit if any statement is."""
    hits: dict[int, int] = {}
    counts = entry.get("s", {})
    for key, location in entry.get("statementMap", {}).items():
        line = int(location["start"]["line"])
        hits[line] = max(hits.get(line, 0), int(counts.get(key, 0)))
    missing = tuple(sorted(line for line, n in hits.items() if n == 0))
    return FileCoverage(len(hits) - len(missing), len(hits), missing)


def parse_coverage(text: str, repo: Path) -> CoverageData:
    """Parse a coverage.py or istanbul JSON report.

    Raises:
        VerifyError: ``verify_failed`` when the report is neither.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise VerifyError(f"coverage report is not JSON: {exc}", code="verify_failed") from None
    files: dict[str, FileCoverage] = {}
    if isinstance(data, dict) and isinstance(data.get("files"), dict):  # coverage.py
        for path, entry in data["files"].items():
            summary = entry["summary"]
            missing = tuple(int(n) for n in entry.get("missing_lines", ()))
            counts = FileCoverage(
                int(summary["covered_lines"]), int(summary["num_statements"]), missing
            )
            files[repo_relative(path, repo)] = counts
    elif isinstance(data, dict) and all(
        isinstance(v, dict) and "statementMap" in v for v in data.values()
    ):
        for path, entry in data.items():
            files[repo_relative(str(entry.get("path", path)), repo)] = _istanbul_lines(entry)
    else:
        raise VerifyError(
            "coverage report is neither coverage.py nor istanbul JSON", code="verify_failed"
        )
    return CoverageData(files)


def estimated_lines(path: Path) -> int:
    """Count the executable lines of a file no test loaded (an estimate, for 0 % coverage).

    Python: the lines where a statement starts (what coverage.py counts). Other sources: the
    lines that are not blank, not only a comment and not only closing brackets.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    if path.suffix == ".py":
        try:
            tree = ast.parse(text)
        except SyntaxError:
            pass
        else:
            return len({node.lineno for node in ast.walk(tree) if isinstance(node, ast.stmt)})
    return sum(1 for line in text.splitlines() if _JS_CODE_LINE.match(line))


def _scope(data: CoverageData, changed: Sequence[str], repo: Path) -> tuple[str, ...]:
    """The touched source files that still exist; every measured source if there are none."""
    touched = sorted(
        {p.removeprefix("./") for p in changed if is_source_file(p) and (repo / p).is_file()}
    )
    if touched:
        return tuple(touched)
    return tuple(sorted(p for p in data.files if is_source_file(p)))


def _file_rows(data: CoverageData, scope: Sequence[str], repo: Path) -> list[dict[str, Any]]:
    rows = []
    for path in scope:
        measured = data.files.get(path)
        item = measured or FileCoverage(0, estimated_lines(repo / path))
        percent = Fraction(100 * item.covered, item.total) if item.total else Fraction(100)
        row: dict[str, Any] = {
            "path": path,
            "coveredLines": item.covered,
            "totalLines": item.total,
            "percent": format_percent(float(percent)),
        }
        if item.missing:
            row["missingLines"] = list(item.missing)
        if measured is None:
            row["note"] = "no test loaded this file: counted as 0% covered (lines estimated)"
        rows.append(row)
    return rows


def coverage_result(
    criterion: Criterion,
    data: CoverageData | None,
    changed: Sequence[str],
    report: TestReport,
    *,
    repo: Path,
    pre_existing: Collection[str] = (),
    strict: bool = False,
) -> CriterionResult:
    """Judge ``test.coverage`` on the touched files; a crash or new failing test fails it.

    A touched source file absent from the report (no test imported it) counts as 0 %.
    """
    assert criterion.limit is not None
    details: dict[str, Any] = {}
    measured: Fraction | None = None
    if data is not None:
        scope = _scope(data, changed, repo)
        rows = _file_rows(data, scope, repo)
        covered = sum(r["coveredLines"] for r in rows)
        total = sum(r["totalLines"] for r in rows)
        # an empty scope has nothing left uncovered (coverage.py reports it as 100% too)
        measured = Fraction(100 * covered, total) if total else Fraction(100)
        details = {"scope": list(scope), "coveredLines": covered, "totalLines": total}
        if unmeasured := [r["path"] for r in rows if "note" in r]:
            details["unmeasured"] = unmeasured
        details["files"] = rows
    if report.crashed or new_failures(report, pre_existing, strict=strict):
        if measured is not None:
            details["coverage"] = format_percent(float(measured))
        details.update(failure_details(report, pre_existing))
        return CriterionResult(
            criterion.name,
            False,
            report.describe(pre_existing),
            criterion.required,
            details=details,
        )
    assert measured is not None
    passed = measured >= Fraction(str(criterion.limit))
    return CriterionResult(
        criterion.name, passed, format_percent(float(measured)), criterion.required, details=details
    )


def coverage_table(data: CoverageData, scope: Sequence[str]) -> str:
    """Render a plain-text per-file table for the ``coverageReport`` artifact."""
    in_scope = set(scope)
    lines = ["file  covered/total  percent  scope"]
    for path in sorted(data.files):
        item = data.files[path]
        percent = format_percent(100.0 * item.covered / item.total) if item.total else "100%"
        mark = "*" if path in in_scope else ""
        lines.append(f"{path}  {item.covered}/{item.total}  {percent}  {mark}".rstrip())
    return "\n".join(lines) + "\n"
