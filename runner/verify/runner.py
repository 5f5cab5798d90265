"""Run the quality gates a task's criteria ask for and collect the verdicts.

:func:`verify` parses the criteria, detects the toolchain, runs the setup command, then the
test, type-check and lint gates concurrently (only those some criterion needs), each child
process in its own process group with a minimal environment and the configured rlimits.
Reports go to a temporary work directory, so the working tree is left as it was.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import structlog
import trio

from runner.config import ResourceLimits, Settings
from runner.errors import VerifyError
from runner.redact import Redactor
from runner.tools import LineCallback, run_process
from runner.verify.commands import (
    CheckPlan,
    TestPlan,
    plan_lint,
    plan_setup,
    plan_tests,
    plan_typecheck,
)
from runner.verify.coverage import (
    CoverageData,
    TestReport,
    coverage_result,
    coverage_table,
    parse_coverage,
    tests_result,
)
from runner.verify.criteria import (
    COVERAGE,
    DOC_UPDATED,
    LINT_CLEAN,
    TESTS_PASS,
    TYPE_STRICT,
    Criterion,
    CriterionResult,
    parse_criteria,
)
from runner.verify.detect import (
    Command,
    Toolchain,
    child_environment,
    detect_toolchain,
    load_verify_config,
    node_limits,
)
from runner.verify.docs import doc_result
from runner.verify.typecheck import check_result, count_errors, skipped_result

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from runner.tools import ProcessResult

__all__ = ["VerifyOutcome", "verify"]

log = structlog.get_logger(__name__)

_TAIL_LINES = 40


@attrs.frozen
class VerifyOutcome:
    """Every criterion's verdict plus the gates' (redacted, capped) output.

    Attributes:
        results: Criterion name -> result, in the order the criteria were given.
        artifacts: ``testOutput``, ``coverageReport``, ``typeCheckOutput``, ``lintOutput``
            (and ``setupOutput``), only for the gates that ran.
        passed: Whether every criterion passed.
        duration: Wall time of the whole verification, in seconds.
        process_time: Wall time spent waiting on child processes: setup plus the longest
            of the concurrent gates (each gate's processes run one after another).
    """

    results: dict[str, CriterionResult]
    artifacts: dict[str, str]
    passed: bool
    duration: float
    process_time: float

    def results_wire(self) -> dict[str, dict[str, object]]:
        """Return the results in the spec's wire shape."""
        return {name: result.to_wire() for name, result in self.results.items()}


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _combined(result: ProcessResult) -> str:
    if result.stdout and result.stderr:
        return result.stdout.rstrip("\n") + "\n" + result.stderr
    return result.stdout or result.stderr


def _tool_module(command: Command) -> list[str]:
    """Return the modules a ``python -m X`` command (or ``coverage run -m pytest``) needs."""
    return [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == "-m"]


@attrs.frozen
class _Plans:
    chain: Toolchain
    setup: Command | None
    test: TestPlan | None
    typecheck: CheckPlan | None
    lint: CheckPlan | None
    work: Path


def _plan(repo: Path, wanted: set[str], settings: Settings) -> _Plans:
    """Detect and plan (blocking file reads; runs in a thread)."""
    config = load_verify_config(repo)
    chain = detect_toolchain(repo, python_path=settings.python_path, node_path=settings.node_path)
    work = Path(tempfile.mkdtemp(prefix="devteam-verify-"))
    try:
        git_dir = repo / ".git"
        cache = git_dir / "devteam-verify" / "mypy" if git_dir.is_dir() else work / "mypy"
        needs_tests = bool(wanted & {COVERAGE, TESTS_PASS})
        return _Plans(
            chain=chain,
            setup=plan_setup(repo, chain, config),
            test=plan_tests(repo, chain, config, work, coverage=COVERAGE in wanted)
            if needs_tests
            else None,
            typecheck=plan_typecheck(repo, chain, config, cache) if TYPE_STRICT in wanted else None,
            lint=plan_lint(repo, chain, config) if LINT_CLEAN in wanted else None,
            work=work,
        )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


@attrs.define
class _Verification:
    """One verification's mutable state: results, artifacts, time spent in processes."""

    repo: Path
    criteria: dict[str, Criterion]
    changed: Sequence[str]
    settings: Settings
    redactor: Redactor
    env: dict[str, str] = attrs.field(factory=dict)
    limits: ResourceLimits | None = None
    results: dict[str, CriterionResult] = attrs.field(factory=dict)
    artifacts: dict[str, str] = attrs.field(factory=dict)
    gate_time: dict[str, float] = attrs.field(factory=dict)
    on_line: LineCallback | None = None

    def artifact(self, name: str, text: str) -> None:
        """Store ``text`` redacted and cut to the last ``output_cap_bytes``."""
        cap = self.settings.output_cap_bytes
        data = self.redactor(text).encode("utf-8")
        if len(data) > cap:
            kept = data[-cap:].decode("utf-8", errors="ignore")
            text = f"[... output truncated; last {cap // 1024} KiB follow ...]\n{kept}"
        else:
            text = data.decode("utf-8")
        self.artifacts[name] = text

    async def run(
        self, gate: str, command: Command, extra_env: Mapping[str, str] | None = None
    ) -> ProcessResult:
        """Run one child process of ``gate`` and account for its time.

        Each output line goes to ``on_line`` as it is printed, redacted and tagged with the
        gate (gates run concurrently).
        """
        on_line = self.on_line
        tagged: LineCallback | None = None
        if on_line is not None:

            def tagged(stream: str, line: str) -> None:
                on_line(stream, f"[{gate}] {self.redactor(line)}")

        try:
            result = await run_process(
                command,
                cwd=self.repo,
                env={**self.env, **(extra_env or {})},
                limits=self.limits,
                output_cap=self.settings.output_cap_bytes,
                on_line=tagged,
            )
        except OSError as exc:
            raise VerifyError(
                f"{gate}: cannot run {command[0]}: {exc.strerror or exc}", code="verify_failed"
            ) from None
        self.gate_time[gate] = self.gate_time.get(gate, 0.0) + result.duration
        if not result.ok:
            output = _combined(result)
            for module in _tool_module(command):
                if re.search(rf"No module named '?{re.escape(module)}'?\s*$", output, re.M):
                    raise VerifyError(
                        f"{module} is not installed for {command[0]} (PYTHON_PATH)",
                        code="verify_failed",
                    )
        return result

    def judge(self, result: CriterionResult) -> None:
        """Record a criterion's verdict."""
        self.results[result.name] = result

    async def setup(self, command: Command) -> None:
        """Run the setup command; a failure means verification cannot run."""
        result = await self.run("setup", command)
        self.artifact("setupOutput", _combined(result))
        if not result.ok:
            tail = self.redactor(_tail(_combined(result)))
            raise VerifyError(
                f"setup command failed (exit {result.returncode}): {tail}", code="verify_failed"
            )

    async def _read_coverage(self, plan: TestPlan, started: float) -> CoverageData | None:
        path = plan.coverage_report
        if path is None:
            return None

        def read() -> CoverageData | None:
            if not path.is_file() or path.stat().st_mtime < started - 1:
                return None  # absent, or stale from an earlier run
            return parse_coverage(path.read_text(encoding="utf-8"), self.repo)

        return await trio.to_thread.run_sync(read)

    async def _coverage_report(self, plan: TestPlan) -> bool:
        """Run coverage.py's JSON report; return False when there was no data at all."""
        if plan.report_command is None:
            return True
        result = await self.run("test", plan.report_command, plan.env)
        if result.ok:
            return True
        if "No data to report" in _combined(result):
            return False
        raise VerifyError(
            f"coverage report failed: {self.redactor(_tail(_combined(result)))}",
            code="verify_failed",
        )

    async def _test_report(self, plan: TestPlan, result: ProcessResult) -> TestReport:
        output = _combined(result)
        if plan.results_file is not None:
            results_file = plan.results_file

            def read() -> str | None:
                return results_file.read_text("utf-8") if results_file.is_file() else None

            text = await trio.to_thread.run_sync(read)
            if text is not None:
                return TestReport.from_jest_json(result.returncode, text, self.repo)
        return TestReport.from_pytest(result.returncode, output)

    async def tests(self, plan: TestPlan) -> None:
        """Run the tests (under coverage if asked) and judge the test criteria."""
        started = time.time()
        result = await self.run("test", plan.command, plan.env)
        self.artifact("testOutput", _combined(result))
        report = await self._test_report(plan, result)
        has_data = await self._coverage_report(plan)
        data = await self._read_coverage(plan, started)
        if data is None and not has_data:
            data = CoverageData({})
        if (coverage := self.criteria.get(COVERAGE)) is not None:
            if data is None and report.ok:
                raise VerifyError(
                    f"the test run produced no coverage report at {plan.coverage_report}",
                    code="verify_failed",
                )
            verdict = coverage_result(coverage, data, self.changed, report)
            if data is not None:
                self.artifact("coverageReport", coverage_table(data, verdict.details["scope"]))
            self.judge(verdict)
        if (tests := self.criteria.get(TESTS_PASS)) is not None:
            self.judge(tests_result(tests, report))

    async def check(self, gate: str, criterion: Criterion, plan: CheckPlan) -> None:
        """Run a type check or lint and judge its error budget."""
        if plan.command is None:
            self.judge(skipped_result(criterion, plan.skipped or "not applicable"))
            return
        result = await self.run(gate, plan.command)
        output = _combined(result)
        self.artifact("typeCheckOutput" if gate == "typecheck" else "lintOutput", output)
        count = count_errors(output, result.returncode)
        if plan.tool != "custom" and not count.recognised:  # the checker itself broke
            raise VerifyError(
                f"{plan.tool} failed (exit {result.returncode}): {self.redactor(_tail(output))}",
                code="verify_failed",
            )
        self.judge(check_result(criterion, count))


async def _run_gates(verification: _Verification, plans: _Plans) -> None:
    """Run setup, then the needed gates concurrently; the first VerifyError cancels the rest."""
    if plans.setup is not None:
        await verification.setup(plans.setup)
    errors: list[VerifyError] = []
    async with trio.open_nursery() as nursery:

        async def guarded(gate: str, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
            try:
                await fn(*args)
            except VerifyError as exc:  # reported as a value so the nursery only sees bugs
                errors.append(exc)
                nursery.cancel_scope.cancel()

        criteria = verification.criteria
        if plans.test is not None:
            nursery.start_soon(guarded, "test", verification.tests, plans.test)
        if plans.typecheck is not None:
            args = ("typecheck", criteria[TYPE_STRICT], plans.typecheck)
            nursery.start_soon(guarded, "typecheck", verification.check, *args)
        if plans.lint is not None:
            args = ("lint", criteria[LINT_CLEAN], plans.lint)
            nursery.start_soon(guarded, "lint", verification.check, *args)
    if errors:
        raise errors[0]


async def _verify_with_processes(verification: _Verification, wanted: set[str]) -> None:
    settings = verification.settings
    plans = await trio.to_thread.run_sync(_plan, verification.repo, wanted, settings)
    try:
        verification.env = child_environment(plans.chain.path, plans.work)
        verification.limits = settings.limits
        if plans.chain.language == "node":
            verification.limits = node_limits(settings.limits, verification.env)
        await _run_gates(verification, plans)
    finally:
        with trio.move_on_after(10, shield=True):
            await trio.to_thread.run_sync(shutil.rmtree, plans.work, True)


async def verify(
    repo: Path,
    criteria: Mapping[str, Any],
    *,
    changed_files: Sequence[str],
    settings: Settings,
    on_line: LineCallback | None = None,
) -> VerifyOutcome:
    """Evaluate ``criteria`` on the checked-out branch in ``repo``.

    Args:
        repo: The working tree, on the task branch.
        criteria: Criterion name -> requirement (see :mod:`runner.verify.criteria`).
        changed_files: Repository-relative paths the branch changed against its base.
        settings: Interpreters, ``verify_timeout_s``, process limits, output cap, secrets.
        on_line: Called with ``(stream, line)`` for each line a gate prints, as it prints
            it (redacted, prefixed with ``[gate]``); must not block.

    Returns:
        Every criterion's result; ``passed`` is False when any criterion failed.

    Raises:
        InvalidInputError: an unknown criterion or a malformed value (400).
        VerifyError: ``verify_timeout`` after ``settings.verify_timeout_s``; ``verify_failed``
            when verification cannot run (missing interpreter, checker, test command...).
    """
    parsed = {c.name: c for c in parse_criteria(criteria)}
    started = trio.current_time()
    verification = _Verification(
        repo, parsed, tuple(changed_files), settings, Redactor(settings.secrets), on_line=on_line
    )
    if (doc := parsed.get(DOC_UPDATED)) is not None:
        verification.judge(doc_result(doc, verification.changed))
    wanted = set(parsed) - {DOC_UPDATED}
    if wanted:
        try:
            with trio.fail_after(settings.verify_timeout_s):
                await _verify_with_processes(verification, wanted)
        except trio.TooSlowError:
            raise VerifyError(
                f"verification timed out after {settings.verify_timeout_s:g} s",
                code="verify_timeout",
            ) from None
    results = {name: verification.results[name] for name in parsed}
    gate_times = verification.gate_time
    setup_time = gate_times.pop("setup", 0.0)
    outcome = VerifyOutcome(
        results=results,
        artifacts=verification.artifacts,
        passed=all(r.passed for r in results.values()),
        duration=trio.current_time() - started,
        process_time=setup_time + max(gate_times.values(), default=0.0),
    )
    log.info(
        "verify_finished",
        passed=outcome.passed,
        failed=[name for name, r in results.items() if not r.passed],
        duration=round(outcome.duration, 3),
    )
    return outcome
