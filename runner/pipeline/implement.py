"""IMPLEMENT: run the coding tool on the task branch, commit, and report the diff."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import trio

from runner.errors import InvalidInputError, NotFoundError, ToolError
from runner.pipeline.common import (
    Recorded,
    WorkspaceAccess,
    load_task,
    record_step,
    recorded_step,
    repair_unless_clean,
    task_branch,
)
from runner.tools import ToolRequest, make_tool

if TYPE_CHECKING:
    from runner.git import Workspace
    from runner.pipeline.base import ImplementRequest, StageContext
    from runner.tasks import Task

__all__ = ["checkout_task_branch", "implement", "safe_paths"]

_DIFF_CAP = 1024 * 1024


def safe_paths(repo: Path, paths: tuple[str, ...], field: str) -> tuple[str, ...]:
    """Return ``paths`` normalised; 400 for absolute paths, ``..`` or links out of the repo."""
    root = repo.resolve()
    clean: list[str] = []
    for index, raw in enumerate(paths):
        where = f"{field}.{index}"
        path = PurePosixPath(raw)
        if not raw or path.is_absolute() or ".." in path.parts or "\0" in raw:
            raise InvalidInputError(f"{raw!r} must be a relative path inside the repo", field=where)
        if not (root / path).resolve().is_relative_to(root):
            raise InvalidInputError(f"{raw!r} points outside the repo", field=where)
        clean.append(str(path))
    return tuple(dict.fromkeys(clean))


async def checkout_task_branch(
    ctx: StageContext, ws: Workspace, task_id: str, branch: str | None
) -> tuple[Task, str]:
    """Repair the workspace, find the task and check out its (existing) branch.

    No fetch: PREP brought the workspace up to date, and the task list is read from the
    local base branch (which holds the runner's own completions).

    Raises:
        NotFoundError: ``branch_not_found`` when PREP has not created the branch.
    """
    if not ws.git_dir.is_dir():
        raise NotFoundError(
            "the repository is not prepared for this customer; run /prep first",
            code="branch_not_found",
            task_id=task_id,
        )
    await repair_unless_clean(ctx, ws)
    await trio.to_thread.run_sync(ws.touch)
    base = ctx.customer.base_branch
    task = await load_task(ctx, ws, f"refs/heads/{base}", task_id)
    name = branch or task_branch(task)
    if not await ws.branch_exists(name):
        raise NotFoundError(
            f"branch {name!r} does not exist; run /prep first",
            code="branch_not_found",
            task_id=task_id,
        )
    await ws.create_or_reset_branch(name, base)
    return task, name


def _tool_files(ctx: StageContext, task: Task, files: tuple[str, ...]) -> tuple[str, ...]:
    """The task's files plus the document ``doc.updated`` asks for (so the tool may edit it)."""
    doc = dict(task.criteria).get("doc.updated")
    if not doc:
        return files
    tasks_dir = PurePosixPath(ctx.customer.tasks_file).parent
    candidate = doc if "/" in doc else str(tasks_dir / doc)
    return (*files, candidate) if candidate not in files else files


async def implement(
    ctx: StageContext, ws: Workspace, access: WorkspaceAccess, request: ImplementRequest
) -> Any:
    """Run the tool, commit ``Task <id>: <title>`` and return the spec's artifacts.

    Raises:
        ToolError: ``tool_no_change`` when the tool changed nothing, ``tool_timeout``,
            ``tool_not_found``, ``out_of_scope`` (policy ``reject``).
    """
    started = trio.current_time()
    task, branch = await checkout_task_branch(ctx, ws, request.task_id, request.branch)
    base = ctx.customer.base_branch
    before = await ws.head_sha()
    done = await recorded_step(ctx, "implement", task.id, branch, before)
    if done is not None and not request.force:
        return done
    files = safe_paths(ws.path, request.files or task.files, "criteria.files")
    tool = make_tool(request.tool or ctx.customer.tool, ctx.settings,
                     home=access.tool_home(ctx.settings))  # fmt: skip
    tool_request = ToolRequest(
        task_id=task.id,
        title=task.title,
        description=request.description or task.description,
        files=_tool_files(ctx, task, files),
        requirements=request.requirements or task.requirements,
        repo=ws.path,
        customer_id=ctx.customer.customer_id,
    )
    async with ctx.slots.acquire(ctx.customer.customer_id):
        ctx.log("info", f"running {tool.name} for task {task.id}")
        run = await tool.run(tool_request, on_line=lambda _stream, line: ctx.log("info", line))
    if ctx.metrics is not None:
        ctx.metrics.observe_process("tool", tool.name, run.duration)
    commit = await ws.commit_all(f"Task {task.id}: {task.title}")
    head = await ws.head_sha()
    if commit is None and head == before:
        raise ToolError(
            f"{tool.name} made no change (exit {run.returncode})",
            code="tool_no_change",
            task_id=task.id,
            extra={
                "exitStatus": run.returncode,
                "artifacts": {"stdout": run.stdout, "stderr": run.stderr},
            },
        )
    modified, added, deleted = await ws.diff_stats(base, "HEAD")
    allowed = set(files) | set(_tool_files(ctx, task, files))
    out_of_scope = [f for f in modified if files and f not in allowed]
    if out_of_scope and ctx.customer.settings.get("scopePolicy") == "reject":
        await ws.reset_to(before)
        raise ToolError(
            f"{tool.name} changed files outside the task's scope: {', '.join(out_of_scope)}",
            code="out_of_scope",
            task_id=task.id,
            extra={"outOfScope": out_of_scope},
        )
    if out_of_scope:
        ctx.log("warning", "changed outside the task's files: " + ", ".join(out_of_scope))
    diff = await ws.diff(base, "HEAD")
    if len(diff) > _DIFF_CAP:
        diff = diff[:_DIFF_CAP] + "\n[... diff truncated ...]\n"
    body = {
        "success": True,
        "taskId": task.id,
        "tool": tool.name,
        "artifacts": {
            "diff": ctx.redactor(diff),
            "stdout": run.stdout,
            "stderr": run.stderr,
            "filesModified": modified,
            "linesChanged": added + deleted,
            "outOfScope": out_of_scope,
            "commit": head,
            "tokens": dict(run.tokens) if run.tokens else None,
            "cost": run.cost,
        },
        "duration": round(trio.current_time() - started, 3),
        "toolDuration": round(run.duration, 3),
    }
    await record_step(ctx, "implement", task.id, branch, head, body)
    return Recorded(body)
