"""Mark a task done in the file's own style, changing only that line.

``1.1.1 Text.`` and ``- 1.1.1 Text`` get the first of `Rules.done_marks` (`` ✅``) at the end,
``- [ ] 1.1.1`` becomes ``- [x] 1.1.1``, a task with a ``- **Status**:`` field gets
``completed`` there (a heading without one gets the mark). When the task is the last open
atomic task of its group, the group's lettered checkpoint lines (``1.1.A``…) are marked the
same way. Every other byte stays: line endings (``\\n`` or ``\\r\\n``) and a missing final
newline are kept.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from runner.errors import InvalidInputError, NotFoundError, TaskListError
from runner.tasks.parser import parse_task_list
from runner.tasks.rules import RULES, Rules
from runner.tasks.selection import group_completed_by

if TYPE_CHECKING:
    from runner.tasks.model import Task

__all__ = ["mark_done"]

_STATUS_RE = re.compile(r"(\*\*status:?\*\*[ \t]*:?[ \t]*)(.*?)([ \t]*)$", re.IGNORECASE)


def mark_done(text: str, task_id: str, *, rules: Rules = RULES) -> str:
    """Return ``text`` with the task (and, if it completes its group, the checkpoints) done.

    Idempotent: an already-done task gives back the same text (after completing its group's
    checkpoints if they were left open). The caller writes the result atomically.

    Raises:
        NotFoundError: No task has this id.
        InvalidInputError: The id names a group or a composite task (done through its parts).
        TaskListError: The line could not be marked (a bug; nothing is changed then).
    """
    task_list = parse_task_list(text, rules=rules)
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
    targets = [] if task.done else [task]
    group = group_completed_by(task_list, task_id) if task.type == "atomic" else None
    if group is not None:
        checkpoints = (task_list.get(c) for c in group.checkpoints)
        targets.extend(c for c in checkpoints if c is not None and not c.done)
    if not targets:
        return text
    lines = text.split("\n")
    for target in targets:
        number = target.status_line or target.line
        lines[number - 1] = _mark_line(lines[number - 1], target, rules)
    marked = "\n".join(lines)
    after = parse_task_list(marked, rules=rules)
    undone = [t.id for t in targets if not getattr(after.get(t.id), "done", False)]
    if undone:
        raise TaskListError(
            f"could not mark {', '.join(undone)} done in the task list's style",
            details=[{"taskId": t.id, "line": t.line} for t in targets if t.id in undone],
            task_id=task_id,
        )
    return marked


def _mark_line(line: str, task: Task, rules: Rules) -> str:
    """Mark one line (without its ``\\n``; a ``\\r`` is kept at the end)."""
    body, cr = (line[:-1], "\r") if line.endswith("\r") else (line, "")
    if task.status_line is not None:
        body = _STATUS_RE.sub(lambda m: f"{m[1]}completed{m[3]}", body, count=1)
    elif task.style == "checkbox" and "[ ]" in body:
        body = body.replace("[ ]", "[x]", 1)
    else:
        body = body.rstrip() + " " + rules.done_marks[0]
    return body + cr
