"""The test gate: run the tests, compare their failures with the base, judge two criteria.

``tests.pass`` and ``test.coverage`` both come from one test run. A run past
``verify_test_timeout_s`` is a verdict, not an error. When tests fail, the base commit is
tested too (:mod:`runner.verify.baseline`) and only new failures count, unless the repo is
``strict``.
"""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING, Any

import trio

from runner.errors import VerifyError
from runner.process import OutputTail, run_process
from runner.verify.baseline import Baseline, base_commit, base_failures, command_key, export_tree
from runner.verify.coverage import CoverageData, coverage_result, coverage_table, parse_coverage
from runner.verify.criteria import COVERAGE, TESTS_PASS
from runner.verify.explain import combined, failure, first_errors, tail_lines
from runner.verify.related import plan_related
from runner.verify.results import TestReport, judge_tests_pass, new_failures, read_text_report
from runner.verify.session import Session, plan_gates, with_details

if TYPE_CHECKING:
    from pathlib import Path

    from runner.verify.commands import TestPlan

__all__ = ["MAX_COVERAGE_BYTES", "judge_tests", "run_tests"]

MAX_COVERAGE_BYTES = 256 * 2**20
"""A larger coverage report is refused rather than read into memory."""


async def run_tests(session: Session, plan: TestPlan, tree: Path, artifact: str) -> TestReport:
    """Run the tests in ``tree``; a run past ``verify_test_timeout_s`` is a verdict."""
    limit = session.settings.verify_test_timeout_s
    tails = (OutputTail(session.settings.output_cap_bytes), OutputTail(1024 * 1024))
    result = None
    with trio.move_on_after(limit):
        result = await session.run("test", plan.command, plan.env, cwd=tree, output=tails)
    if result is None:
        output = combined(tails[0].text(), tails[1].text())
        session.artifact(artifact, output)
        note = f"timed out after {limit:g} s in {shlex.join(plan.command)}"
        return TestReport(-1, timed_out=True, note=note)
    output = combined(result.stdout, result.stderr)
    session.artifact(artifact, output)
    if plan.results_file is not None:
        results_file = plan.results_file

        def read() -> str | None:
            return results_file.read_text("utf-8") if results_file.is_file() else None

        text = await trio.to_thread.run_sync(read)
        if text is not None:
            return TestReport.from_jest_json(result.returncode, text, tree)
    return read_text_report(plan.runner, result.returncode, output)


async def _read_coverage(session: Session, plan: TestPlan, started: float) -> CoverageData | None:
    path = plan.coverage_report
    if path is None:
        return None

    def read() -> CoverageData | None:
        if not path.is_file() or path.stat().st_mtime < started - 1:
            return None  # absent, or stale from an earlier run
        where = path.resolve()
        if not (
            where.is_relative_to(session.repo.resolve())
            or where.is_relative_to(session.work.resolve())
        ):
            raise VerifyError(
                f"the coverage report {path.name} is a link out of the repository",
                code="verify_failed",
            )
        if where.stat().st_size > MAX_COVERAGE_BYTES:
            raise VerifyError(
                f"the coverage report {path.name} is larger than {MAX_COVERAGE_BYTES // 2**20} MiB",
                code="verify_failed",
            )
        return parse_coverage(where.read_text(encoding="utf-8"), session.repo)

    return await trio.to_thread.run_sync(read)


async def _coverage_report(session: Session, plan: TestPlan) -> bool:
    """Run coverage.py's JSON report; return False when there was no data at all."""
    if plan.report_command is None:
        return True
    result = await session.run("test", plan.report_command, plan.env)
    output = combined(result.stdout, result.stderr)
    if result.ok:
        return True
    if "No data to report" in output:
        return False
    raise failure("coverage report", result.args, result.returncode, output, artifact="testOutput")


async def _baseline(session: Session, report: TestReport) -> Baseline | None:
    """The base commit's failures, when the branch has failures and a base is known."""
    if not report.failures or session.base is None:
        return None

    async def git(*args: str) -> tuple[int, str]:
        result = await run_process(("git", *args), cwd=session.repo, env=session.env)
        return result.returncode, result.stdout

    commit = await base_commit(git, session.base)
    if commit is None:
        session.notes.append(f"no common ancestor with {session.base}: every failure counts as new")
        return None
    tree, base_work = session.work / "base", session.work / "base-work"
    probe = await trio.to_thread.run_sync(
        plan_gates, session.repo, {TESTS_PASS}, session.toolchain(), session.config, base_work
    )
    assert probe.test is not None

    async def run_base() -> TestReport | None:
        archive = session.work / "base.tar"
        code, _ = await git("archive", "--format=tar", "-o", str(archive), commit)
        if code != 0:
            return None
        await trio.to_thread.run_sync(export_tree, archive, tree)
        if not await session.setup(tree, "baseSetupOutput"):
            return None
        chain = await trio.to_thread.run_sync(session.detect, tree)
        plans = await trio.to_thread.run_sync(
            plan_gates, tree, {TESTS_PASS}, chain, session.config, base_work
        )
        assert plans.test is not None
        return await run_tests(session, plans.test, tree, "baseTestOutput")

    key = command_key(probe.test.command, base_work)
    baseline = await base_failures(session.repo, commit, key, run_base)
    if baseline.note:
        session.notes.append(baseline.note)
    return baseline


async def judge_tests(session: Session, plan: TestPlan) -> None:
    """Run the related tests, then (unless one failed anew) the full suite; judge both criteria."""
    if (early := await _related_first(session, plan)) is not None:
        report, baseline = early
        _judge(session, plan, report, baseline, None, stopped_early=True)
        return
    started = time.time()
    report = await run_tests(session, plan, session.repo, "testOutput")
    data = None
    if not report.timed_out:
        has_data = await _coverage_report(session, plan)
        data = await _read_coverage(session, plan, started)
        if data is None and not has_data:
            data = CoverageData({})
    _judge(session, plan, report, await _baseline(session, report), data)


async def _related_first(
    session: Session, plan: TestPlan
) -> tuple[TestReport, Baseline | None] | None:
    """Run the tests related to the touched files; return them if one failed anew."""
    related = await trio.to_thread.run_sync(
        plan_related,
        session.repo,
        session.toolchain(),
        session.config,
        session.work,
        session.changed,
        plan,
    )
    if related is None:
        return None
    report = await run_tests(session, related, session.repo, "relatedTestOutput")
    if report.crashed or not report.failures:
        return None
    baseline = await _baseline(session, report)
    pre_existing = baseline.failures if baseline is not None else frozenset()
    if not new_failures(report, pre_existing, strict=session.config.strict):
        return None
    return report, baseline


def _judge(
    session: Session,
    plan: TestPlan,
    report: TestReport,
    baseline: Baseline | None,
    data: CoverageData | None,
    *,
    stopped_early: bool = False,
) -> None:
    pre_existing = baseline.failures if baseline is not None else frozenset()
    strict = session.config.strict
    extra = _evidence(session, report)
    if stopped_early:
        extra["stoppedEarly"] = (
            "a test related to the touched files failed anew: the full suite did not run"
        )
    if (coverage := session.criteria.get(COVERAGE)) is not None:
        if data is None and not report.crashed and not stopped_early:
            raise VerifyError(
                f"the test run produced no coverage report at {plan.coverage_report}",
                code="verify_failed",
            )
        verdict = coverage_result(
            coverage,
            data,
            session.changed,
            report,
            repo=session.repo,
            pre_existing=pre_existing,
            strict=strict,
        )
        if data is not None:
            session.artifact("coverageReport", coverage_table(data, verdict.details["scope"]))
        session.judge(with_details(verdict, **extra))
    if (tests := session.criteria.get(TESTS_PASS)) is not None:
        verdict = judge_tests_pass(tests, report, pre_existing, strict=strict)
        if baseline is not None:
            verdict = with_details(verdict, base=baseline.to_wire())
        session.judge(with_details(verdict, **extra))


def _evidence(session: Session, report: TestReport) -> dict[str, Any]:
    """First error lines and tail of a run that crashed or timed out."""
    if not report.crashed:
        return {}
    output = session.artifacts.get("testOutput", "")
    return {"firstErrors": first_errors(output), "tail": tail_lines(output)}
