"""The autopilot's stage loop: SELECT -> PREP -> IMPLEMENT -> VERIFY -> COMPLETE, stop on error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import attrs

from runner.errors import RunnerError
from runner.pipeline.base import ImplementRequest, PrepRequest, VerifyRequest

if TYPE_CHECKING:
    from runner.pipeline.base import StageContext, Stages

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
LAST_LINES = 20
"""How many trailing lines of each output a failed run keeps as evidence."""
_BULKY = ("artifacts", "stdout", "stderr")
_NOT_SUMMARISED = frozenset({"success", "artifacts", "task", "customerId", "idempotencyKey"})
_SUMMARISED_ARTIFACTS = ("filesModified", "linesChanged", "outOfScope", "commit")


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
) -> RunOutcome:
    """Run tasks until none is left, a stage fails, or a pause point is reached."""
    point = resume
    while True:
        if point is None:
            if hooks.pause_requested():
                return RunOutcome("PAUSED", resume=None)
            await hooks.stage_started("select", None, None)
            try:
                selection = await stages.select(ctx)
            except RunnerError as exc:
                return await _failed(hooks, "select", exc, None)
            await hooks.stage_finished("ok", stage_summary(selection))
            await hooks.counts(selection.completed, selection.total)
            if selection.task is None:
                if selection.blocked:
                    reasons = "; ".join(str(b.get("reason", b)) for b in selection.blocked)
                    error = {"stage": "select", "code": "tasks_blocked", "message": reasons,
                             "details": {"blocked": list(selection.blocked)}}  # fmt: skip
                    return RunOutcome("FAILED", error=error)
                return RunOutcome("DONE")
            point = ResumePoint(task_id=str(selection.task["id"]), stage="prep")
        outcome = await _run_task(stages, ctx, hooks, point, tool)
        if outcome is not None:
            return outcome
        if hooks.stop_after() == point.task_id:
            return RunOutcome("PAUSED")
        point = None


async def _run_task(
    stages: Stages, ctx: StageContext, hooks: RunHooks, point: ResumePoint, tool: str | None
) -> RunOutcome | None:
    """Run one task's stages from ``point``; return an outcome if the run must end."""
    task_id, branch = point.task_id, point.branch
    for stage in STAGE_ORDER[STAGE_ORDER.index(point.stage) :]:
        here = ResumePoint(task_id, stage, branch)
        if hooks.pause_requested():
            return RunOutcome("PAUSED", resume=here)
        await hooks.stage_started(stage, task_id, branch)
        result: Any
        try:
            if stage == "prep":
                result = await stages.prep(ctx, PrepRequest(task_id=task_id))
                branch = str(result.to_wire()["branch"])
            elif stage == "implement":
                request = ImplementRequest(task_id, branch=branch, tool=tool)
                result = await stages.implement(ctx, request)
            elif stage == "verify":
                result = await stages.verify(ctx, VerifyRequest(task_id, branch=branch))
            else:
                assert branch is not None
                result = await stages.complete(ctx, task_id, branch)
        except RunnerError as exc:
            return await _failed(hooks, stage, exc, ResumePoint(task_id, stage, branch))
        await hooks.stage_finished("ok", stage_summary(result))
    await hooks.task_completed(task_id)
    return None


async def _failed(
    hooks: RunHooks, stage: str, exc: RunnerError, resume: ResumePoint | None
) -> RunOutcome:
    error = {"stage": stage, "code": exc.code, "message": exc.message,
             "details": failure_details(exc)}  # fmt: skip
    await hooks.stage_finished("failed", error)
    return RunOutcome("FAILED", error=error, resume=resume)


def stage_summary(result: Any) -> dict[str, Any]:
    """Return what a run's record keeps of a stage's result: its body without the bulk.

    VERIFY keeps every criterion's result; IMPLEMENT its tool, durations, files and commit;
    SELECT the chosen task's id and the counts.
    """
    wire: dict[str, Any] = result.to_wire()
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
    tails = {name: text.splitlines()[-LAST_LINES:] for name, text in outputs.items()
             if isinstance(text, str) and text.strip()}  # fmt: skip
    if tails:
        evidence["lastLines"] = tails
    if exc.details:
        evidence["items"] = list(exc.details)
    return evidence
