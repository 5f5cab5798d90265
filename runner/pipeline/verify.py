"""VERIFY: evaluate the task's criteria on its branch; unmet criteria are 422 with every result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.errors import CriteriaNotMetError
from runner.pipeline.base import VerifyResult
from runner.pipeline.common import record_step, recorded_step
from runner.pipeline.implement import checkout_task_branch
from runner.verify import parse_criteria
from runner.verify import verify as run_gates
from runner.wire import to_wire

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runner.git import Workspace
    from runner.pipeline.base import StageContext, VerifyRequest
    from runner.verify import CriterionResult

__all__ = ["verify"]


async def verify(ctx: StageContext, ws: Workspace, request: VerifyRequest) -> VerifyResult:
    """Check the branch against the criteria (the request's, else the task's).

    Raises:
        InvalidInputError: an unknown criterion or a malformed value (400).
        CriteriaNotMetError: 422 with every result and the artifacts.
        VerifyError: verification could not run (missing toolchain, timeout).
    """
    task, branch = await checkout_task_branch(ctx, ws, request.task_id, request.branch)
    criteria = dict(request.criteria if request.criteria is not None else task.criteria)
    parse_criteria(criteria)  # 400 before any work for an unknown criterion
    head = await ws.head_sha()
    stage = "verify:" + ",".join(f"{k}={v}" for k, v in sorted(criteria.items()))
    if not request.force:
        done = await recorded_step(ctx, VerifyResult, stage, task.id, branch, head)
        if done is not None:
            return done
    changed = await ws.changed_files(ctx.customer.base_branch, "HEAD")
    async with ctx.slots.acquire(ctx.customer.customer_id, finishing=True):
        ctx.log("info", f"verifying task {task.id}: {', '.join(criteria)}")
        outcome = await run_gates(
            ws.path,
            criteria,
            changed_files=changed,
            settings=ctx.settings,
            base=ctx.customer.base_branch,
            on_line=lambda _stream, line: ctx.log("info", line),
        )
    for note in outcome.notes:
        ctx.log("warning", note)
    if ctx.metrics is not None and outcome.process_time > 0:
        ctx.metrics.observe_process("gates", "verify", outcome.process_time)
    result = VerifyResult(
        task_id=task.id,
        results=outcome.results,
        artifacts=outcome.artifacts,
        notes=outcome.notes,
    )
    if not outcome.passed:
        failed = [name for name, r in outcome.results.items() if not r.passed]
        raise CriteriaNotMetError(
            f"criteria not met: {', '.join(failed)}: {_first_reason(outcome.results)}",
            task_id=task.id,
            extra={k: v for k, v in to_wire(result).items() if k not in ("success", "taskId")},
        )
    await record_step(ctx, stage, task.id, branch, head, result)
    return result


def _first_reason(results: Mapping[str, CriterionResult]) -> str:
    """The first unmet criterion's actual value, so a one-line message says why."""
    for name, result in results.items():
        if not result.passed:
            return f"{name} {result.actual or 'failed'}" + (
                f" (required {result.required})" if result.required else ""
            )
    return ""
