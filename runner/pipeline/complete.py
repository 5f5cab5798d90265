"""COMPLETE: mark the task done, write the group's outcome entry, merge into the base, push."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import trio

from runner.clock import iso_utc
from runner.errors import NotFoundError, RunnerError
from runner.paths import path_in_repo
from runner.pipeline.base import CompleteResult
from runner.pipeline.common import read_task_list
from runner.tasks import group_completed_by, mark_done, parse_task_list

if TYPE_CHECKING:
    from runner.git import Workspace
    from runner.pipeline.base import StageContext
    from runner.tasks import Group, TaskList

__all__ = ["complete", "outcome_section", "write_atomically"]

OUTCOMES_FILE = "task_outcomes.md"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (keeps the mode)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def outcome_section(
    group: Group,
    task_list: TaskList,
    evidence: list[str],
    links: list[str],
    executor: str,
    timestamp: str,
) -> str:
    """Return the ``### X.Y Title`` entry with the six bullets of CONTRACT §6."""
    titles = [f"{tid} {t.title}" for tid in group.tasks if (t := task_list.get(tid)) is not None]
    return "\n".join(
        [
            f"### {group.id} {group.title}",
            f"- **Outputs Summary**: {'; '.join(titles) or 'no atomic tasks'}",
            f"- **Validation Evidence**: {'; '.join(evidence) or 'verified before merge'}",
            "- **Verification Notes**: every task was verified on its own branch against its "
            "criteria before it was merged with --no-ff; checkpoints "
            f"{', '.join(group.checkpoints) or '(none)'} were completed by the runner",
            f"- **Artifacts/Links**: {'; '.join(links)}",
            f"- **Executor**: {executor}",
            f"- **Timestamp**: {timestamp}",
            "",
        ]
    )


async def _evidence(ctx: StageContext, group: Group) -> tuple[list[str], list[str]]:
    evidence: list[str] = []
    links: list[str] = []
    for task_id in group.tasks:
        prep = await ctx.store.steps.find("prep", task_id, None)
        mine = [s for s in prep if s.customer_id == ctx.customer.customer_id]
        if mine:
            links.append(f"{task_id}: branch {mine[-1].branch}")
            verified = await ctx.store.steps.find_prefix("verify:", task_id, mine[-1].branch)
            for step in verified[-1:]:
                results: dict[str, Any] = step.body.get("results", {})
                shown = ", ".join(
                    f"{name} {r.get('actual') or ('passed' if r.get('passed') else 'failed')}"
                    for name, r in results.items()
                )
                evidence.append(f"{task_id}: {shown}")
                links.append(f"{task_id}: commit {step.body.get('_head', '')[:12]}")
    return evidence, links


async def complete(ctx: StageContext, ws: Workspace, task_id: str, branch: str) -> CompleteResult:
    """Mark ``task_id`` done on its branch, merge it into the base, push when configured."""
    base = ctx.customer.base_branch
    await ws.create_or_reset_branch(branch, base)
    name = ctx.customer.tasks_file
    tasks_path = path_in_repo(ws.path, name, "tasksFile")
    limit = ctx.settings.max_task_list_bytes
    text = await trio.to_thread.run_sync(
        functools.partial(read_task_list, tasks_path, name, limit, newline="")
    )
    if text is None:
        raise NotFoundError(
            f"task list {name!r} not found", code="task_list_not_found", task_id=task_id
        )
    task_list, marked = await trio.to_thread.run_sync(
        lambda: (parse_task_list(text), mark_done(text, task_id))
    )
    task = task_list.get(task_id)
    title = task.title if task is not None else task_id
    await trio.to_thread.run_sync(write_atomically, tasks_path, marked)
    group = group_completed_by(task_list, task_id)
    if group is not None:
        evidence, links = await _evidence(ctx, group)
        links.append(f"merged into {base}")
        executor = f"devteam-runner ({ctx.customer.tool})"
        timestamp = iso_utc(ctx.now(), timespec="seconds")
        section = outcome_section(group, task_list, evidence, links, executor, timestamp)
        outcomes_name = str(PurePosixPath(ctx.customer.tasks_file).parent / OUTCOMES_FILE)
        outcomes = path_in_repo(ws.path, outcomes_name, "tasksFile")
        existing = outcomes.read_text(encoding="utf-8") if outcomes.exists() else ""
        joiner = (
            ""
            if not existing or existing.endswith("\n\n")
            else ("\n" if existing.endswith("\n") else "\n\n")
        )
        await trio.to_thread.run_sync(write_atomically, outcomes, existing + joiner + section)
        ctx.log("info", f"group {group.id} completed; wrote its entry in {OUTCOMES_FILE}")
    await ws.commit_all(f"Task {task_id}: mark done", ctx.redactor)
    merge = await ws.merge_no_ff(branch, base, f"Merge {branch}: Task {task_id}: {title}")
    pushed = False
    if ctx.customer.push:
        try:
            await ws.push([base, branch])
        except RunnerError:
            # the merge is undone: a resume runs COMPLETE again on the base as the remote has
            # it, instead of finding the task's commits in the base and starting it anew
            await ws.reset_to(f"{merge}^1")
            raise
        pushed = True
    ctx.log("info", f"task {task_id} merged into {base}" + (" and pushed" if pushed else ""))
    return CompleteResult(task_id, merge, pushed, group.id if group is not None else None)
