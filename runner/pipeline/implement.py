"""IMPLEMENT: run the coding tool on the task branch, commit, and report the diff."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import trio

from runner.errors import InvalidInputError, NotFoundError, ToolError
from runner.paths import path_in_repo, relative_path
from runner.pipeline.base import ImplementArtifacts, ImplementResult
from runner.pipeline.common import (
    WorkspaceAccess,
    load_task,
    load_task_list,
    record_step,
    recorded_step,
    repair_unless_clean,
    task_branch,
)
from runner.tools import ToolRequest, build_prompt, make_tool
from runner.verify import read_config

if TYPE_CHECKING:
    from runner.git import Workspace
    from runner.pipeline.base import ImplementRequest, StageContext
    from runner.tasks import Task, TaskList
    from runner.tools import ToolRun

__all__ = [
    "CONVENTIONS_FILES",
    "checkout_task_branch",
    "conventions_files",
    "implement",
    "safe_paths",
]

_DIFF_CAP = 1024 * 1024
CONVENTIONS_FILES = ("AGENTS.md", "CLAUDE.md", "CONVENTIONS.md", ".cursorrules")
"""The repo's own instructions for coding agents, handed to the tool read-only."""
_CONVENTIONS_CAP = 256 * 1024
_LISTED_FILES = 10


def conventions_files(repo: Path) -> tuple[str, ...]:
    """The conventions files at the repo root that are plain files inside it (read-only)."""
    root = repo.resolve()
    found = []
    for name in CONVENTIONS_FILES:
        path = repo / name
        if path.is_symlink() or not path.is_file():
            continue  # a link could hand the model a file from outside the repo
        if path.resolve().is_relative_to(root) and path.stat().st_size <= _CONVENTIONS_CAP:
            found.append(name)
    return tuple(found)


def read_only_files(repo: Path) -> tuple[str, ...]:
    """The conventions files, plus ``[implement] read = [...]`` from ``.devteam.toml``.

    Raises:
        InvalidInputError: ``.devteam.toml`` is unreadable (see
            :func:`runner.verify.read_config`), or ``[implement] read`` is not a list of paths
            of files inside the repo.
    """
    table = read_config(repo).get("implement", {})
    raw = table.get("read", []) if isinstance(table, dict) else None
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise InvalidInputError("[implement].read must be a list of paths", field="implement.read")
    named = safe_paths(repo, tuple(raw), "implement.read")
    if any(name == ".git" or name.startswith(".git/") for name in named):
        raise InvalidInputError(
            "[implement].read: git's own files are not handed to the tool", field="implement.read"
        )
    for name in named:
        path = repo / name
        if not path.is_file() or path.stat().st_size > _CONVENTIONS_CAP:
            raise InvalidInputError(
                f"[implement].read: {name} is not a file of at most 256 KiB",
                field="implement.read",
            )
    return tuple(dict.fromkeys((*conventions_files(repo), *named)))


async def done_before(ctx: StageContext, task_list: TaskList, task: Task) -> tuple[str, ...]:
    """Describe the task's dependencies for the prompt: title, status, files the runner changed."""
    lines: list[str] = []
    for dep in task.dependencies:
        group = task_list.group(dep)
        found = task_list.get(dep)
        if found is None and group is not None:
            lines.append(f"- {dep} {group.title} (tasks {', '.join(group.tasks)})")
            continue
        if found is None:
            continue
        line = f"- {dep} {found.title}: {'done' if found.done else found.status}"
        steps = await ctx.store.steps.find("implement", dep, None)
        mine = [s for s in steps if s.customer_id == ctx.customer.customer_id]
        changed = (mine[-1].body.get("artifacts") or {}).get("filesModified") if mine else None
        if changed:
            line += f"; changed {', '.join(map(str, changed[:_LISTED_FILES]))}"
        lines.append(line)
    return tuple(lines)


def _absent(repo: Path, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if not (repo / n).exists() and not (repo / n).is_symlink())


def _drop_empty_creations(repo: Path, absent: tuple[str, ...]) -> None:
    """Remove the files the runner handed the tool that it only created, empty.

    Aider creates every ``--file`` it is given; an empty file the runner itself named is no
    change, and must not turn a run where the model did nothing into a commit.
    """
    for name in absent:
        path = repo / name
        if path.is_file() and not path.is_symlink() and not path.read_bytes().strip():
            path.unlink()


def safe_paths(repo: Path, paths: tuple[str, ...], field: str) -> tuple[str, ...]:
    """Return ``paths`` normalised; 400 for absolute paths, ``..`` or links out of the repo."""
    clean: list[str] = []
    for index, raw in enumerate(paths):
        where = f"{field}.{index}"
        path_in_repo(repo, raw, where)
        clean.append(relative_path(raw, where))
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


def _tool_files(
    ctx: StageContext, repo: Path, task: Task, files: tuple[str, ...]
) -> tuple[str, ...]:
    """The task's files plus the documents ``doc.updated`` names (so the tool may edit them).

    Raises:
        InvalidInputError: a document's path leads out of the repo (``..``, a symlink).
    """
    doc = dict(task.criteria).get("doc.updated")
    if not doc:
        return files
    tasks_dir = PurePosixPath(ctx.customer.tasks_file).parent
    names = [name.strip() for name in doc.split(",") if name.strip()]
    docs = [name if "/" in name else str(tasks_dir / name) for name in names]
    return tuple(dict.fromkeys((*files, *safe_paths(repo, tuple(docs), "criteria.doc.updated"))))


def _unchanged(run: ToolRun, task_id: str) -> ToolError:
    """The error for a run that changed nothing: the model's failure if it had one.

    A model that could not be reached (or refused the key) is never reported as
    ``tool_no_change``: that code asks for a repair prompt, which the model cannot answer.
    """
    extra: dict[str, Any] = {
        "exitStatus": run.returncode,
        "artifacts": {"stdout": run.stdout, "stderr": run.stderr},
    }
    failure = run.failure
    if failure is None:
        return ToolError(
            f"{run.tool} made no change (exit {run.returncode})",
            code="tool_no_change",
            task_id=task_id,
            extra=extra,
        )
    return ToolError(
        f"{run.tool} made no change: {failure.reason} ({failure.line})",
        code=failure.code,
        task_id=task_id,
        extra={**extra, "failure": failure.as_dict()},
    )


async def implement(
    ctx: StageContext, ws: Workspace, access: WorkspaceAccess, request: ImplementRequest
) -> ImplementResult:
    """Run the tool, commit ``Task <id>: <title>`` and return the spec's artifacts.

    Raises:
        ToolError: ``tool_no_change`` when the tool changed nothing, the model failure's code
            (``model_rate_limited``, ``model_auth_failed``...; :mod:`runner.failures`) when
            it changed nothing because the model failed, ``tool_timeout``,
            ``tool_not_found``, ``out_of_scope`` (policy ``reject``).
    """
    started = trio.current_time()
    task, branch = await checkout_task_branch(ctx, ws, request.task_id, request.branch)
    base = ctx.customer.base_branch
    before = await ws.head_sha()
    if not request.force:
        done = await recorded_step(ctx, ImplementResult, "implement", task.id, branch, before)
        if done is not None:
            return done
    files = safe_paths(ws.path, request.files or task.files, "criteria.files")
    tool = make_tool(
        request.tool or ctx.customer.tool, ctx.settings, home=access.tool_home(ctx.settings)
    )
    handed = _tool_files(ctx, ws.path, task, files)
    task_list = await load_task_list(ctx, ws, f"refs/heads/{base}")
    tool_request = ToolRequest(
        task_id=task.id,
        title=task.title,
        description=request.description or task.description,
        files=handed,
        requirements=request.requirements or task.requirements,
        repo=ws.path,
        customer_id=ctx.customer.customer_id,
        repair=request.repair,
        read_only=await trio.to_thread.run_sync(read_only_files, ws.path),
        done_before=await done_before(ctx, task_list, task),
    )
    absent = await trio.to_thread.run_sync(_absent, ws.path, handed)
    async with ctx.slots.acquire(ctx.customer.customer_id):
        attempt = f" (attempt {request.attempt})" if request.attempt > 1 else ""
        ctx.log("info", f"running {tool.name} for task {task.id}{attempt}")
        run = await tool.run(tool_request, on_line=lambda _stream, line: ctx.log("info", line))
    if ctx.metrics is not None:
        ctx.metrics.observe_process("tool", tool.name, run.duration)
    await trio.to_thread.run_sync(_drop_empty_creations, ws.path, absent)
    commit = await ws.commit_all(f"Task {task.id}: {task.title}{attempt}", ctx.redactor)
    head = await ws.head_sha()
    if commit is None and head == before:
        raise _unchanged(run, task.id)
    modified, added, deleted = await ws.diff_stats(base, "HEAD")
    allowed = set(handed)
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
    artifacts = ImplementArtifacts(
        diff=diff,
        stdout=run.stdout,
        stderr=run.stderr,
        files_modified=tuple(modified),
        lines_changed=added + deleted,
        out_of_scope=tuple(out_of_scope),
        commit=head,
        tokens=dict(run.tokens) if run.tokens else None,
        cost=run.cost,
    )
    result = ImplementResult(
        task_id=task.id,
        tool=tool.name,
        artifacts=artifacts,
        attempt=request.attempt,
        prompt=build_prompt(tool_request),
        duration=round(trio.current_time() - started, 3),
        tool_duration=round(run.duration, 3),
    )
    await record_step(ctx, "implement", task.id, branch, head, result)
    return result
