"""SELECT: fetch the base branch and pick the next task from the task list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.git import validate_repo_url
from runner.pipeline.base import SelectResult
from runner.pipeline.common import load_task_list, repair_unless_clean
from runner.tasks import select_next

if TYPE_CHECKING:
    from runner.git import Workspace
    from runner.pipeline.base import StageContext

__all__ = ["select", "sync_base"]


async def sync_base(ctx: StageContext, ws: Workspace, *, checkout: bool = True) -> bool:
    """Clone or fetch, repair leftovers, and bring the base up to date; return ``cloned``.

    The base is checked out unless ``checkout`` is False and the fetch moved it already
    (``ws.fetched_base``: then read it from git, not from the working tree).
    """
    repo = validate_repo_url(ctx.customer.repo_url, allow_local=ctx.settings.allow_local_repos)
    cloned = await ws.ensure(repo, base=ctx.customer.base_branch)
    if not cloned:
        await repair_unless_clean(ctx, ws)
    if checkout or not ws.fetched_base:
        await ws.checkout_base(ctx.customer.base_branch)  # ensure() recorded the use
    return cloned


async def select(ctx: StageContext, ws: Workspace, *, exclude_completed: bool) -> SelectResult:
    """Return the next task whose dependencies are done (or none, with the blocked reasons)."""
    await sync_base(ctx, ws, checkout=False)
    # the fetch moved the base (read it from git; the checkout stays as it is), or sync_base
    # checked it out
    where = f"refs/heads/{ctx.customer.base_branch}" if ws.fetched_base else None
    task_list = await load_task_list(ctx, ws, where)
    skipped = await ctx.store.skips.of(ctx.customer.customer_id)
    selection = select_next(task_list, exclude_completed=exclude_completed, skipped=skipped)
    return SelectResult(
        task=selection.task,
        total_tasks=selection.total,
        completed_tasks=selection.completed,
        blocked=selection.blocked if selection.task is None else (),
    )
