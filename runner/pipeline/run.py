"""The autopilot's stage loop: SELECT -> PREP -> IMPLEMENT -> VERIFY -> COMPLETE, stop on error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import attrs

from runner.errors import RunnerError
from runner.pipeline.base import ImplementRequest, PrepRequest, VerifyRequest

if TYPE_CHECKING:
    from runner.pipeline.base import StageContext, Stages

__all__ = ["STAGE_ORDER", "ResumePoint", "RunHooks", "RunOutcome", "drive"]

STAGE_ORDER = ("select", "prep", "implement", "verify", "complete")


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
    error: dict[str, str] | None = None
    resume: ResumePoint | None = None


class RunHooks(Protocol):
    """The actor's side of the loop: state changes and the pause flag."""

    async def stage_started(self, stage: str, task_id: str | None, branch: str | None) -> None:
        """Persist and publish that ``stage`` started."""

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
                return _failed("select", exc, None)
            await hooks.counts(selection.completed, selection.total)
            if selection.task is None:
                if selection.blocked:
                    reasons = "; ".join(str(b.get("reason", b)) for b in selection.blocked)
                    error = {"stage": "select", "code": "tasks_blocked", "message": reasons}
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
        try:
            if stage == "prep":
                result = await stages.prep(ctx, PrepRequest(task_id=task_id))
                branch = str(result.to_wire()["branch"])
            elif stage == "implement":
                await stages.implement(ctx, ImplementRequest(task_id, branch=branch, tool=tool))
            elif stage == "verify":
                await stages.verify(ctx, VerifyRequest(task_id, branch=branch))
            else:
                assert branch is not None
                await stages.complete(ctx, task_id, branch)
        except RunnerError as exc:
            return _failed(stage, exc, ResumePoint(task_id, stage, branch))
    await hooks.task_completed(task_id)
    return None


def _failed(stage: str, exc: RunnerError, resume: ResumePoint | None) -> RunOutcome:
    error = {"stage": stage, "code": exc.code, "message": exc.message}
    return RunOutcome("FAILED", error=error, resume=resume)
