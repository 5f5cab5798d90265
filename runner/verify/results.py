"""What a test run said, read by the parser of the runner that produced it.

pytest's ``-rfE`` short summary, jest/vitest JSON results (``--json``, ``--reporter=json``)
and, for configured commands, jest's and vitest's own text output. A failing test is
``new`` unless the same test also fails on the base commit (``pre-existing``);
``tests.pass`` fails on new failures only, unless the repository asks for ``strict``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from runner.verify.criteria import Criterion, CriterionResult

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = [
    "TestReport",
    "TestRunner",
    "failure_details",
    "judge_tests_pass",
    "new_failures",
    "read_text_report",
    "repo_relative",
    "runner_of",
]

TestRunner = Literal["pytest", "vitest", "jest", "custom"]
_PYTEST_FAILURE = re.compile(r"^(?:FAILED|ERROR) (?P<id>.+?)(?: - (?P<msg>.*))?$", re.MULTILINE)
_PYTEST_PASSED = re.compile(r"\b(?P<n>\d+) passed\b")
_JEST_FILE = re.compile(r"^\s*FAIL\s+(?P<file>\S+)", re.MULTILINE)
_JEST_TEST = re.compile(r"^\s*● (?P<name>.+?)\s*$")
_JEST_PASSED = re.compile(r"^Tests:.*?\b(?P<n>\d+) passed", re.MULTILINE)
_VITEST_FAILURE = re.compile(r"^\s*FAIL\s+(?P<id>\S+(?: > .+?)?)\s*(?:\[.*\])?$", re.MULTILINE)
_VITEST_PASSED = re.compile(r"^\s*Tests\s+.*?\b(?P<n>\d+) passed", re.MULTILINE)
_LISTED = 10


def runner_of(command_text: str) -> TestRunner:
    """Tell the runner from a command line or a package.json script."""
    runners: tuple[TestRunner, ...] = ("vitest", "jest", "pytest")
    for name in runners:
        if re.search(rf"(?<![\w-]){name}(?![\w-])", command_text):
            return name
    if "react-scripts test" in command_text:  # create-react-app runs jest
        return "jest"
    return "custom"


def repo_relative(path: str, repo: Path) -> str:
    """A report's path as repo-relative POSIX; a path outside the repo stays absolute."""
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(repo.resolve()).as_posix()
        except ValueError:
            return candidate.as_posix()
    return candidate.as_posix().removeprefix("./")


@attrs.frozen
class TestReport:
    """What a test run said.

    Attributes:
        returncode: The exit status (-1 when the run timed out).
        failures: Failing test ids, in order.
        messages: Failing test id -> its first message line, where the runner gave one.
        passed_count: How many passed, if known.
        timed_out: The run was killed at its deadline (``note`` says where).
        note: Why the run is void (timeout), with the command.
    """

    __test__ = False  # not a pytest test class despite the name

    returncode: int
    failures: tuple[str, ...] = ()
    messages: dict[str, str] = attrs.field(factory=dict)
    passed_count: int | None = None
    timed_out: bool = False
    note: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every test passed."""
        return self.returncode == 0 and not self.failures and not self.timed_out

    @property
    def crashed(self) -> bool:
        """The run failed without naming a failing test (or timed out)."""
        return self.timed_out or (self.returncode != 0 and not self.failures)

    @classmethod
    def from_pytest(cls, returncode: int, output: str) -> TestReport:
        """Read failures from pytest's ``-rfE`` short summary."""
        messages: dict[str, str] = {}
        for match in _PYTEST_FAILURE.finditer(output):
            messages.setdefault(match["id"].strip(), (match["msg"] or "").strip())
        counts = _PYTEST_PASSED.findall(output)
        return cls(returncode, tuple(messages), messages, int(counts[-1]) if counts else None)

    @classmethod
    def from_jest_json(cls, returncode: int, text: str, repo: Path) -> TestReport:
        """Read failures from a jest-style JSON report (jest ``--json``, vitest ``json``)."""
        data: dict[str, Any] = json.loads(text)
        messages: dict[str, str] = {}
        for suite in data.get("testResults", []):
            file = repo_relative(str(suite.get("name", "")), repo)
            results = suite.get("assertionResults", [])
            for item in results:
                if item.get("status") == "failed":
                    name = " > ".join([file, *item.get("ancestorTitles", []), str(item["title"])])
                    messages[name] = _first_line(item.get("failureMessages") or [""])
            if not results and suite.get("status") == "failed":  # the file did not load
                messages[file] = _first_line([str(suite.get("message", ""))])
        return cls(returncode, tuple(messages), messages, data.get("numPassedTests"))

    @classmethod
    def from_jest_text(cls, returncode: int, output: str) -> TestReport:
        """Read failures from jest's own text output (``FAIL file``, then one ``●`` line a test)."""
        failures: list[str] = []
        file = ""
        for line in output.splitlines():
            if match := _JEST_FILE.match(line):
                file = match["file"]
            elif (match := _JEST_TEST.match(line)) and file:
                name = match["name"].replace(" \u203a ", " > ")  # jest joins titles with U+203A
                if name == "Test suite failed to run":
                    name = ""
                failures.append(f"{file} > {name}" if name else file)
        counts = _JEST_PASSED.findall(output)
        ids = tuple(dict.fromkeys(failures))
        return cls(returncode, ids, {}, int(counts[-1]) if counts else None)

    @classmethod
    def from_vitest_text(cls, returncode: int, output: str) -> TestReport:
        """Read failures from vitest's default reporter (`` FAIL  file > suite > test``)."""
        ids = tuple(dict.fromkeys(m["id"].strip() for m in _VITEST_FAILURE.finditer(output)))
        counts = _VITEST_PASSED.findall(output)
        return cls(returncode, ids, {}, int(counts[-1]) if counts else None)

    def describe(self, pre_existing: Collection[str] = ()) -> str:
        """Summarise the run: ``3 passed``, ``2 failed: a, b``, or why it is void."""
        if self.timed_out:
            return self.note or "timed out"
        if self.ok:
            return "all passed" if self.passed_count is None else f"{self.passed_count} passed"
        if not self.failures:
            if self.returncode == 5:  # pytest: no tests were collected
                return "no tests collected"
            return f"test run failed (exit {self.returncode})"
        new = [f for f in self.failures if f not in pre_existing]
        old = [f for f in self.failures if f in pre_existing]
        if not old:
            return f"{len(new)} failed: {_listed(new)}"
        if not new:
            return f"{len(old)} failed, all pre-existing on the base: {_listed(old)}"
        return f"{len(new)} new failed: {_listed(new)}; {len(old)} pre-existing"


def _first_line(messages: list[str]) -> str:
    for message in messages:
        for line in str(message).splitlines():
            if line.strip():
                return line.strip()[:300]
    return ""


def _listed(names: list[str]) -> str:
    more = len(names) - _LISTED
    return ", ".join(names[:_LISTED]) + (f" (+{more} more)" if more > 0 else "")


def read_text_report(runner: TestRunner, returncode: int, output: str) -> TestReport:
    """Read a run's text output with the parser of the runner that produced it."""
    if runner == "jest":
        return TestReport.from_jest_text(returncode, output)
    if runner == "vitest":
        return TestReport.from_vitest_text(returncode, output)
    return TestReport.from_pytest(returncode, output)


def failure_details(report: TestReport, pre_existing: Collection[str]) -> dict[str, Any]:
    """The failing tests, each marked ``new`` or ``pre-existing``, with its message."""
    if not report.failures:
        return {}
    tests = [
        {
            "id": name,
            "status": "pre-existing" if name in pre_existing else "new",
            **({"message": report.messages[name]} if report.messages.get(name) else {}),
        }
        for name in report.failures
    ]
    return {
        "failures": list(report.failures),
        "new": [t["id"] for t in tests if t["status"] == "new"],
        "preExisting": [t["id"] for t in tests if t["status"] == "pre-existing"],
        "tests": tests,
    }


def new_failures(report: TestReport, pre_existing: Collection[str], *, strict: bool) -> list[str]:
    """The failures that count against the branch."""
    return [f for f in report.failures if strict or f not in pre_existing]


def judge_tests_pass(
    criterion: Criterion,
    report: TestReport,
    pre_existing: Collection[str] = (),
    *,
    strict: bool = False,
) -> CriterionResult:
    """Judge ``tests.pass``: no new failure (any failure when ``strict``), no crash."""
    details = failure_details(report, pre_existing)
    if strict:
        details["strict"] = True
    passed = not report.crashed and not new_failures(report, pre_existing, strict=strict)
    return CriterionResult(
        criterion.name, passed, report.describe(pre_existing), criterion.required, details=details
    )
