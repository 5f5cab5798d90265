"""What the stages share: the customer's workspace, the task list, recorded step results."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from runner.clock import iso_utc
from runner.errors import GitError, NotFoundError, TaskListError
from runner.git import GitAuth, Workspace, branch_name, validate_repo_url
from runner.paths import path_in_repo, relative_path
from runner.store import StepRecord
from runner.wire import from_wire, to_wire

if TYPE_CHECKING:
    from pathlib import Path

    from runner.config import Settings
    from runner.pipeline.base import StageContext
    from runner.tasks import Task, TaskList

__all__ = [
    "WorkspaceAccess",
    "load_task",
    "load_task_list",
    "read_task_list",
    "record_step",
    "recorded_step",
    "repair_unless_clean",
]

T = TypeVar("T")


@attrs.define(eq=False)
class WorkspaceAccess:
    """Builds workspaces with one shared :class:`GitAuth` (its askpass script is written once)."""

    _auth: GitAuth | None = None

    def auth(self, settings: Settings) -> GitAuth:
        """Return the git credentials and environment for ``settings``."""
        if self._auth is None:
            self._auth = GitAuth.from_settings(settings)
        return self._auth

    def workspace(self, ctx: StageContext) -> Workspace:
        """Return the customer's workspace for its repository."""
        settings = ctx.settings
        repo = validate_repo_url(ctx.customer.repo_url, allow_local=settings.allow_local_repos)
        return Workspace.for_customer(settings, self.auth(settings), ctx.customer.customer_id, repo)

    def tool_home(self, settings: Settings) -> Path:
        """A runner-owned HOME for tool processes."""
        home = settings.workspace_dir.absolute() / ".runner" / "tool-home"
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return home


def task_list_too_large(name: str, limit: int) -> TaskListError:
    """The error for a task list over ``MAX_TASK_LIST_BYTES``."""
    return TaskListError(
        f"task list {name!r} is larger than MAX_TASK_LIST_BYTES ({limit} bytes)",
        code="task_list_too_large",
        details=[{"field": "tasksFile", "limit": limit}],
    )


def read_task_list(path: Path, name: str, limit: int, *, newline: str | None = None) -> str | None:
    """Read the task list file (blocking: call it in a thread); None if it is missing.

    ``newline=""`` keeps line endings as they are (for marking a task done).

    Raises:
        TaskListError: ``task_list_too_large`` past ``limit`` bytes (nothing more is read).
    """
    try:
        with path.open(encoding="utf-8", newline=newline) as handle:
            if os.fstat(handle.fileno()).st_size > limit:
                raise task_list_too_large(name, limit)
            text = handle.read(limit + 1)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    if len(text) > limit:  # it grew while we read
        raise task_list_too_large(name, limit)
    return text


async def repair_unless_clean(ctx: StageContext, ws: Workspace) -> None:
    """Repair what a crash or a killed process left behind, unless the last stage succeeded."""
    repaired = await ws.repair_unless_clean()
    if repaired:
        ctx.log("warning", "repaired the workspace: " + ", ".join(repaired))


async def load_task_list(ctx: StageContext, ws: Workspace, ref: str | None) -> TaskList:
    """Read and parse the customer's task list at ``ref`` (``None``: the checked-out file).

    A commit's file never changes: the list is read again only when the commit ``ref`` (or
    the checkout) names is not the one the customer's memo was read from, so the stages of a
    task read it once.

    Raises:
        NotFoundError: ``task_list_not_found`` when the file is missing.
        TaskListError: the list has errors (unknown references, cycles), with line numbers.
    """
    path = relative_path(ctx.customer.tasks_file, "tasksFile")
    defaults = ctx.customer.settings.get("defaultCriteria")
    sha = await ws.ref_sha(ref if ref is not None else "HEAD")
    source = (sha, path) if sha is not None else None
    task_list = ctx.task_lists.at(source, defaults) if source is not None else None
    if task_list is None:
        task_list = await _read_task_list(ctx, ws, ref, path, defaults, source)
    if task_list is None:
        where = ref.removeprefix("refs/heads/") if ref else ctx.customer.base_branch
        raise NotFoundError(f"task list {path!r} not found on {where}", code="task_list_not_found")
    if task_list.errors:
        details = [
            {"line": e.line, "message": e.message, "taskId": e.task_id} for e in task_list.errors
        ]
        raise TaskListError(
            f"{path} has {len(details)} error(s); first: {task_list.errors[0]}", details=details
        )
    return task_list


async def _read_task_list(
    ctx: StageContext,
    ws: Workspace,
    ref: str | None,
    path: str,
    defaults: Any,
    source: tuple[str, str] | None,
) -> TaskList | None:
    """Read the list at ``ref`` (``None``: from disk) and parse it; None if it is missing."""

    def parse(text: str | None) -> TaskList | None:
        return None if text is None else ctx.task_lists.parse(text, defaults, source)

    limit = ctx.settings.max_task_list_bytes
    if ref is None:  # the base was just checked out clean: read it from disk, no git run
        on_disk = path_in_repo(ws.path, path, "tasksFile")
        return await trio.to_thread.run_sync(lambda: parse(read_task_list(on_disk, path, limit)))
    try:
        text = await ws.read_file(ref, path, limit=limit)
    except GitError as exc:
        if exc.code != "file_too_large":
            raise
        raise task_list_too_large(path, limit) from None
    return await trio.to_thread.run_sync(parse, text)


async def load_task(ctx: StageContext, ws: Workspace, ref: str | None, task_id: str) -> Task:
    """Return task ``task_id`` from the list at ``ref``; 404 ``task_not_found`` if absent."""
    task = (await load_task_list(ctx, ws, ref)).get(task_id)
    if task is None:
        raise NotFoundError(
            f"task {task_id} is not in {ctx.customer.tasks_file}",
            code="task_not_found",
            task_id=task_id,
        )
    return task


def task_branch(task: Task) -> str:
    """Return the task's branch name (CONTRACT §3)."""
    return branch_name(task.id, task.title)


async def recorded_step(
    ctx: StageContext, result: type[T], stage: str, task_id: str, branch: str, head: str
) -> T | None:
    """Return the recorded ``result`` of ``stage`` if it ran on this very commit."""
    step = await ctx.store.steps.get(ctx.customer.customer_id, stage, task_id, branch)
    if step is None or step.body.get("_head") != head:
        return None
    try:
        return from_wire(result, step.body)
    except TypeError as exc:  # recorded in another shape: run the stage again, and say so
        ctx.log(
            "warning",
            f"the recorded {stage} result of task {task_id} is unreadable"
            f" ({exc}); running {stage} again",
        )
        return None


async def record_step(
    ctx: StageContext, stage: str, task_id: str, branch: str, head: str, result: object
) -> None:
    """Record a completed stage's result (redacted), tied to the commit it ran on."""
    step = StepRecord(
        customer_id=ctx.customer.customer_id,
        stage=stage,
        task_id=task_id,
        branch=branch,
        status_code=200,
        body={**ctx.redactor.value(to_wire(result)), "_head": head},
        recorded_at=iso_utc(ctx.now()),
    )
    if ctx.keep_step is not None:
        ctx.keep_step(step)
    else:
        await ctx.store.steps.record(step)
