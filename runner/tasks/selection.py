"""SELECT: the next task to run, or why there is none (CONTRACT §3).

The next task is the first atomic task in document order that is not done and whose
dependencies are all done. A dependency on a group, phase or composite is done when every
atomic task under it is completed or cancelled; a dependency on a checkpoint is done when the
checkpoint is marked. An unknown reference is never done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from runner.tasks.model import Group, Row, Task, TaskList

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = [
    "Blocked",
    "Selection",
    "Standing",
    "group_completed_by",
    "list_tasks",
    "select_next",
    "standings",
]

_OPEN = frozenset({"pending", "in_progress", "blocked"})
"""The statuses of a task still to be done (every status but ``completed`` and ``cancelled``)."""


@attrs.frozen
class Blocked:
    """An atomic task that is not done and cannot run yet, and why."""

    task_id: str
    waiting_for: tuple[str, ...]
    """The dependencies that are not done (empty when the reason is the task's own status)."""
    reason: str


@attrs.frozen
class Selection:
    """The answer of SELECT (the spec's ``GET /tasks/next`` body, as values)."""

    task: Task | None
    blocked: tuple[Blocked, ...]
    """The tasks passed over before ``task`` (or all remaining ones when ``task`` is None)."""
    total: int
    completed: int
    dependencies_satisfied: bool

    @property
    def progress(self) -> float:
        """Completed atomic tasks as a percentage of the total, with one decimal."""
        return round(self.completed / self.total * 100, 1) if self.total else 0.0


def open_ids(task_list: TaskList) -> set[str]:
    """Every id still to be done: open atomic tasks and checkpoints, and every container
    (group, phase, composite, or a task with parts further down) of an open atomic task."""
    found: set[str] = set()
    for row in task_list.rows:
        if row.status not in _OPEN or row.type == "composite":
            continue
        found.add(row.id)
        if row.type == "atomic":
            parts = row.id.split(".")
            found.update(".".join(parts[:n]) for n in range(1, len(parts)))
    return found


def select_next(
    task_list: TaskList, *, exclude_completed: bool = True, skipped: Collection[str] = ()
) -> Selection:
    """Return the next atomic task to run, deterministically for a given list.

    Args:
        task_list: The parsed list.
        exclude_completed: ``True`` (the default) skips completed tasks. ``False`` makes
            completed tasks candidates too: the answer is the first atomic task in document
            order whose dependencies are done, completed or not (so a client can look at, or
            redo, the earliest task); totals and progress are the same either way.
        skipped: Tasks a person skipped: never chosen, never done, so their dependants
            wait (blocked, the reason naming the skipped task).

    Returns:
        The task (``None`` when nothing is left or nothing is ready), the tasks passed over
        with the reason, the counts, and whether the returned task's dependencies are done
        (``False`` only when tasks remain but none is ready).
    """
    still_open = open_ids(task_list)
    blocked: list[Blocked] = []
    for row in task_list.rows:
        done = row.status == "completed"
        if row.type != "atomic" or row.status == "cancelled" or (done and exclude_completed):
            continue
        if row.id in skipped and not done:
            continue
        why = _why_blocked(task_list, row, still_open, skipped)
        if why is None:
            return _selection(task_list, task_list.get(row.id), blocked, satisfied=True)
        blocked.append(why)
    return _selection(task_list, None, blocked, satisfied=not blocked)


def _why_blocked(
    task_list: TaskList, row: Row, still_open: Collection[str], skipped: Collection[str]
) -> Blocked | None:
    """Why an open atomic task cannot run yet (``None``: its dependencies are done)."""
    if row.status == "blocked":
        return Blocked(row.id, (), "the task's status is blocked")
    deps = row.dependencies
    waiting = tuple(d for d in deps if d in still_open or not task_list.knows(d))
    if not waiting:
        return None
    unknown = [d for d in waiting if not task_list.knows(d)]
    if unknown:
        reason = f"unknown dependency {', '.join(unknown)}"
    else:
        reason = "waiting for " + ", ".join(
            f"{d} (skipped)" if d in skipped else d for d in waiting
        )
    return Blocked(row.id, waiting, reason)


@attrs.frozen
class Standing:
    """Where one task stands: ``done``, ``next``, ``ready``, ``blocked``, ``skipped``,
    ``cancelled``, or ``open`` (a composite or checkpoint not done yet)."""

    task_id: str
    state: str
    waiting_for: tuple[str, ...] = ()
    reason: str | None = None


def standings(task_list: TaskList, *, skipped: Collection[str] = ()) -> dict[str, Standing]:
    """Return where every task of the list stands, by id, in document order.

    ``next`` is the task :func:`select_next` chooses; ``ready`` atomic tasks could run too
    (their dependencies are done) but come later; ``blocked`` ones carry the same reason
    SELECT gives.
    """
    still_open = open_ids(task_list)
    found: dict[str, Standing] = {}
    chosen = False
    for row in task_list.rows:
        if row.status in ("completed", "cancelled"):
            state = "done" if row.status == "completed" else "cancelled"
            found[row.id] = Standing(row.id, state)
        elif row.type != "atomic":
            found[row.id] = Standing(row.id, "open")
        elif row.id in skipped:
            found[row.id] = Standing(row.id, "skipped", reason="skipped by a person")
        elif (why := _why_blocked(task_list, row, still_open, skipped)) is not None:
            found[row.id] = Standing(row.id, "blocked", why.waiting_for, why.reason)
        else:
            found[row.id] = Standing(row.id, "ready" if chosen else "next")
            chosen = True
    return found


def _selection(
    task_list: TaskList, task: Task | None, blocked: list[Blocked], *, satisfied: bool
) -> Selection:
    return Selection(
        task=task,
        blocked=tuple(blocked),
        total=task_list.total,
        completed=task_list.completed,
        dependencies_satisfied=satisfied,
    )


def list_tasks(task_list: TaskList, *, exclude_completed: bool = True) -> tuple[Task, ...]:
    """Return the atomic tasks in document order, without the completed ones by default."""
    return tuple(t for t in task_list.atomic() if not (exclude_completed and t.done))


def group_completed_by(task_list: TaskList, task_id: str) -> Group | None:
    """Return the group whose last open atomic task is ``task_id``, else ``None``.

    The group is returned when ``task_id`` is one of its atomic tasks and every other one is
    done (or cancelled), so it works on the list parsed before or after marking the task; the
    caller writes the group's entry in ``task_outcomes.md``.
    """
    task = task_list.row(task_id)
    if task is None or task.type != "atomic" or task_id.count(".") < 2:
        return None
    group = task_list.group(".".join(task_id.split(".", 2)[:2]))
    if group is None:
        return None
    for member in group.tasks:
        other = task_list.row(member)
        if (
            member != task_id
            and other is not None
            and other.status not in ("completed", "cancelled")
        ):
            return None
    return group
