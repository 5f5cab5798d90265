"""Report parsing: coverage.py / istanbul JSON, test failures, checker error counts, docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.errors import VerifyError
from runner.verify.coverage import (
    CoverageData,
    FileCoverage,
    coverage_result,
    estimated_lines,
    is_source_file,
    parse_coverage,
)
from runner.verify.criteria import parse_criteria
from runner.verify.docs import doc_result, matching_files
from runner.verify.results import TestReport, judge_tests_pass, read_text_report, runner_of
from runner.verify.typecheck import ErrorCount, check_result, count_errors
from runner.wire import to_wire

REPO = Path("/work/repo")


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("calc/ops.py", True),
        ("src/index.ts", True),
        ("lib/a.mjs", True),
        ("tests/test_ops.py", False),
        ("calc/test_ops.py", False),
        ("calc/ops_test.py", False),
        ("conftest.py", False),
        ("src/ops.test.ts", False),
        ("src/__tests__/ops.ts", False),
        ("src/types.d.ts", False),
        ("vitest.config.ts", False),
        ("setup.py", False),
        ("docs/conf.py", False),
        ("README.md", False),
        ("package.json", False),
    ],
)
def test_is_source_file(path: str, source: bool) -> None:
    assert is_source_file(path) is source


def test_parse_coverage_reads_coverage_py_json() -> None:
    report = {
        "meta": {"format": 3},
        "files": {
            "calc/ops.py": {
                "summary": {"covered_lines": 3, "num_statements": 4},
                "missing_lines": [7],
            },
            "/work/repo/calc/abs.py": {"summary": {"covered_lines": 0, "num_statements": 2}},
        },
    }
    data = parse_coverage(json.dumps(report), REPO)
    assert data.files == {
        "calc/ops.py": FileCoverage(3, 4, missing=(7,)),
        "calc/abs.py": FileCoverage(0, 2),
    }


def test_parse_coverage_reads_istanbul_lines() -> None:
    def loc(line: int) -> dict[str, object]:
        return {"start": {"line": line, "column": 0}, "end": {"line": line, "column": 9}}

    entry = {
        "path": "/work/repo/src/a.ts",
        "statementMap": {"0": loc(2), "1": loc(2), "2": loc(5), "3": loc(7)},
        "s": {"0": 0, "1": 4, "2": 0, "3": 1},
    }
    data = parse_coverage(json.dumps({"/work/repo/src/a.ts": entry}), REPO)
    # line 2 is hit by one of its two statements; line 5 is not: 2 of 3 lines
    assert data.files == {"src/a.ts": FileCoverage(2, 3, missing=(5,))}


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"a": 1}'])
def test_parse_coverage_rejects_unknown_reports(text: str) -> None:
    with pytest.raises(VerifyError) as info:
        parse_coverage(text, REPO)
    assert info.value.code == "verify_failed"


def _data() -> CoverageData:
    return CoverageData(
        {
            "calc/a.py": FileCoverage(9, 10),
            "calc/b.py": FileCoverage(1, 10),
            "tests/test_a.py": FileCoverage(5, 5),
        }
    )


def _sources(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_coverage_result_counts_an_untested_touched_file_as_zero(tmp_path: Path) -> None:
    repo = _sources(
        tmp_path,
        {
            "calc/a.py": "x = 1\n",
            # never imported by a test: 3 statements (def, assignment, return), 0 covered
            "calc/new.py": "def f() -> int:\n    # why\n    y = 2\n\n    return y\n",
            "tests/test_a.py": "",
        },
    )
    [criterion] = parse_criteria({"test.coverage": "≥80%"})
    changed = ["calc/a.py", "calc/new.py", "calc/gone.py", "tests/test_a.py", "x.md"]
    result = coverage_result(criterion, _data(), changed, TestReport(0), repo=repo)
    note = "no test loaded this file: counted as 0% covered (lines estimated)"
    assert to_wire(result) == {
        "passed": False,
        "actual": "69.2%",  # 9 of 13, never "unmeasured" and never widened to all files
        "required": "≥80%",
        "details": {
            "scope": ["calc/a.py", "calc/new.py"],
            "coveredLines": 9,
            "totalLines": 13,
            "unmeasured": ["calc/new.py"],
            "files": [
                {"path": "calc/a.py", "coveredLines": 9, "totalLines": 10, "percent": "90%"},
                {
                    "path": "calc/new.py",
                    "coveredLines": 0,
                    "totalLines": 3,
                    "percent": "0%",
                    "note": note,
                },
            ],
        },
    }


def test_estimated_lines_of_javascript_skip_comments_and_brackets(tmp_path: Path) -> None:
    source = "// a comment\nexport function f(a) {\n  /* block */\n  return a + 1;\n}\n\n"
    (tmp_path / "a.js").write_text(source)
    assert estimated_lines(tmp_path / "a.js") == 2


def test_coverage_result_all_files_when_branch_touched_none(tmp_path: Path) -> None:
    [criterion] = parse_criteria({"test.coverage": "≥50%"})
    result = coverage_result(
        criterion, _data(), ["README.md"], TestReport(0, passed_count=3), repo=tmp_path
    )
    wire = to_wire(result)
    assert (wire["passed"], wire["actual"]) == (True, "50%")
    assert wire["details"]["scope"] == ["calc/a.py", "calc/b.py"]
    assert (wire["details"]["coveredLines"], wire["details"]["totalLines"]) == (10, 20)


def test_coverage_result_exact_boundary_and_empty_scope(tmp_path: Path) -> None:
    repo = _sources(tmp_path, {"calc/a.py": "", "calc/b.py": ""})
    [criterion] = parse_criteria({"test.coverage": "≥90%"})
    ok = TestReport(0)
    assert coverage_result(criterion, _data(), ["calc/a.py"], ok, repo=repo).passed
    assert not coverage_result(criterion, _data(), ["calc/b.py"], ok, repo=repo).passed
    empty = coverage_result(criterion, CoverageData({}), [], ok, repo=repo)
    assert (empty.passed, empty.actual) == (True, "100%")


def test_coverage_result_measures_despite_pre_existing_failures(tmp_path: Path) -> None:
    repo = _sources(tmp_path, {"calc/a.py": ""})
    [criterion] = parse_criteria({"test.coverage": "≥90%"})
    report = TestReport(1, ("tests/test_a.py::test_old",))
    result = coverage_result(
        criterion, _data(), ["calc/a.py"], report, repo=repo, pre_existing={report.failures[0]}
    )
    assert (result.passed, result.actual) == (True, "90%")
    strict = coverage_result(
        criterion,
        _data(),
        ["calc/a.py"],
        report,
        repo=repo,
        pre_existing={report.failures[0]},
        strict=True,
    )
    assert (strict.passed, strict.details["preExisting"]) == (False, ["tests/test_a.py::test_old"])


def test_tests_pass_fails_only_on_new_failures() -> None:
    [criterion] = parse_criteria({"tests.pass": "true"})
    report = TestReport(1, ("t::old", "t::new"), {"t::new": "assert 1 == 2"})
    result = judge_tests_pass(criterion, report, {"t::old"})
    assert to_wire(result) == {
        "passed": False,
        "actual": "1 new failed: t::new; 1 pre-existing",
        "required": "all tests pass",
        "details": {
            "failures": ["t::old", "t::new"],
            "new": ["t::new"],
            "preExisting": ["t::old"],
            "tests": [
                {"id": "t::old", "status": "pre-existing"},
                {"id": "t::new", "status": "new", "message": "assert 1 == 2"},
            ],
        },
    }
    only_old = judge_tests_pass(criterion, TestReport(1, ("t::old",)), {"t::old"})
    assert (only_old.passed, only_old.actual) == (
        True,
        "1 failed, all pre-existing on the base: t::old",
    )
    strict = judge_tests_pass(criterion, TestReport(1, ("t::old",)), {"t::old"}, strict=True)
    assert not strict.passed
    timed_out = TestReport(-1, timed_out=True, note="timed out after 5 s in npm test")
    hung = judge_tests_pass(criterion, timed_out, ())
    assert (hung.passed, hung.actual) == (False, "timed out after 5 s in npm test")


def test_jest_and_vitest_text_output_name_the_failing_tests() -> None:
    jest = (
        " PASS  tests/add.test.js\n FAIL  tests/ops.test.js\n  \u25cf ops \u203a subtracts\n\n"
        "    expect(received).toBe(expected)\n\n FAIL  tests/broken.test.js\n"
        "  \u25cf Test suite failed to run\n\nTests:       1 failed, 3 passed, 4 total\n"
    )
    report = read_text_report(runner_of("npx jest --ci"), 1, jest)
    assert report.failures == ("tests/ops.test.js > ops > subtracts", "tests/broken.test.js")
    assert report.passed_count == 3
    vitest = (
        " \u2713 tests/add.test.ts (1 test)\n FAIL  tests/ops.test.ts > ops > subtracts\n"
        "AssertionError: expected 8 to be 2\n      Tests  1 failed | 2 passed (3)\n"
    )
    report = read_text_report(runner_of("vitest run"), 1, vitest)
    assert report.failures == ("tests/ops.test.ts > ops > subtracts",)
    assert report.passed_count == 2
    assert runner_of("react-scripts test") == "jest"
    assert runner_of("make check") == "custom"


def test_test_report_from_pytest_summary() -> None:
    output = (
        "FAILED tests/test_a.py::test_x - assert 1 == 2\n"
        "FAILED tests/test_a.py::test_p[a b] - ValueError\n"
        "ERROR tests/test_b.py::test_y\n"
        "==== 2 failed, 7 passed, 1 error in 0.3s ====\n"
    )
    report = TestReport.from_pytest(1, output)
    assert report.failures == (
        "tests/test_a.py::test_x",
        "tests/test_a.py::test_p[a b]",
        "tests/test_b.py::test_y",
    )
    assert report.passed_count == 7
    assert report.describe() == (
        "3 failed: tests/test_a.py::test_x, tests/test_a.py::test_p[a b], tests/test_b.py::test_y"
    )


def test_test_report_describes_runs_without_names() -> None:
    assert TestReport(5).describe() == "no tests collected"
    assert TestReport(2).describe() == "test run failed (exit 2)"
    assert TestReport(0).describe() == "all passed"
    many = TestReport(1, tuple(f"t{i}" for i in range(12)))
    assert many.describe().endswith("t9 (+2 more)")


def test_test_report_from_jest_json() -> None:
    results = {
        "numPassedTests": 1,
        "testResults": [
            {
                "name": "/work/repo/tests/a.test.ts",
                "status": "failed",
                "assertionResults": [
                    {"ancestorTitles": ["ops"], "title": "adds", "status": "passed"},
                    {"ancestorTitles": ["ops"], "title": "subs", "status": "failed"},
                ],
            },
            {"name": "/work/repo/tests/b.test.ts", "status": "failed", "assertionResults": []},
        ],
    }
    report = TestReport.from_jest_json(1, json.dumps(results), REPO)
    assert report.failures == ("tests/a.test.ts > ops > subs", "tests/b.test.ts")
    assert report.passed_count == 1


@pytest.mark.parametrize(
    ("output", "returncode", "count"),
    [
        ("src/a.ts(3,7): error TS2322: x\nsrc/b.ts(1,1): error TS7006: y\n", 2, ErrorCount(2)),
        ("calc/a.py:3: error: x  [return-value]\nFound 1 error in 1 file\n", 1, ErrorCount(1)),
        (
            "  /r/a.py:3:5 - error: x\n  /r/a.py:4:5 - warning: y\n1 error, 1 warning",
            1,
            ErrorCount(1),
        ),
        ("a.py:1:8: F401 [*] `os` imported but unused\nFound 3 errors.\n", 1, ErrorCount(3)),
        ("✖ 5 problems (4 errors, 1 warning)\n", 1, ErrorCount(4)),
        ("Success: no issues found in 3 source files\n", 0, ErrorCount(0)),
        ("segmentation fault\n", 139, ErrorCount(1, recognised=False)),
    ],
)
def test_count_errors_reads_each_tool(output: str, returncode: int, count: ErrorCount) -> None:
    assert count_errors(output, returncode) == count


def test_check_result_budget() -> None:
    [criterion] = parse_criteria({"type.strict": "≤1 errors"})
    assert to_wire(check_result(criterion, ErrorCount(1))) == {
        "passed": True,
        "actual": "1 error",
        "required": "≤1 errors",
    }
    failed = check_result(criterion, ErrorCount(1, recognised=False))
    assert failed.details == {"note": "the command failed without output we recognise"}


def test_doc_matching_by_basename_and_path_suffix() -> None:
    changed = ["docs/DevTeam/task_outcomes.md", "src/task_outcomes.md.bak", "README.md"]
    assert matching_files("task_outcomes.md", changed) == ["docs/DevTeam/task_outcomes.md"]
    assert matching_files("DevTeam/task_outcomes.md", changed) == ["docs/DevTeam/task_outcomes.md"]
    assert matching_files("Team/task_outcomes.md", changed) == []
    assert matching_files("./README.md", changed) == ["README.md"]


def test_doc_result_needs_every_named_file_with_content(tmp_path: Path) -> None:
    outcomes = tmp_path / "docs" / "DevTeam" / "task_outcomes.md"
    outcomes.parent.mkdir(parents=True)
    outcomes.write_text("### 1.1 Done\n")
    [criterion] = parse_criteria({"doc.updated": "task_outcomes.md, CHANGELOG.md"})
    result = doc_result(criterion, ["docs/DevTeam/task_outcomes.md"], tmp_path)
    assert to_wire(result) == {
        "passed": False,
        "actual": "not changed: CHANGELOG.md",
        "required": "task_outcomes.md, CHANGELOG.md",
        "files": ["docs/DevTeam/task_outcomes.md"],
    }
    [criterion] = parse_criteria({"doc.updated": "task_outcomes.md"})
    outcomes.write_text("\n")  # created empty (aider creates the files it is handed)
    empty = doc_result(criterion, ["docs/DevTeam/task_outcomes.md"], tmp_path)
    assert (empty.passed, empty.actual) == (False, "left empty: docs/DevTeam/task_outcomes.md")
    outcomes.unlink()
    gone = doc_result(criterion, ["docs/DevTeam/task_outcomes.md"], tmp_path)
    assert (gone.passed, gone.actual) == (False, "deleted: docs/DevTeam/task_outcomes.md")
