"""PREP: clone or fetch into the customer's workspace and create (or reuse) the task branch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.errors import InvalidInputError
from runner.pipeline.base import PrepArtifacts, PrepResult
from runner.pipeline.common import load_task, record_step, task_branch
from runner.pipeline.select import sync_base

if TYPE_CHECKING:
    from runner.git import Workspace
    from runner.pipeline.base import PrepRequest, StageContext

__all__ = ["prep"]


async def prep(ctx: StageContext, ws: Workspace, request: PrepRequest) -> PrepResult:
    """Make the task branch ready in the customer's workspace.

    An existing task branch takes what happened since the last PREP (see
    :meth:`~runner.git.Workspace.sync_task_branch`): a person's commits pushed to it, or the
    new base.

    Raises:
        InvalidInputError: the task is not atomic.
        NotFoundError: ``task_not_found`` / ``task_list_not_found``.
        RepoAccessError: the remote is unreachable or refused access (409).
        GitError: ``merge_conflict`` naming the files; any other git failure (500).
    """
    base = ctx.customer.base_branch
    where: str | None
    if request.synced:  # the SELECT just before fetched; the local base is up to date
        cloned, where = False, f"refs/heads/{base}"
    else:
        cloned = await sync_base(ctx, ws, checkout=False)
        # The fetch moved the base (no checkout of it: the task branch's is the one that
        # counts), or sync_base checked it out.
        where = f"refs/heads/{base}" if ws.fetched_base else None
    task = await load_task(ctx, ws, where, request.task_id)
    if task.type != "atomic":
        raise InvalidInputError(
            f"task {task.id} is {task.type}; only atomic tasks are prepared", field="taskId"
        )
    branch = task_branch(task)
    checkout = await ws.sync_task_branch(branch, base)
    done = "created" if checkout.created else f"checked out {checkout.synced}".rstrip()
    ctx.log("info", f"branch {branch} {done}")
    artifacts = PrepArtifacts(cloned, checkout.created, checkout.synced, str(ws.path))
    result = PrepResult(task.id, branch, str(ws.path), artifacts)
    await record_step(ctx, "prep", task.id, branch, checkout.sha, result)
    return result
