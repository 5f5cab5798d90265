"""Run the quality gates a task's criteria ask for and collect the verdicts.

:func:`verify` reads ``.devteam.toml`` and the toolchain, installs the dependencies FIRST
(the configured ``setup``, or ``node_modules`` from the shared cache), then plans the gates
from what is installed and runs the test, type-check and lint gates concurrently (only those
some criterion needs), each child process in its own process group with a minimal
environment and the configured rlimits. When tests fail, the base commit's tests are run too
(cached), and each failure is ``new`` or ``pre-existing``. Reports go to a temporary work
directory, so the working tree is left as it was.
"""

from __future__ import annotations

import re
import shlex
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
from runner.tools import LineCallback, OutputTail, run_process
from runner.verify.baseline import Baseline, base_commit, base_failures, command_key, export_tree
from runner.verify.commands import (
    CheckPlan,
    TestPlan,
    needs_node_install,
    plan_lint,
    plan_tests,
    plan_typecheck,
)
from runner.verify.coverage import CoverageData, coverage_result, coverage_table, parse_coverage
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
from runner.verify.deps import install_node_modules
from runner.verify.detect import (
    Command,
    Toolchain,
    VerifyConfig,
    child_environment,
    detect_toolchain,
    load_verify_config,
    node_limits,
)
from runner.verify.docs import doc_result
from runner.verify.explain import combined, failure, first_errors, tail_lines
from runner.verify.results import TestReport, judge_tests_pass, read_text_report
from runner.verify.typecheck import check_result, count_errors, skipped_result

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from runner.tools import ProcessResult

__all__ = ["VerifyOutcome", "verify"]

log = structlog.get_logger(__name__)


@attrs.frozen
class VerifyOutcome:
    """Every criterion's verdict plus the gates' (redacted, capped) output.

    Attributes:
        results: Criterion name -> result, in the order the criteria were given.
        artifacts: ``setupOutput``, ``testOutput``, ``baseTestOutput``, ``coverageReport``,
            ``typeCheckOutput``, ``lintOutput``: only for the steps that ran.
        passed: Whether every criterion passed.
        duration: Wall time of the whole verification, in seconds.
        process_time: Wall time spent waiting on child processes: setup, the longest of
            the concurrent gates, and the base commit's test run.
        setup_time: Wall time of the setup step (0 when the dependency cache was reused).
        notes: What the user should know (a lock file out of sync, a base that could not run).
    """

    results: dict[str, CriterionResult]
    artifacts: dict[str, str]
    passed: bool
    duration: float
    process_time: float
    setup_time: float = 0.0
    notes: tuple[str, ...] = ()

    def results_wire(self) -> dict[str, dict[str, object]]:
        """Return the results in the spec's wire shape."""
        return {name: result.to_wire() for name, result in self.results.items()}


def _tool_module(command: Command) -> list[str]:
    """Return the modules a ``python -m X`` command (or ``coverage run -m pytest``) needs."""
    return [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == "-m"]


@attrs.frozen
class _Plans:
    test: TestPlan | None
    typecheck: CheckPlan | None
    lint: CheckPlan | None


def _plan(
    tree: Path, wanted: set[str], chain: Toolchain, config: VerifyConfig, work: Path
) -> _Plans:
    """Plan the gates from what setup installed (blocking file reads; runs in a thread)."""
    git_dir = tree / ".git"
    cache = git_dir / "devteam-verify" / "mypy" if git_dir.is_dir() else work / "mypy"
    needs_tests = bool(wanted & {COVERAGE, TESTS_PASS})
    return _Plans(
        test=plan_tests(tree, chain, config, work, coverage=COVERAGE in wanted)
        if needs_tests
        else None,
        typecheck=plan_typecheck(tree, chain, config, cache) if TYPE_STRICT in wanted else None,
        lint=plan_lint(tree, chain, config) if LINT_CLEAN in wanted else None,
    )


def _with_details(result: CriterionResult, **extra: Any) -> CriterionResult:
    return attrs.evolve(result, details={**result.details, **extra})


@attrs.define
class _Verification:
    """One verification's mutable state: results, artifacts, time spent in processes."""

    repo: Path
    criteria: dict[str, Criterion]
    changed: Sequence[str]
    settings: Settings
    redactor: Redactor
    base: str | None = None
    on_line: LineCallback | None = None
    work: Path = Path()
    config: VerifyConfig = attrs.field(factory=VerifyConfig)
    chain: Toolchain | None = None
    env: dict[str, str] = attrs.field(factory=dict)
    limits: ResourceLimits | None = None
    results: dict[str, CriterionResult] = attrs.field(factory=dict)
    artifacts: dict[str, str] = attrs.field(factory=dict)
    gate_time: dict[str, float] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)

    def artifact(self, name: str, text: str) -> None:
        """Store ``text`` redacted, keeping its head and tail within ``output_cap_bytes``."""
        cap = self.settings.output_cap_bytes
        data = self.redactor(text).encode("utf-8")
        if len(data) > cap:
            head = data[: cap // 4].decode("utf-8", errors="ignore")
            kept = data[-(cap - cap // 4) :].decode("utf-8", errors="ignore")
            text = f"{head}\n[... output truncated; the last part follows ...]\n{kept}"
        else:
            text = data.decode("utf-8")
        self.artifacts[name] = text

    async def run(
        self,
        gate: str,
        command: Command,
        extra_env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        output: tuple[OutputTail, OutputTail] | None = None,
    ) -> ProcessResult:
        """Run one child process of ``gate`` and account for its time."""
        started = trio.current_time()
        try:
            result = await run_process(
                command,
                cwd=cwd or self.repo,
                env={**self.env, **(extra_env or {})},
                limits=self.limits,
                output_cap=self.settings.output_cap_bytes,
                output=output,
                on_line=self.on_line,
            )
        except OSError as exc:
            raise VerifyError(
                f"{gate}: cannot run {command[0]}: {exc.strerror or exc}", code="verify_failed"
            ) from None
        finally:
            spent = trio.current_time() - started
            self.gate_time[gate] = self.gate_time.get(gate, 0.0) + spent
        if not result.ok:
            output_text = combined(result.stdout, result.stderr)
            for module in _tool_module(command):
                if re.search(rf"No module named '?{re.escape(module)}'?\s*$", output_text, re.M):
                    raise VerifyError(
                        f"{module} is not installed for {command[0]} (PYTHON_PATH)",
                        code="verify_failed",
                    )
        return result

    def judge(self, result: CriterionResult) -> None:
        """Record a criterion's verdict."""
        self.results[result.name] = result

    async def setup(self, tree: Path, artifact: str) -> bool:
        """Install ``tree``'s dependencies; return False when setup failed on the base.

        Raises:
            VerifyError: the branch's setup failed (first error lines, tail, command, exit).
        """
        assert self.chain is not None
        if self.config.setup is not None:
            result = await self.run("setup", self.config.setup, cwd=tree)
            output = combined(result.stdout, result.stderr)
            self.artifact(artifact, output)
            if result.ok:
                return True
            if tree != self.repo:
                return False
            raise failure("setup", result.args, result.returncode, output, artifact=artifact)
        cache = self.settings.dependency_cache
        if not needs_node_install(tree, self.chain, self.config, cache):
            return True
        install = await install_node_modules(
            tree,
            self.chain.require_npm(),
            cache,
            install_scripts=self.config.install_scripts,
            run=lambda command: self.run("setup", command, cwd=tree),
        )
        output = "\n".join(combined(r.stdout, r.stderr) for r in install.results)
        if install.results:
            self.artifact(artifact, output)
        if install.note and tree == self.repo:
            self.notes.append(install.note)
        if install.ok or tree != self.repo:
            return install.ok
        last = install.results[-1]
        what = f"npm {last.args[1]}"
        if install.note is not None:
            what = f"package-lock.json is out of sync with package.json; then {what}"
        raise failure(what, last.args, last.returncode, output, artifact=artifact)

    async def run_tests(self, plan: TestPlan, tree: Path, artifact: str) -> TestReport:
        """Run the tests in ``tree``; a run past ``verify_test_timeout_s`` is a verdict."""
        limit = self.settings.verify_test_timeout_s
        tails = (OutputTail(self.settings.output_cap_bytes), OutputTail(1024 * 1024))
        result = None
        with trio.move_on_after(limit):
            result = await self.run("test", plan.command, plan.env, cwd=tree, output=tails)
        if result is None:
            output = combined(tails[0].text(), tails[1].text())
            self.artifact(artifact, output)
            note = f"timed out after {limit:g} s in {shlex.join(plan.command)}"
            return TestReport(-1, timed_out=True, note=note)
        output = combined(result.stdout, result.stderr)
        self.artifact(artifact, output)
        if plan.results_file is not None:
            results_file = plan.results_file

            def read() -> str | None:
                return results_file.read_text("utf-8") if results_file.is_file() else None

            text = await trio.to_thread.run_sync(read)
            if text is not None:
                return TestReport.from_jest_json(result.returncode, text, tree)
        return read_text_report(plan.runner, result.returncode, output)

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
        output = combined(result.stdout, result.stderr)
        if result.ok:
            return True
        if "No data to report" in output:
            return False
        raise failure(
            "coverage report", result.args, result.returncode, output, artifact="testOutput"
        )

    async def baseline(self, report: TestReport) -> Baseline | None:
        """The base commit's failures, when the branch has failures and a base is known."""
        if not report.failures or self.base is None:
            return None

        async def git(*args: str) -> tuple[int, str]:
            result = await run_process(("git", *args), cwd=self.repo, env=self.env)
            return result.returncode, result.stdout

        commit = await base_commit(git, self.base)
        if commit is None:
            self.notes.append(f"no common ancestor with {self.base}: every failure counts as new")
            return None
        tree, base_work = self.work / "base", self.work / "base-work"
        probe = await trio.to_thread.run_sync(
            _plan, self.repo, {TESTS_PASS}, self._chain(), self.config, base_work
        )
        assert probe.test is not None

        async def run_base() -> TestReport | None:
            archive = self.work / "base.tar"
            code, _ = await git("archive", "--format=tar", "-o", str(archive), commit)
            if code != 0:
                return None
            await trio.to_thread.run_sync(export_tree, archive, tree)
            if not await self.setup(tree, "baseSetupOutput"):
                return None
            chain = await trio.to_thread.run_sync(self._detect, tree)
            plans = await trio.to_thread.run_sync(
                _plan, tree, {TESTS_PASS}, chain, self.config, base_work
            )
            assert plans.test is not None
            return await self.run_tests(plans.test, tree, "baseTestOutput")

        key = command_key(probe.test.command, base_work)
        baseline = await base_failures(self.repo, commit, key, run_base)
        if baseline.note:
            self.notes.append(baseline.note)
        return baseline

    def _chain(self) -> Toolchain:
        assert self.chain is not None
        return self.chain

    def _detect(self, tree: Path) -> Toolchain:
        settings = self.settings
        return detect_toolchain(
            tree, python_path=settings.python_path, node_path=settings.node_path
        )

    async def tests(self, plan: TestPlan) -> None:
        """Run the tests (under coverage if asked) and judge the test criteria."""
        started = time.time()
        report = await self.run_tests(plan, self.repo, "testOutput")
        data = None
        if not report.timed_out:
            has_data = await self._coverage_report(plan)
            data = await self._read_coverage(plan, started)
            if data is None and not has_data:
                data = CoverageData({})
        baseline = await self.baseline(report)
        pre_existing = baseline.failures if baseline is not None else frozenset()
        strict = self.config.strict
        evidence = self._evidence(report)
        if (coverage := self.criteria.get(COVERAGE)) is not None:
            if data is None and not report.crashed:
                raise VerifyError(
                    f"the test run produced no coverage report at {plan.coverage_report}",
                    code="verify_failed",
                )
            verdict = coverage_result(
                coverage, data, self.changed, report, repo=self.repo,
                pre_existing=pre_existing, strict=strict,
            )  # fmt: skip
            if data is not None:
                self.artifact("coverageReport", coverage_table(data, verdict.details["scope"]))
            self.judge(_with_details(verdict, **evidence) if report.crashed else verdict)
        if (tests := self.criteria.get(TESTS_PASS)) is not None:
            verdict = judge_tests_pass(tests, report, pre_existing, strict=strict)
            if baseline is not None:
                verdict = _with_details(verdict, base=baseline.to_wire())
            self.judge(_with_details(verdict, **evidence) if report.crashed else verdict)

    def _evidence(self, report: TestReport) -> dict[str, Any]:
        """First error lines and tail of a run that crashed or timed out."""
        if not report.crashed:
            return {}
        output = self.artifacts.get("testOutput", "")
        return {"firstErrors": first_errors(output), "tail": tail_lines(output)}

    async def check(self, gate: str, criterion: Criterion, plan: CheckPlan) -> None:
        """Run a type check or lint and judge its error budget."""
        if plan.command is None:
            self.judge(skipped_result(criterion, plan.skipped or "not applicable"))
            return
        result = await self.run(gate, plan.command)
        output = combined(result.stdout, result.stderr)
        name = "typeCheckOutput" if gate == "typecheck" else "lintOutput"
        self.artifact(name, output)
        count = count_errors(output, result.returncode)
        if plan.tool != "custom" and not count.recognised:  # the checker itself broke
            raise failure(plan.tool, result.args, result.returncode, output, artifact=name)
        verdict = check_result(criterion, count)
        if not verdict.passed:
            verdict = _with_details(verdict, firstErrors=first_errors(output))
        self.judge(verdict)


async def _run_gates(verification: _Verification, plans: _Plans) -> None:
    """Run the needed gates concurrently; the first VerifyError cancels the rest."""
    errors: list[VerifyError] = []
    async with trio.open_nursery() as nursery:

        async def guarded(fn: Callable[..., Awaitable[None]], *args: Any) -> None:
            try:
                await fn(*args)
            except VerifyError as exc:  # reported as a value so the nursery only sees bugs
                errors.append(exc)
                nursery.cancel_scope.cancel()

        criteria = verification.criteria
        if plans.test is not None:
            nursery.start_soon(guarded, verification.tests, plans.test)
        if plans.typecheck is not None:
            args = ("typecheck", criteria[TYPE_STRICT], plans.typecheck)
            nursery.start_soon(guarded, verification.check, *args)
        if plans.lint is not None:
            args = ("lint", criteria[LINT_CLEAN], plans.lint)
            nursery.start_soon(guarded, verification.check, *args)
    if errors:
        raise errors[0]


def _prepare(verification: _Verification) -> None:
    """Read the configuration and the toolchain; make the work directory (in a thread)."""
    repo, settings = verification.repo, verification.settings
    verification.config = load_verify_config(repo)
    verification.chain = verification._detect(repo)
    verification.work = Path(tempfile.mkdtemp(prefix="devteam-verify-"))
    env = child_environment(verification.chain.path, verification.work)
    verification.env = {**env, **settings.verify_env, **verification.config.env}
    verification.limits = settings.limits
    if verification.chain.language == "node":
        verification.limits = node_limits(settings.limits, verification.env)


async def _verify_with_processes(verification: _Verification, wanted: set[str]) -> None:
    await trio.to_thread.run_sync(_prepare, verification)
    try:
        await verification.setup(verification.repo, "setupOutput")
        plans = await trio.to_thread.run_sync(
            _plan,
            verification.repo,
            wanted,
            verification._chain(),
            verification.config,
            verification.work,
        )
        await _run_gates(verification, plans)
    finally:
        with trio.move_on_after(10, shield=True):
            await trio.to_thread.run_sync(shutil.rmtree, verification.work, True)


async def verify(
    repo: Path,
    criteria: Mapping[str, Any],
    *,
    changed_files: Sequence[str],
    settings: Settings,
    base: str | None = None,
    on_line: LineCallback | None = None,
) -> VerifyOutcome:
    """Evaluate ``criteria`` on the checked-out branch in ``repo``.

    Args:
        repo: The working tree, on the task branch.
        criteria: Criterion name -> requirement (see :mod:`runner.verify.criteria`).
        changed_files: Repository-relative paths the branch changed against its base.
        settings: Interpreters, timeouts, process limits, output cap, secrets, caches.
        base: The base branch; when tests fail, its merge base with ``HEAD`` is tested too
            and failures it shares are ``pre-existing``. None: every failure is new.
        on_line: Called with each output line of the setup and gate processes.

    Returns:
        Every criterion's result; ``passed`` is False when any criterion failed.

    Raises:
        InvalidInputError: an unknown criterion or a malformed value (400).
        VerifyError: ``verify_timeout`` after ``settings.verify_timeout_s``; ``verify_failed``
            when verification cannot run (setup failed, missing interpreter or checker).
    """
    parsed = {c.name: c for c in parse_criteria(criteria)}
    started = trio.current_time()
    redactor = Redactor(settings.secrets)
    verification = _Verification(
        repo, parsed, tuple(changed_files), settings, redactor, base, on_line
    )
    if (doc := parsed.get(DOC_UPDATED)) is not None:
        judged = await trio.to_thread.run_sync(doc_result, doc, verification.changed, repo)
        verification.judge(judged)
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
    return _outcome(verification, parsed, trio.current_time() - started)


def _outcome(
    verification: _Verification, parsed: dict[str, Criterion], duration: float
) -> VerifyOutcome:
    results = {name: verification.results[name] for name in parsed}
    gate_times = dict(verification.gate_time)
    setup_time = gate_times.pop("setup", 0.0)
    outcome = VerifyOutcome(
        results=results,
        artifacts=verification.artifacts,
        passed=all(r.passed for r in results.values()),
        duration=duration,
        process_time=setup_time + max(gate_times.values(), default=0.0),
        setup_time=setup_time,
        notes=tuple(verification.notes),
    )
    log.info(
        "verify_finished",
        passed=outcome.passed,
        failed=[name for name, r in results.items() if not r.passed],
        duration=round(outcome.duration, 3),
    )
    return outcome
