"""The autopilot's stage loop: SELECT -> PREP -> IMPLEMENT -> VERIFY -> COMPLETE.

An unmet VERIFY or an IMPLEMENT that changed nothing goes back to IMPLEMENT on the same
branch with the evidence (:mod:`runner.pipeline.repair`), up to ``max_attempts`` per task;
the loop gives up early when an attempt changes nothing or repeats the previous diff. Any
other error, or the last attempt's, stops the run (stop-on-error) with every attempt's
evidence.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

import attrs
import trio

from runner.errors import RunnerError, ToolError
from runner.failures import transient
from runner.pipeline.base import (
    ImplementRequest,
    PrepArtifacts,
    PrepRequest,
    PrepResult,
    StageContext,
    Stages,
    VerifyRequest,
)
from runner.pipeline.repair import (
    DEFAULT_MAX_ATTEMPTS,
    Attempt,
    diff_digest,
    is_repairable,
    repair_prompt,
)
from runner.wire import to_wire

__all__ = [
    "STAGE_ORDER",
    "ResumePoint",
    "RunHooks",
    "RunOutcome",
    "drive",
    "failure_details",
    "stage_summary",
]

STAGE_ORDER = ("select", "prep", "implement", "verify", "complete")
_PREP, _IMPLEMENT, _VERIFY = (STAGE_ORDER.index(s) for s in ("prep", "implement", "verify"))
MAX_BACKOFF_S = 300.0
"""The longest wait before a stage that failed for a transient reason runs again."""
LAST_LINES = 20
"""How many trailing lines of each output a failed run keeps as evidence."""
_BULKY = ("artifacts", "stdout", "stderr")
_NOT_SUMMARISED = frozenset({"success", "artifacts", "task", "customerId", "idempotencyKey"})
_SUMMARISED_ARTIFACTS = (
    "filesModified",
    "linesChanged",
    "outOfScope",
    "commit",
    "branchCreated",
    "branchSynced",
)


@attrs.frozen
class ResumePoint:
    """Where a paused or failed run continues: a task and the stage to run next."""

    task_id: str
    stage: str
    branch: str | None = None


@attrs.frozen
class RunOutcome:
    """How :func:`drive` ended: ``DONE``, ``PAUSED`` or ``FAILED`` (with error and resume point)."""

    status: str
    error: dict[str, Any] | None = None
    resume: ResumePoint | None = None


class RunHooks(Protocol):
    """The actor's side of the loop: state changes and the pause flag."""

    async def stage_started(self, stage: str, task_id: str | None, branch: str | None) -> None:
        """Persist and publish that ``stage`` started."""

    async def stage_finished(self, outcome: str, result: dict[str, Any]) -> None:
        """Record how the started stage ended: ``ok`` with its summary, ``failed``, its error."""

    async def task_completed(self, task_id: str) -> None:
        """Persist and publish a completed task."""

    async def counts(self, completed: int, total: int) -> None:
        """Record the task list's counts after SELECT."""

    async def attempt_started(self, task_id: str, attempt: int, max_attempts: int) -> None:
        """Persist and publish that attempt ``attempt`` of ``max_attempts`` at a task began."""

    def pause_requested(self) -> bool:
        """Whether the run should pause at the next stage boundary."""

    def stop_after(self) -> str | None:
        """The task after which the run pauses, if any."""


async def drive(
    stages: Stages,
    ctx: StageContext,
    hooks: RunHooks,
    *,
    tool: str | None,
    resume: ResumePoint | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> RunOutcome:
    """Run tasks until none is left, a stage fails beyond repair, or a pause point is reached."""
    point = resume
    while True:
        if point is None:
            if hooks.pause_requested():
                return RunOutcome("PAUSED", resume=None)
            selection = None
            backoff = _Backoff(ctx)
            while selection is None:
                await hooks.stage_started("select", None, None)
                try:
                    selection = await stages.select(ctx)
                except RunnerError as exc:
                    failed = _error("select", exc)
                    await hooks.stage_finished("failed", failed)
                    if not await backoff.wait_out("select", exc):
                        return RunOutcome("FAILED", error=failed)
            await hooks.stage_finished("ok", stage_summary(to_wire(selection)))
            await hooks.counts(selection.completed_tasks, selection.total_tasks)
            if selection.task is None:
                if selection.blocked:
                    error = {
                        "stage": "select",
                        "code": "tasks_blocked",
                        "message": "; ".join(b.reason for b in selection.blocked),
                        "details": {"blocked": to_wire(selection.blocked)},
                    }
                    return RunOutcome("FAILED", error=error)
                return RunOutcome("DONE")
            point = ResumePoint(task_id=selection.task.id, stage="prep")
        resumed, resume = point is resume, None
        task = _Task(stages, ctx, hooks, point, tool, max_attempts, resumed, selected=not resumed)
        outcome = await task.run()
        if outcome is not None:
            return outcome
        if hooks.stop_after() == point.task_id:
            return RunOutcome("PAUSED")
        point = None


@attrs.define
class _Backoff:
    """Transient failures waited out for one task (or one SELECT); they are not attempts."""

    ctx: StageContext
    waits: int = 0

    async def wait_out(self, stage: str, exc: RunnerError) -> bool:
        """Wait before ``stage`` runs again if ``exc`` is transient; False when it is not.

        Full-jitter exponential backoff: a wait drawn from 0 to ``TRANSIENT_BACKOFF_S`` * 2**n
        (at most :data:`MAX_BACKOFF_S`), up to ``TRANSIENT_RETRIES`` times.
        """
        settings = self.ctx.settings
        if not transient(exc) or self.waits >= settings.transient_retries:
            return False
        ceiling = min(MAX_BACKOFF_S, settings.transient_backoff_s * 2**self.waits)
        delay = random.uniform(0, ceiling)  # jitter, not a secret
        self.waits += 1
        self.ctx.log(
            "warning",
            f"{stage} failed for a transient reason ({exc.code}): "
            f"{exc.message}; trying again in {delay:.1f} s "
            f"({self.waits} of {settings.transient_retries})",
        )
        await trio.sleep(delay)
        return True


@attrs.define
class _Task:
    """One task's stages from a resume point, with its repair attempts."""

    stages: Stages
    ctx: StageContext
    hooks: RunHooks
    point: ResumePoint
    tool: str | None
    max_attempts: int
    resumed: bool = False
    """A resumed task is brought up to date first (PREP), then continues where it stopped."""
    selected: bool = False
    """The SELECT just before synced the base: the first PREP need not fetch again."""
    attempts: list[Attempt] = attrs.field(factory=list)
    backoff: _Backoff = attrs.field(
        init=False, default=attrs.Factory(lambda task: _Backoff(task.ctx), takes_self=True)
    )
    repair: str | None = None
    digests: list[str] = attrs.field(factory=list)

    @property
    def attempt(self) -> int:
        return len(self.attempts) + 1

    async def run(self) -> RunOutcome | None:
        """Run the stages; return an outcome if the run must end, None when the task is done."""
        task_id, branch = self.point.task_id, self.point.branch
        await self.hooks.attempt_started(task_id, self.attempt, self.max_attempts)
        index = STAGE_ORDER.index(self.point.stage)
        resume_at = index if self.resumed and index > _PREP else None
        if resume_at is not None:
            index = _PREP
        while index < len(STAGE_ORDER):
            stage = STAGE_ORDER[index]
            if self.hooks.pause_requested():
                return RunOutcome("PAUSED", resume=ResumePoint(task_id, stage, branch))
            await self.hooks.stage_started(stage, task_id, branch)
            try:
                branch, result = await self._stage(stage, task_id, branch)
            except RunnerError as exc:
                await self.hooks.stage_finished("failed", _error(stage, exc))
                if await self.backoff.wait_out(stage, exc):
                    continue  # the same stage again, not a new attempt
                if not await self._retry(stage, exc):
                    # a resumed task's PREP failing (a conflict) still resumes where it was
                    at = STAGE_ORDER[resume_at] if resume_at is not None else stage
                    return self._give_up(stage, exc, ResumePoint(task_id, at, branch))
                index = STAGE_ORDER.index("implement")
                continue
            await self.hooks.stage_finished("ok", stage_summary(to_wire(result)))
            if isinstance(result, PrepResult) and resume_at is not None:
                index, resume_at = _after_sync(resume_at, result.artifacts), None
            else:
                index += 1
        await self.hooks.task_completed(task_id)
        return None

    async def _stage(self, stage: str, task_id: str, branch: str | None) -> tuple[str | None, Any]:
        """Run one stage; return the branch after it and the stage's result."""
        stages, ctx = self.stages, self.ctx
        if stage == "prep":
            synced, self.selected = self.selected, False  # a PREP tried again fetches
            prep = await stages.prep(ctx, PrepRequest(task_id=task_id, synced=synced))
            return prep.branch, prep
        if stage == "implement":
            request = ImplementRequest(
                task_id,
                branch=branch,
                tool=self.tool,
                repair=self.repair,
                attempt=self.attempt,
                force=self.repair is not None,
            )
            implemented = await stages.implement(ctx, request)
            self._check_progress(task_id, implemented.artifacts.diff)
            return branch, implemented
        if stage == "verify":
            return branch, await stages.verify(ctx, VerifyRequest(task_id, branch=branch))
        assert branch is not None
        return branch, await stages.complete(ctx, task_id, branch)

    def _check_progress(self, task_id: str, diff: str) -> None:
        """Stop repairing when an attempt leaves the branch's diff as the last one left it."""
        digest = diff_digest(diff)
        if digest in self.digests:
            raise ToolError(
                "the attempt repeated a previous attempt's change: no progress",
                code="repair_no_progress",
                task_id=task_id,
            )
        self.digests.append(digest)

    async def _retry(self, stage: str, exc: RunnerError) -> bool:
        """Record the failed attempt; return True when another attempt should run."""
        results = exc.extra.get("results") if stage == "verify" else None
        self.attempts.append(Attempt(self.attempt, stage, exc.code, exc.message, results))
        no_change_again = exc.code == "tool_no_change" and len(self.attempts) > 1
        if not is_repairable(stage, exc) or no_change_again:
            return False
        if self.attempt > self.max_attempts:
            return False
        self.repair = repair_prompt(exc, self.attempt, self.max_attempts)
        self.ctx.log("warning", f"attempt {self.attempt - 1} failed at {stage}: {exc.message}")
        await self.hooks.attempt_started(self.point.task_id, self.attempt, self.max_attempts)
        return True

    def _give_up(self, stage: str, exc: RunnerError, resume: ResumePoint) -> RunOutcome:
        outcome = _failed(stage, exc, resume)
        assert outcome.error is not None
        if self.attempts and (stage in ("implement", "verify") or len(self.attempts) > 1):
            outcome.error["attempt"] = self.attempts[-1].attempt
            outcome.error["maxAttempts"] = self.max_attempts
            outcome.error["attempts"] = to_wire(self.attempts)
        return outcome


def _after_sync(resume_at: int, prep: PrepArtifacts) -> int:
    """Where a resumed task continues once PREP brought its branch up to date.

    A branch created afresh (the workspace was lost) or recreated from the base has no change
    of the tool's left: IMPLEMENT runs. A person's commits taken from the remote task branch
    are the implementation: VERIFY judges them instead of the tool running again. Whatever
    the sync changed (a person's commits, a merged base) is verified before COMPLETE.
    """
    synced = set(prep.branch_synced.split(","))
    if prep.branch_created or "recreated" in synced:
        return min(resume_at, _IMPLEMENT)
    if {"fast-forwarded", "taken-from-remote"} & synced and resume_at == _IMPLEMENT:
        return _VERIFY
    if {"fast-forwarded", "taken-from-remote", "merged-base", "rebased"} & synced:
        return min(resume_at, _VERIFY)
    return resume_at


def _error(stage: str, exc: RunnerError) -> dict[str, Any]:
    """The error a failed stage leaves in the state and the run's record, with its evidence."""
    return {
        "stage": stage,
        "code": exc.code,
        "message": exc.message,
        "details": failure_details(exc),
    }


def _failed(stage: str, exc: RunnerError, resume: ResumePoint | None) -> RunOutcome:
    return RunOutcome("FAILED", error=_error(stage, exc), resume=resume)


def stage_summary(wire: dict[str, Any]) -> dict[str, Any]:
    """Return what a run's record keeps of a stage's result body: the body without the bulk.

    VERIFY keeps every criterion's result; IMPLEMENT its tool, durations, files and commit;
    SELECT the chosen task's id and the counts.
    """
    summary = {k: v for k, v in wire.items() if k not in _NOT_SUMMARISED}
    if "task" in wire:
        summary["taskId"] = (wire["task"] or {}).get("id")
    artifacts = wire.get("artifacts") or {}
    summary.update({k: artifacts[k] for k in _SUMMARISED_ARTIFACTS if k in artifacts})
    return summary


def failure_details(exc: RunnerError) -> dict[str, Any]:
    """Return the evidence a failed run keeps of ``exc``.

    That is every field the error carries (VERIFY: ``results``, every criterion's; IMPLEMENT:
    ``exitStatus``; git: ``git`` with the command, exit status and stderr), its ``details``
    list as ``items``, and of its bulky outputs (``artifacts``, ``stdout``, ``stderr``) only
    the last :data:`LAST_LINES` lines of each, as ``lastLines``.
    """
    evidence = {k: v for k, v in exc.extra.items() if k not in _BULKY}
    outputs = dict(exc.extra.get("artifacts") or {})
    outputs.update({k: exc.extra[k] for k in ("stdout", "stderr") if k in exc.extra})
    tails = {
        name: text.splitlines()[-LAST_LINES:]
        for name, text in outputs.items()
        if isinstance(text, str) and text.strip()
    }
    if tails:
        evidence["lastLines"] = tails
    if exc.details:
        evidence["items"] = list(exc.details)
    return evidence
