"""The fixture repositories' five branches, verified end to end with the real toolchains.

All five branches of a language are verified concurrently once per module (a sync fixture
that runs its own ``trio.run``); each test then asserts one branch's exact results, computed
by hand in ``tests/helpers/verify_repos.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import trio

from runner.config import Settings
from runner.verify import VerifyOutcome, verify
from tests.helpers.verify_repos import (
    PYTHON_BRANCHES,
    PYTHON_MAIN,
    TS_BRANCHES,
    TS_MAIN,
    TS_TOOLCHAIN,
    Checkout,
    build_repo,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

CRITERIA = {
    "test.coverage": "≥80%",
    "type.strict": "0 errors",
    "doc.updated": "task_outcomes.md",
    "tests.pass": "true",
}
PY_CRITERIA = {**CRITERIA, "lint.clean": "0 errors"}
OUTCOMES = "docs/DevTeam/task_outcomes.md"
DOC_OK = {"passed": True, "files": [OUTCOMES]}
NO_ERRORS = {"passed": True, "actual": "0 errors", "required": "0 errors"}
NODE_MODULES = TS_TOOLCHAIN / "node_modules"
INSTALL = "npm ci --prefix tests/fixtures/ts-toolchain --no-audit --no-fund"


def _coverage(actual: str, scope: list[str], covered: int, total: int) -> dict[str, Any]:
    details = {"scope": scope, "coveredLines": covered, "totalLines": total}
    passed = covered * 100 >= 80 * total
    return {"passed": passed, "actual": actual, "required": "≥80%", "details": details}


def _failed_tests(name: str, scope: list[str], covered: int, total: int) -> dict[str, Any]:
    coverage = _coverage("100%", scope, covered, total)
    failure = f"1 failed: {name}"
    coverage.update(passed=False, actual=failure)
    coverage["details"].update(coverage="100%", failures=[name])
    tests = {
        "passed": False,
        "actual": failure,
        "required": "all tests pass",
        "details": {"failures": [name]},
    }
    return {"test.coverage": coverage, "tests.pass": tests}


def _passed(count: int) -> dict[str, Any]:
    return {"passed": True, "actual": f"{count} passed", "required": "all tests pass"}


Scenarios = dict[str, tuple[Checkout, VerifyOutcome]]


def _verify_all(checkouts: Mapping[str, Checkout], criteria: Mapping[str, str]) -> Scenarios:
    outcomes: Scenarios = {}

    async def one(name: str, checkout: Checkout) -> None:
        outcome = await verify(
            checkout.path, criteria, changed_files=checkout.changed_files, settings=Settings()
        )
        outcomes[name] = (checkout, outcome)

    async def main() -> None:
        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                for name, checkout in checkouts.items():
                    nursery.start_soon(one, name, checkout)

    trio.run(main)
    return outcomes


@pytest.fixture(scope="module")
def python_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Scenarios:
    """Verify the five Python branches (pytest + coverage.py, mypy --strict, ruff)."""
    checkouts = build_repo(tmp_path_factory.mktemp("py"), PYTHON_MAIN, PYTHON_BRANCHES)
    return _verify_all(checkouts, PY_CRITERIA)


@pytest.fixture(scope="module")
def ts_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Scenarios:
    """Verify the five TypeScript branches (vitest + istanbul, tsc --noEmit)."""
    if not NODE_MODULES.is_dir():
        pytest.skip(f"the TypeScript toolchain is not installed; run: {INSTALL}")
    root = tmp_path_factory.mktemp("ts")
    checkouts = build_repo(root, TS_MAIN, TS_BRANCHES, node_modules=NODE_MODULES)
    return _verify_all(checkouts, CRITERIA)


PYTHON_EXPECTED: dict[str, dict[str, Any]] = {
    "pass": {
        "test.coverage": _coverage("90%", ["calc/ops.py", "calc/stats.py"], 9, 10),
        "type.strict": NO_ERRORS,
        "doc.updated": DOC_OK,
        "tests.pass": _passed(4),
        "lint.clean": NO_ERRORS,
    },
    "low-coverage": {
        "test.coverage": _coverage("66.6%", ["calc/stats.py"], 4, 6),
        "type.strict": NO_ERRORS,
        "doc.updated": DOC_OK,
        "tests.pass": _passed(2),
        "lint.clean": NO_ERRORS,
    },
    "type-error": {
        "test.coverage": _coverage("100%", ["calc/convert.py"], 5, 5),
        "type.strict": {"passed": False, "actual": "2 errors", "required": "0 errors"},
        "doc.updated": DOC_OK,
        "tests.pass": _passed(3),
        "lint.clean": {"passed": False, "actual": "1 error", "required": "0 errors"},
    },
    "failing-test": {
        **_failed_tests("tests/test_ops.py::test_sub", ["calc/ops.py"], 4, 4),
        "type.strict": NO_ERRORS,
        "doc.updated": DOC_OK,
        "lint.clean": NO_ERRORS,
    },
    "no-doc": {
        "test.coverage": _coverage("100%", ["calc/ops.py"], 4, 4),
        "type.strict": NO_ERRORS,
        "doc.updated": {
            "passed": False,
            "actual": "not changed: task_outcomes.md",
            "required": "task_outcomes.md",
            "files": [],
        },
        "tests.pass": _passed(2),
        "lint.clean": NO_ERRORS,
    },
}

TS_EXPECTED: dict[str, dict[str, Any]] = {
    "pass": {
        "test.coverage": _coverage("88.8%", ["src/ops.ts", "src/stats.ts"], 8, 9),
        "type.strict": NO_ERRORS,
        "doc.updated": DOC_OK,
        "tests.pass": _passed(4),
    },
    "low-coverage": {
        "test.coverage": _coverage("71.4%", ["src/stats.ts"], 5, 7),
        "type.strict": NO_ERRORS,
        "doc.updated": DOC_OK,
        "tests.pass": _passed(2),
    },
    "type-error": {
        "test.coverage": _coverage("100%", ["src/convert.ts"], 2, 2),
        "type.strict": {"passed": False, "actual": "2 errors", "required": "0 errors"},
        "doc.updated": DOC_OK,
        "tests.pass": _passed(3),
    },
    "failing-test": {
        # vitest related ran tests/ops.test.ts first; its failure ended VERIFY before coverage
        **_failed_tests("tests/ops.test.ts > ops > subtracts", ["src/ops.ts"], 2, 2),
        "test.coverage": {
            "passed": False,
            "actual": "1 failed: tests/ops.test.ts > ops > subtracts",
            "required": "≥80%",
            "details": {"failures": ["tests/ops.test.ts > ops > subtracts"]},
        },
        "type.strict": NO_ERRORS,
        "doc.updated": DOC_OK,
    },
    "no-doc": {
        "test.coverage": _coverage("100%", ["src/ops.ts"], 2, 2),
        "type.strict": NO_ERRORS,
        "doc.updated": PYTHON_EXPECTED["no-doc"]["doc.updated"],
        "tests.pass": _passed(2),
    },
}


def _core(outcome: VerifyOutcome) -> dict[str, Any]:
    """The results without their derived details, after checking those are consistent.

    Per-file coverage rows must cover the scope and sum to the totals; failed checks carry
    their first error lines; without a base every failing test is new.
    """
    wire = outcome.results_wire()
    for result in wire.values():
        details = result.get("details", {})
        if rows := details.pop("files", None):
            assert [r["path"] for r in rows] == details["scope"]
            assert sum(r["coveredLines"] for r in rows) == details["coveredLines"]
            assert sum(r["totalLines"] for r in rows) == details["totalLines"]
        if "stoppedEarly" in details:  # a related test failed anew: the full suite did not run
            assert details.pop("stoppedEarly").startswith("a test related to the touched files")
        if "firstErrors" in details:
            assert details.pop("firstErrors")
        if "tests" in details:
            assert details.pop("new") == details["failures"]
            assert details.pop("preExisting") == []
            assert [t["status"] for t in details.pop("tests")] == ["new"] * len(details["failures"])
        if "details" in result and not details:
            del result["details"]
    return wire


@pytest.mark.parametrize("branch", list(PYTHON_EXPECTED))
def test_verify_python_branch_results(python_outcomes: Scenarios, branch: str) -> None:
    _, outcome = python_outcomes[branch]
    assert _core(outcome) == PYTHON_EXPECTED[branch]
    assert list(outcome.results) == list(PY_CRITERIA)
    assert outcome.passed is (branch == "pass")


@pytest.mark.node
@pytest.mark.parametrize("branch", list(TS_EXPECTED))
def test_verify_typescript_branch_results(ts_outcomes: Scenarios, branch: str) -> None:
    _, outcome = ts_outcomes[branch]
    assert _core(outcome) == TS_EXPECTED[branch]
    assert outcome.passed is (branch == "pass")


def test_verify_python_artifacts_name_the_findings(
    python_outcomes: Scenarios,
) -> None:
    artifacts = python_outcomes["type-error"][1].artifacts
    assert set(artifacts) == {
        "relatedTestOutput",  # tests/test_convert.py imports calc.convert: it ran first
        "testOutput",
        "coverageReport",
        "typeCheckOutput",
        "lintOutput",
    }
    assert (
        "calc/convert.py:5: error: Incompatible return value type" in artifacts["typeCheckOutput"]
    )
    assert (
        "calc/convert.py:8: error: Function is missing a type annotation"
        in (artifacts["typeCheckOutput"])
    )
    assert "F401" in artifacts["lintOutput"]
    assert "3 passed" in artifacts["testOutput"]
    # every measured file is listed; the touched scope is starred
    assert "calc/convert.py  5/5  100%  *" in artifacts["coverageReport"]
    assert "calc/legacy.py  0/3  0%" in artifacts["coverageReport"]


@pytest.mark.node
def test_verify_typescript_artifacts_name_the_findings(
    ts_outcomes: Scenarios,
) -> None:
    artifacts = ts_outcomes["type-error"][1].artifacts
    output = artifacts["typeCheckOutput"]
    assert "src/convert.ts(2,3): error TS2322" in output
    assert "src/convert.ts(5,24): error TS7006" in output
    assert "src/legacy.ts  0/2  0%" in artifacts["coverageReport"]


def test_verify_leaves_the_python_worktree_clean(python_outcomes: Scenarios) -> None:
    checkout, outcome = python_outcomes["pass"]
    names = {p.name for p in checkout.path.rglob("*")}
    assert outcome.passed
    assert "stats.py" in names
    assert not names & {".coverage", "coverage.json", ".pytest_cache", "__pycache__", ".mypy_cache"}


@pytest.mark.node
def test_verify_leaves_the_typescript_worktree_clean(ts_outcomes: Scenarios) -> None:
    checkout, outcome = ts_outcomes["pass"]
    assert outcome.passed
    assert sorted(p.name for p in checkout.path.iterdir()) == [
        ".git",
        ".gitignore",
        "README.md",
        "docs",
        "node_modules",
        "package.json",
        "src",
        "tests",
        "tsconfig.json",
    ]
