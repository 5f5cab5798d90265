"""Line coverage of the touched scope, and the test failures that void it.

Reads coverage.py JSON (``coverage json``) and istanbul JSON (``coverage-final.json`` from
vitest or jest). The touched scope is the set of SOURCE files the branch changed (tests,
docs and non-source files excluded) that the report measured; when the branch changed no
measured source file, it is every measured source file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import attrs

from runner.errors import VerifyError
from runner.verify.criteria import Criterion, CriterionResult, format_percent

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "CoverageData",
    "FileCoverage",
    "TestReport",
    "coverage_result",
    "coverage_table",
    "is_source_file",
    "parse_coverage",
    "tests_result",
]

_SOURCE_SUFFIXES = {".py", ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".vue"}
_TEST_DIRS = {"tests", "test", "__tests__", "testing", "spec", "e2e"}
_NON_SOURCE_DIRS = {"docs", "doc", "node_modules", ".venv", "venv", "coverage", "dist", "build"}
_TEST_NAME = re.compile(
    r"^(?:test_.*\.py|.*_test\.py|conftest\.py|.*\.(?:test|spec)\.[cm]?[jt]sx?)$"
)
_CONFIG_NAME = re.compile(r"^(?:setup\.py|noxfile\.py|.*\.config\.[cm]?[jt]s|.*\.d\.[cm]?ts)$")
_PYTEST_FAILURE = re.compile(r"^(?:FAILED|ERROR) (?P<id>.+?)(?: - .*)?$", re.MULTILINE)
_PYTEST_PASSED = re.compile(r"\b(?P<n>\d+) passed\b")
_LISTED_FAILURES = 10


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
    """Covered and measurable line counts of one file."""

    covered: int
    total: int


@attrs.frozen
class CoverageData:
    """Per-file line coverage keyed by repository-relative POSIX path."""

    files: Mapping[str, FileCoverage]

    def select(self, changed: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Return ``(scope, unmeasured)``: the touched scope and changed sources not measured."""
        sources = sorted({p.removeprefix("./") for p in changed if is_source_file(p)})
        touched = tuple(p for p in sources if p in self.files)
        unmeasured = tuple(p for p in sources if p not in self.files)
        if touched:
            return touched, unmeasured
        return tuple(sorted(p for p in self.files if is_source_file(p))), unmeasured

    def summary(self, paths: Iterable[str]) -> FileCoverage:
        """Return the summed counts over ``paths``."""
        picked = [self.files[p] for p in paths]
        return FileCoverage(sum(f.covered for f in picked), sum(f.total for f in picked))


def _relative(path: str, repo: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(repo.resolve())
        except ValueError:
            return candidate.as_posix()  # outside the repository: never in scope
    return candidate.as_posix().removeprefix("./")


def _istanbul_lines(entry: Mapping[str, Any]) -> FileCoverage:
    """Line coverage as istanbul-lib-coverage computes it: a line is hit if any statement is."""
    hits: dict[int, int] = {}
    counts = entry.get("s", {})
    for key, location in entry.get("statementMap", {}).items():
        line = int(location["start"]["line"])
        hits[line] = max(hits.get(line, 0), int(counts.get(key, 0)))
    return FileCoverage(sum(1 for n in hits.values() if n > 0), len(hits))


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
            counts = FileCoverage(int(summary["covered_lines"]), int(summary["num_statements"]))
            files[_relative(path, repo)] = counts
    elif isinstance(data, dict) and all(
        isinstance(v, dict) and "statementMap" in v for v in data.values()
    ):
        for path, entry in data.items():
            files[_relative(str(entry.get("path", path)), repo)] = _istanbul_lines(entry)
    else:
        raise VerifyError(
            "coverage report is neither coverage.py nor istanbul JSON", code="verify_failed"
        )
    return CoverageData(files)


@attrs.frozen
class TestReport:
    """What a test run said: exit status, failing test names, passed count if known."""

    __test__ = False  # not a pytest test class despite the name

    returncode: int
    failures: tuple[str, ...] = ()
    passed_count: int | None = None

    @property
    def ok(self) -> bool:
        """Whether every test passed."""
        return self.returncode == 0 and not self.failures

    @classmethod
    def from_pytest(cls, returncode: int, output: str) -> TestReport:
        """Read failures from pytest's ``-rfE`` short summary."""
        failures = tuple(dict.fromkeys(m["id"].strip() for m in _PYTEST_FAILURE.finditer(output)))
        counts = _PYTEST_PASSED.findall(output)
        return cls(returncode, failures, int(counts[-1]) if counts else None)

    @classmethod
    def from_jest_json(cls, returncode: int, text: str, repo: Path) -> TestReport:
        """Read failures from a jest-style JSON report (jest ``--json``, vitest ``json``)."""
        data = json.loads(text)
        failures: list[str] = []
        for suite in data.get("testResults", []):
            file = _relative(str(suite.get("name", "")), repo)
            results = suite.get("assertionResults", [])
            failures.extend(
                " > ".join([file, *a.get("ancestorTitles", []), str(a.get("title", ""))])
                for a in results
                if a.get("status") == "failed"
            )
            if not results and suite.get("status") == "failed":  # the file did not load
                failures.append(file)
        return cls(returncode, tuple(failures), data.get("numPassedTests"))

    def describe(self) -> str:
        """Summarise the run: ``3 passed`` or ``2 failed: a, b``."""
        if self.ok:
            return "all passed" if self.passed_count is None else f"{self.passed_count} passed"
        if not self.failures:
            if self.returncode == 5:  # pytest: no tests were collected
                return "no tests collected"
            return f"test run failed (exit {self.returncode})"
        listed = ", ".join(self.failures[:_LISTED_FAILURES])
        more = len(self.failures) - _LISTED_FAILURES
        return f"{len(self.failures)} failed: {listed}" + (f" (+{more} more)" if more > 0 else "")


def tests_result(criterion: Criterion, report: TestReport) -> CriterionResult:
    """Judge ``tests.pass``."""
    details = {"failures": list(report.failures)} if report.failures else {}
    return CriterionResult(
        criterion.name, report.ok, report.describe(), criterion.required, details=details
    )


def coverage_result(
    criterion: Criterion,
    data: CoverageData | None,
    changed: Sequence[str],
    report: TestReport,
) -> CriterionResult:
    """Judge ``test.coverage`` on the touched scope; failing tests fail it outright."""
    assert criterion.limit is not None
    details: dict[str, Any] = {}
    measured: Fraction | None = None
    if data is not None:
        scope, unmeasured = data.select(changed)
        total = data.summary(scope)
        # an empty scope has nothing left uncovered (coverage.py reports it as 100% too)
        measured = Fraction(100 * total.covered, total.total) if total.total else Fraction(100)
        details = {
            "scope": list(scope),
            "coveredLines": total.covered,
            "totalLines": total.total,
        }
        if unmeasured:
            details["unmeasured"] = list(unmeasured)
    if not report.ok:
        if measured is not None:
            details["coverage"] = format_percent(float(measured))
        details["failures"] = list(report.failures)
        return CriterionResult(
            criterion.name, False, report.describe(), criterion.required, details=details
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
