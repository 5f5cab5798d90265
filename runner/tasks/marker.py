"""Mark a task done in the file's own style, changing only that line.

``1.1.1 Text.`` and ``- 1.1.1 Text`` get `` ✅`` at the end, ``- [ ] 1.1.1`` becomes
``- [x] 1.1.1``, a task with a ``- **Status**:`` field gets ``completed`` there (a heading
without one gets `` ✅``). When the task is the last open atomic task of its group, the group's
lettered checkpoint lines (``1.1.A``…) are marked the same way. Every other byte stays: line
endings (``\\n`` or ``\\r\\n``) and a missing final newline are kept.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from runner.errors import InvalidInputError, NotFoundError, TaskListError
from runner.tasks.fields import node_state
from runner.tasks.model import Record
from runner.tasks.parser import parse_task_list, read_status
from runner.tasks.selection import group_completed_by
from runner.tasks.syntax import classify, holds

if TYPE_CHECKING:
    from runner.tasks.model import Task

__all__ = ["mark_done"]

_STATUS_RE = re.compile(r"(\*\*status:?\*\*[ \t]*:?[ \t]*)(.*?)([ \t]*)$", re.IGNORECASE)
_BOX_RE = re.compile(r"\[ \]")


def mark_done(text: str, task_id: str) -> str:
    """Return ``text`` with the task (and, if it completes its group, the checkpoints) done.

    Idempotent: an already-done task gives back the same text (after completing its group's
    checkpoints if they were left open). The caller writes the result atomically.

    Raises:
        NotFoundError: No task has this id.
        InvalidInputError: The id names a group or a composite task (done through its parts).
        TaskListError: The line could not be marked (a bug; nothing is changed then).
    """
    task_list = parse_task_list(text)
    task = task_list.get(task_id)
    if task is None:
        raise NotFoundError(
            f"task {task_id} is not in the task list", code="task_not_found", task_id=task_id
        )
    if task.type not in ("atomic", "checkpoint"):
        raise InvalidInputError(
            f"task {task_id} is {task.type}; it is done when its parts are",
            field="taskId",
            task_id=task_id,
        )
    lines = text.split("\n")
    targets = [] if task.done else [task]
    group = group_completed_by(task_list, task_id) if task.type == "atomic" else None
    if group is not None:
        checkpoints = (task_list.get(c) for c in group.checkpoints)
        targets.extend(c for c in checkpoints if c is not None and not c.done)
    if not targets:
        return text
    for target in targets:
        number = target.status_line or target.line
        lines[number - 1] = _mark_line(lines[number - 1], target)
    marked = "\n".join(lines)
    undone = _undone(text, marked, lines, targets)
    if undone:
        raise TaskListError(
            f"could not mark {', '.join(undone)} done in the task list's style",
            details=[{"taskId": t.id, "line": t.line} for t in targets if t.id in undone],
            task_id=task_id,
        )
    return marked


def _undone(text: str, marked: str, lines: list[str], targets: list[Task]) -> list[str]:
    """Return the ids of the targets that do not read as done in the marked text.

    Only the marked lines changed, and a marked line keeps its kind, so reading those lines
    again is enough. Comment markers change how the lines after them are read (and marking a
    status can drop one), so a text with any is parsed again as a whole.
    """
    if holds(text, "<!--", "!") or holds(text, "-->", ">"):
        after = parse_task_list(marked)
        return [t.id for t in targets if not _done(after.get(t.id))]
    numbers = [t.status_line or t.line for t in targets]
    return [t.id for t, n in zip(targets, numbers, strict=True) if not _reads_done(lines[n - 1], t)]


def _reads_done(line: str, task: Task) -> bool:
    """Whether a task's marked line (its status line, if it has one) reads as done."""
    info = classify(line.removesuffix("\r"))
    if task.status_line is not None:
        value = info.text.strip().strip("`").strip()
        return info.kind == "field" and info.id == "status" and read_status(value) == "completed"
    if info.kind != "item" or info.id != task.id:
        return False
    node = Record("item", info.id, info.text, task.line, info.style, info.box, info.lead_done)
    return node_state(node).done


def _done(task: Task | None) -> bool:
    return task is not None and task.done


def _mark_line(line: str, task: Task) -> str:
    """Mark one line (without its ``\\n``; a ``\\r`` is kept at the end)."""
    body, cr = (line[:-1], "\r") if line.endswith("\r") else (line, "")
    if task.status_line is not None:
        body = _STATUS_RE.sub(lambda m: f"{m[1]}completed{m[3]}", body, count=1)
    elif task.style == "checkbox" and _BOX_RE.search(body):
        body = _BOX_RE.sub("[x]", body, count=1)
    else:
        body = body.rstrip() + " ✅"
    return body + cr
