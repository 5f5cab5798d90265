"""Build the setup, test, type-check and lint commands for a repository.

Configured commands (``.devteam.toml`` ``[verify]``) win; otherwise each plan is derived from
the detected :class:`~runner.verify.detect.Toolchain`. Reports the runner reads (coverage
JSON, test results) go to a per-run work directory outside the repository, so verifying
leaves the working tree as it found it.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path
from typing import Any

import attrs

from runner.errors import VerifyError
from runner.verify.detect import CONFIG_FILE, Command, Toolchain, VerifyConfig
from runner.verify.results import TestRunner, runner_of

__all__ = [
    "CheckPlan",
    "TestPlan",
    "needs_node_install",
    "plan_lint",
    "plan_tests",
    "plan_typecheck",
]

_NOT_SOURCE_DIRS = {"tests", "test", "docs", "doc", "examples", "scripts", "build", "dist"}
_NOT_SOURCE_FILES = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py"}


def _missing(what: str) -> VerifyError:
    return VerifyError(what, code="verify_failed")


@attrs.frozen
class TestPlan:
    """How to run the tests and where their reports land.

    Attributes:
        command: The test run.
        runner: Which runner's report formats to read.
        env: Extra environment for the test run (e.g. ``COVERAGE_FILE``).
        report_command: Run after the tests to write the coverage report (coverage.py).
        coverage_report: The coverage JSON to read (coverage.py or istanbul), if measured.
        results_file: The jest-style JSON results (vitest/jest), if any.
    """

    __test__ = False  # not a pytest test class despite the name

    command: Command
    runner: TestRunner
    env: dict[str, str] = attrs.field(factory=dict)
    report_command: Command | None = None
    coverage_report: Path | None = None
    results_file: Path | None = None


@attrs.frozen
class CheckPlan:
    """A type-check or lint command; ``skipped`` says why none applies."""

    command: Command | None
    tool: str
    skipped: str | None = None


def _pyproject(repo: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _tool(repo: Path, name: str) -> dict[str, Any] | None:
    table = _pyproject(repo).get("tool", {}).get(name)
    return table if isinstance(table, dict) else None


def _ini_has(repo: Path, files: tuple[str, ...], section: str, option: str | None) -> bool:
    for name in files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(repo / name, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_section(section) and (option is None or parser.has_option(section, option)):
            return True
    return False


def needs_node_install(repo: Path, chain: Toolchain, config: VerifyConfig, cache: Path) -> bool:
    """Whether VERIFY installs ``node_modules``: Node, no configured setup, and none in place.

    A ``node_modules`` the repository brings (a directory, or a link elsewhere) is used as
    it is; a link into the dependency ``cache`` is ours and is checked against the lock file.
    """
    if config.setup is not None or chain.language != "node":
        return False
    modules = repo / "node_modules"
    if modules.is_symlink():
        return modules.resolve().is_relative_to(cache.resolve())
    return not modules.exists()


def _python_source_args(repo: Path) -> tuple[str, ...]:
    """Where the product's sources live: configured, else the ``src/`` layout, else ``.``."""
    run = (_tool(repo, "coverage") or {}).get("run", {})
    configured = (
        (isinstance(run, dict) and "source" in run)
        or (repo / ".coveragerc").is_file()
        or _ini_has(repo, ("setup.cfg", "tox.ini"), "coverage:run", "source")
    )
    if configured:
        return ()
    return ("--source=src",) if (repo / "src").is_dir() else ("--source=.",)


def _node_runner(chain: Toolchain) -> TestRunner:
    return runner_of(chain.test_script or "")


def _node_coverage_args(repo: Path, runner: TestRunner, work: Path) -> tuple[str, ...]:
    reports, results = work / "coverage", work / "results.json"
    if runner == "jest":
        return (
            "--ci",
            "--coverage",
            "--coverageReporters=json",
            f"--coverageDirectory={reports}",
            "--json",
            f"--outputFile={results}",
        )
    modules = repo / "node_modules" / "@vitest"
    provider: tuple[str, ...] = ()
    if (modules / "coverage-istanbul").exists() and not (modules / "coverage-v8").exists():
        provider = ("--coverage.provider=istanbul",)
    return (
        "--coverage.enabled=true",
        *provider,
        "--coverage.reporter=json",
        "--coverage.reportOnFailure=true",
        f"--coverage.reportsDirectory={reports}",
        "--reporter=default",
        "--reporter=json",
        f"--outputFile.json={results}",
    )


def _node_test_plan(repo: Path, chain: Toolchain, work: Path, coverage: bool) -> TestPlan:
    if chain.test_script is None:
        raise _missing("no test command: package.json has no test script (set [verify].test)")
    npm = chain.require_npm()
    runner = _node_runner(chain)
    if runner not in ("jest", "vitest"):
        if coverage:
            raise _missing(
                f"cannot measure coverage of test script {chain.test_script!r}: "
                f"set [verify].test and [verify].coverage_report in {CONFIG_FILE}"
            )
        return TestPlan((npm, "test"), runner)
    args = _node_coverage_args(repo, runner, work)
    if not coverage:  # keep the results file, drop the coverage flags
        args = tuple(a for a in args if "overage" not in a)
    return TestPlan(
        (npm, "test", "--", *args),
        runner,
        coverage_report=work / "coverage" / "coverage-final.json" if coverage else None,
        results_file=work / "results.json",
    )


def plan_tests(
    repo: Path, chain: Toolchain, config: VerifyConfig, work: Path, *, coverage: bool
) -> TestPlan:
    """Plan the test run, measuring coverage when ``coverage`` is asked for.

    Raises:
        VerifyError: ``verify_failed`` when no test command or interpreter can be found.
    """
    if config.test is not None:
        report = repo / config.coverage_report if config.coverage_report else None
        if coverage and report is None:
            raise _missing(
                f"[verify].test is set but [verify].coverage_report is not: "
                f"cannot measure coverage ({CONFIG_FILE})"
            )
        runner = runner_of(" ".join(config.test))
        return TestPlan(config.test, runner, coverage_report=report if coverage else None)
    if chain.language == "node":
        return _node_test_plan(repo, chain, work, coverage)
    if chain.language == "unknown":
        raise _missing(
            "no test command: no package.json, pyproject.toml, setup.py or requirements.txt "
            f"and no [verify].test in {CONFIG_FILE}"
        )
    python = chain.require_python()
    pytest_args = ("-m", "pytest", "-p", "no:cacheprovider", "-rfE")
    if not coverage:
        return TestPlan((python, *pytest_args), "pytest")
    report = work / "coverage.json"
    return TestPlan(
        (python, "-m", "coverage", "run", *_python_source_args(repo), *pytest_args),
        "pytest",
        env={"COVERAGE_FILE": str(work / ".coverage")},
        report_command=(python, "-m", "coverage", "json", "-q", "-o", str(report)),
        coverage_report=report,
    )


def _mypy_targets(repo: Path) -> tuple[str, ...]:
    mypy = _tool(repo, "mypy") or {}
    if "files" in mypy or _ini_has(repo, ("mypy.ini", ".mypy.ini", "setup.cfg"), "mypy", "files"):
        return ()
    if (repo / "src").is_dir():
        return ("src",)
    packages = sorted(
        p.name
        for p in repo.iterdir()
        if p.is_dir() and p.name not in _NOT_SOURCE_DIRS and (p / "__init__.py").is_file()
    )
    modules = sorted(
        p.name
        for p in repo.glob("*.py")
        if p.name not in _NOT_SOURCE_FILES and not p.name.startswith("test")
    )
    return tuple(packages + modules) or (".",)


def _python_typecheck(repo: Path, chain: Toolchain, cache_dir: Path) -> CheckPlan:
    python = chain.require_python()
    pyright_configured = (repo / "pyrightconfig.json").is_file() or _tool(repo, "pyright")
    if pyright_configured:
        beside = Path(python).parent / "pyright"
        if not beside.is_file():
            raise _missing("pyright is configured but not installed next to PYTHON_PATH")
        return CheckPlan((str(beside),), "pyright")
    command = (python, "-m", "mypy", "--strict", "--no-color-output", "--cache-dir")
    return CheckPlan((*command, str(cache_dir), *_mypy_targets(repo)), "mypy")


def plan_typecheck(
    repo: Path, chain: Toolchain, config: VerifyConfig, cache_dir: Path
) -> CheckPlan:
    """Plan the type check: configured, mypy ``--strict`` (pyright if configured), or tsc.

    Raises:
        VerifyError: ``verify_failed`` when the checker is missing.
    """
    if config.typecheck is not None:
        return CheckPlan(config.typecheck, "custom")
    if chain.language == "python":
        return _python_typecheck(repo, chain, cache_dir)
    if chain.language == "unknown":
        raise _missing("no type checker: unknown toolchain and no [verify].typecheck")
    project = _ts_project(repo)
    if project is None:
        return CheckPlan(
            None,
            "tsc",
            skipped="plain JavaScript: no tsconfig.json, and no jsconfig.json with checkJs",
        )
    tsc = repo / "node_modules" / "typescript" / "bin" / "tsc"
    if not tsc.is_file():
        raise _missing(
            f"{project} asks for type checking but TypeScript is not installed after setup "
            "(add typescript to devDependencies)"
        )
    command = (chain.require_node(), str(tsc), "--noEmit", "--pretty", "false", "-p", project)
    return CheckPlan(command, "tsc")


def _ts_project(repo: Path) -> str | None:
    """The project file tsc checks: ``tsconfig.json``, or a ``jsconfig.json`` with checkJs."""
    if (repo / "tsconfig.json").is_file():
        return "tsconfig.json"
    try:
        text = (repo / "jsconfig.json").read_text(encoding="utf-8")
    except OSError:
        return None
    return "jsconfig.json" if re.search(r'"checkJs"\s*:\s*true', text) else None


def plan_lint(repo: Path, chain: Toolchain, config: VerifyConfig) -> CheckPlan:
    """Plan the lint run: configured, ruff for Python, eslint or the ``lint`` script for Node.

    Raises:
        VerifyError: ``verify_failed`` when no linter can be found.
    """
    if config.lint is not None:
        return CheckPlan(config.lint, "custom")
    if chain.language == "python":
        ruff = ("-m", "ruff", "check", "--output-format=concise", "--no-cache", ".")
        return CheckPlan((chain.require_python(), *ruff), "ruff")
    eslint = repo / "node_modules" / "eslint" / "bin" / "eslint.js"
    if chain.language == "node" and eslint.is_file():
        return CheckPlan((chain.require_node(), str(eslint), "."), "eslint")
    scripts = chain.package.get("scripts")
    if isinstance(scripts, dict) and isinstance(scripts.get("lint"), str):
        return CheckPlan((chain.require_npm(), "run", "lint"), "npm run lint")
    raise _missing("no linter: eslint is not installed and there is no [verify].lint")
