"""The task tree of ``GET /customers/{id}/tasks``: the parsed list and where each task stands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from runner.api.models import ViewModel
from runner.tasks import standings

if TYPE_CHECKING:
    from collections.abc import Collection

    from runner.tasks import Issue, TaskList

__all__ = ["TaskTreeView", "task_tree"]

State = Literal["done", "next", "ready", "blocked", "skipped", "cancelled", "open"]


class TreeTaskView(ViewModel):
    """One task of the list (atomic, composite or checkpoint) and where it stands."""

    id: str
    title: str
    description: str
    type: str
    status: str = Field(description="The list's own status: pending, completed, blocked…")
    state: State = Field(
        description="done; next (what SELECT picks); ready (could run, comes later); blocked "
        "(with `reason` and `waitingFor`); skipped; cancelled; open (a composite or "
        "checkpoint not done yet)."
    )
    reason: str | None = None
    waiting_for: list[str]
    dependencies: list[str]
    files: list[str]
    group: str | None
    phase: int | None
    line: int


class TreeGroupView(ViewModel):
    """A group (``1.1 Title``) and the ids of its atomic tasks and checkpoints."""

    id: str
    title: str
    line: int | None
    dependencies: list[str]
    tasks: list[str]
    checkpoints: list[str]
    phase: int | None


class TreePhaseView(ViewModel):
    """A phase (``Phase 1 — Title``)."""

    id: str
    title: str
    line: int
    completed: bool


class IssueView(ViewModel):
    """A warning of the parser, with its line number."""

    line: int
    message: str
    task_id: str | None = None


class TaskTreeView(ViewModel):
    """``GET /customers/{id}/tasks``."""

    customer_id: str
    total_tasks: int
    completed_tasks: int
    next_task: str | None = Field(description="The task SELECT picks (null: none is ready).")
    phases: list[TreePhaseView]
    groups: list[TreeGroupView]
    tasks: list[TreeTaskView] = Field(description="Every task in document order.")
    warnings: list[IssueView]


def task_tree(customer_id: str, task_list: TaskList, skipped: Collection[str]) -> dict[str, Any]:
    """Return the wire body of the task tree (``TaskTreeView``)."""
    where = standings(task_list, skipped=skipped)
    tasks = []
    for task in task_list.tasks:
        standing = where[task.id]
        tasks.append(
            {
                "id": task.id,
                "title": task.title,
                "description": task.description,
                "type": task.type,
                "status": task.status,
                "state": standing.state,
                "reason": standing.reason,
                "waitingFor": list(standing.waiting_for),
                "dependencies": list(task.dependencies),
                "files": list(task.files),
                "group": task.group,
                "phase": task.phase,
                "line": task.line,
            }
        )
    return {
        "customerId": customer_id,
        "totalTasks": task_list.total,
        "completedTasks": task_list.completed,
        "nextTask": next((k for k, s in where.items() if s.state == "next"), None),
        "phases": [
            {"id": p.id, "title": p.title, "line": p.line, "completed": p.completed}
            for p in task_list.phases
        ],
        "groups": [
            {
                "id": g.id,
                "title": g.title,
                "line": g.line,
                "dependencies": list(g.dependencies),
                "tasks": list(g.tasks),
                "checkpoints": list(g.checkpoints),
                "phase": g.phase,
            }
            for g in task_list.groups
        ],
        "tasks": tasks,
        "warnings": [_issue(w) for w in task_list.warnings],
    }


def _issue(issue: Issue) -> dict[str, Any]:
    return {"line": issue.line, "message": issue.message, "taskId": issue.task_id}
