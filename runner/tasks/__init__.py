"""Task lists: parse the four styles, select the next task, mark tasks done (pure: no I/O).

What a line says (line kinds, done marks, dependency forms) is one table, `RULES`.
"""

from __future__ import annotations

from runner.tasks.check import check_report
from runner.tasks.marker import mark_done
from runner.tasks.model import (
    DEFAULT_CRITERIA,
    STATUSES,
    STYLES,
    TASK_TYPES,
    Group,
    Issue,
    Phase,
    Row,
    Task,
    TaskList,
)
from runner.tasks.parser import parse_task_list
from runner.tasks.rules import RULES, LineKind, Rules
from runner.tasks.selection import (
    Blocked,
    Selection,
    Standing,
    group_completed_by,
    list_tasks,
    select_next,
    standings,
)

__all__ = [
    "DEFAULT_CRITERIA",
    "RULES",
    "STATUSES",
    "STYLES",
    "TASK_TYPES",
    "Blocked",
    "Group",
    "Issue",
    "LineKind",
    "Phase",
    "Row",
    "Rules",
    "Selection",
    "Standing",
    "Task",
    "TaskList",
    "check_report",
    "group_completed_by",
    "list_tasks",
    "mark_done",
    "parse_task_list",
    "select_next",
    "standings",
]
