"""The report of ``devteam-runner tasks check PATH``: tree, counts, next task, issues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.tasks.parser import parse_task_list
from runner.tasks.rules import RULES, Rules
from runner.tasks.selection import select_next

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runner.tasks.model import Issue, TaskList
    from runner.tasks.selection import Selection

__all__ = ["check_report"]


def check_report(
    text: str, *, default_criteria: Mapping[str, str] | None = None, rules: Rules = RULES
) -> tuple[str, bool]:
    """Parse ``text`` and describe it for a person; return the report and whether it has errors.

    The report shows the tree (phases, groups, tasks; ``[x]`` done, ``[ ]`` open, ``[-]``
    cancelled), the counts, the next task (or why there is none), then every warning and error
    with its line number.
    """
    task_list = parse_task_list(text, default_criteria=default_criteria, rules=rules)
    selection = select_next(task_list)
    out = _tree(task_list)
    out.append("")
    out.extend(_summary(selection))
    out.extend(_issues("Warnings", task_list.warnings))
    out.extend(_issues("Errors", task_list.errors))
    return "\n".join(out) + "\n", bool(task_list.errors)


def _mark(done: bool, status: str = "") -> str:
    if status == "cancelled":
        return "[-]"
    return "[x]" if done else "[ ]"


def _tree(task_list: TaskList) -> list[str]:
    rows: list[tuple[int, int, str]] = []
    for phase in task_list.phases:
        done = " (completed)" if phase.completed else ""
        rows.append((phase.line, 0, f"Phase {phase.id} — {phase.title}{done}  [line {phase.line}]"))
    for group in task_list.groups:
        if group.line is None:
            continue
        open_tasks = [t for t in group.tasks if not _is_done(task_list, t)]
        counts = f"{len(group.tasks) - len(open_tasks)}/{len(group.tasks)} done"
        rows.append((group.line, 1, f"{group.id} {group.title}  ({counts})  [line {group.line}]"))
    for task in task_list.tasks:
        depth = task.id.count(".")
        kind = "" if task.type == "atomic" else f" ({task.type})"
        mark = _mark(task.done, task.status)
        rows.append((task.line, depth, f"{mark} {task.id} {task.title}{kind}  [line {task.line}]"))
    rows.sort(key=lambda row: row[0])
    return [f"{'  ' * depth}{text}" for _, depth, text in rows]


def _is_done(task_list: TaskList, task_id: str) -> bool:
    task = task_list.get(task_id)
    return task is not None and task.done


def _summary(selection: Selection) -> list[str]:
    lines = [
        f"Atomic tasks: {selection.total}, completed: {selection.completed}, "
        f"remaining: {selection.total - selection.completed}, progress: {selection.progress}%"
    ]
    task = selection.task
    if task is not None:
        lines.append(f"Next task: {task.id} {task.title}  [line {task.line}]")
        if task.dependencies:
            lines.append(f"  dependencies: {', '.join(task.dependencies)}")
        if task.files:
            lines.append(f"  files: {', '.join(task.files)}")
    elif selection.blocked:
        lines.append("Next task: none ready; blocked:")
        lines.extend(f"  {b.task_id}: {b.reason}" for b in selection.blocked)
    else:
        lines.append("Next task: none, every task is done")
    return lines


def _issues(title: str, issues: tuple[Issue, ...]) -> list[str]:
    if not issues:
        return [f"{title}: none"]
    return [f"{title} ({len(issues)}):", *(f"  {issue}" for issue in issues)]
