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

import shutil
from typing import TYPE_CHECKING, Any

import attrs
import structlog
import trio

from runner.errors import VerifyError
from runner.redact import Redactor
from runner.verify.criteria import (
    DOC_UPDATED,
    LINT_CLEAN,
    TYPE_STRICT,
    Criterion,
    CriterionResult,
    parse_criteria,
)
from runner.verify.docs import doc_result
from runner.verify.explain import combined, failure, first_errors
from runner.verify.session import GatePlans, Session, plan_gates, prepare, with_details
from runner.verify.testgate import judge_tests
from runner.verify.typecheck import check_result, count_errors, skipped_result
from runner.wire import to_wire

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from pathlib import Path

    from runner.config import Settings
    from runner.process import LineCallback
    from runner.verify.commands import CheckPlan

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
        wire: dict[str, dict[str, object]] = to_wire(self.results)
        return wire


async def check(session: Session, gate: str, criterion: Criterion, plan: CheckPlan) -> None:
    """Run a type check or lint and judge its error budget."""
    if plan.command is None:
        session.judge(skipped_result(criterion, plan.skipped or "not applicable"))
        return
    result = await session.run(gate, plan.command)
    output = combined(result.stdout, result.stderr)
    name = "typeCheckOutput" if gate == "typecheck" else "lintOutput"
    session.artifact(name, output)
    count = count_errors(output, result.returncode)
    if plan.tool != "custom" and not count.recognised:  # the checker itself broke
        raise failure(plan.tool, result.args, result.returncode, output, artifact=name)
    verdict = check_result(criterion, count)
    if not verdict.passed:
        verdict = with_details(verdict, firstErrors=first_errors(output))
    session.judge(verdict)


async def _run_gates(verification: Session, plans: GatePlans) -> None:
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
            nursery.start_soon(guarded, judge_tests, verification, plans.test)
        if plans.typecheck is not None:
            args = ("typecheck", criteria[TYPE_STRICT], plans.typecheck)
            nursery.start_soon(guarded, check, verification, *args)
        if plans.lint is not None:
            args = ("lint", criteria[LINT_CLEAN], plans.lint)
            nursery.start_soon(guarded, check, verification, *args)
    if errors:
        raise errors[0]


async def _verify_with_processes(verification: Session, wanted: set[str]) -> None:
    await trio.to_thread.run_sync(prepare, verification)
    try:
        await verification.setup(verification.repo, "setupOutput")
        plans = await trio.to_thread.run_sync(
            plan_gates,
            verification.repo,
            wanted,
            verification.toolchain(),
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
    verification = Session(repo, parsed, tuple(changed_files), settings, redactor, base, on_line)
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


def _outcome(verification: Session, parsed: dict[str, Criterion], duration: float) -> VerifyOutcome:
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
