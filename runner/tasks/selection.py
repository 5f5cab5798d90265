"""SELECT: the next task to run, or why there is none (CONTRACT §3).

The next task is the first atomic task in document order that is not done and whose
dependencies are all done. A dependency on a group, phase or composite is done when every
atomic task under it is completed or cancelled; a dependency on a checkpoint is done when the
checkpoint is marked. An unknown reference is never done.
"""

from __future__ import annotations

import itertools
import operator
from typing import TYPE_CHECKING

import attrs

from runner.tasks.model import Task, TaskList

if TYPE_CHECKING:
    from runner.tasks.model import Group
    from runner.tasks.table import TaskTable

__all__ = ["Blocked", "Selection", "group_completed_by", "list_tasks", "select_next"]


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


_OPEN_STATUSES = frozenset({"pending", "in_progress", "blocked"})
"""The statuses of a task still to be done (every status but ``completed`` and ``cancelled``)."""


def _open_ids(task_list: TaskList) -> set[str]:
    """Return every id, and every container id, with an atomic task under it still to be done.

    A checkpoint that is not marked is open too.
    """
    open_ids: set[str] = set()
    table = task_list.table()
    rows = zip(table.ids, table.types, table.parents, strict=True)
    for task_id, kind, parent in itertools.compress(rows, map(_is_open, table.statuses)):
        if kind == "composite":
            continue
        open_ids.add(task_id)
        if kind == "checkpoint":
            continue
        container = parent
        while container and container not in open_ids:  # seen: its containers are in too
            open_ids.add(container)
            container = container.rpartition(".")[0]
    return open_ids


_is_open = _OPEN_STATUSES.__contains__


@attrs.define
class _OpenRefs:
    """Whether a reference is in `_open_ids`, mostly told without gathering them: an open task
    by its status, a container (or a done task with parts further down) by its last atomic
    task, which must not come before the first open atomic task."""

    task_list: TaskList
    first_open_atomic: int | None = None
    """The index of the first atomic task still to be done, once known (SELECT's loop meets
    it before it looks at any dependency, unless it looks at completed tasks too)."""
    _all: set[str] | None = None

    def __call__(self, ref: str) -> bool:
        task_list = self.task_list
        index = task_list.index(ref)
        table = task_list.table()
        # an open task (a composite is open by its parts, as a container)
        if (
            index is not None
            and _is_open(table.statuses[index])
            and table.types[index] != "composite"
        ):
            return True
        last = task_list.last_atomic(ref)
        if last < 0:  # no atomic task under it
            return False
        if self.first_open_atomic is None:
            self.first_open_atomic = _first_open_atomic(table)
        if last < self.first_open_atomic:  # every atomic task under it is done
            return False
        if self._all is None:
            self._all = _open_ids(task_list)
        return ref in self._all


def _first_open_atomic(table: TaskTable) -> int:
    """The index of the first atomic task still to be done, else the number of tasks."""
    atomic = map(operator.eq, table.types, itertools.repeat("atomic"))
    flags = map(operator.and_, map(_is_open, table.statuses), atomic)
    return next(itertools.compress(itertools.count(), flags), len(table.ids))


def _first_open(statuses: list[str]) -> int:
    """The index of the first task still to be done (the tasks before it are completed or
    cancelled), else the number of tasks."""
    return min(_index(statuses, status) for status in _OPEN_STATUSES)


def _index(values: list[str], value: str) -> int:
    """The index of the first ``value`` in ``values``, else their length."""
    try:
        return values.index(value)
    except ValueError:
        return len(values)


def select_next(task_list: TaskList, *, exclude_completed: bool = True) -> Selection:
    """Return the next atomic task to run, deterministically for a given list.

    Args:
        task_list: The parsed list.
        exclude_completed: ``True`` (the default) skips completed tasks. ``False`` makes
            completed tasks candidates too: the answer is the first atomic task in document
            order whose dependencies are done, completed or not (so a client can look at, or
            redo, the earliest task); totals and progress are the same either way.

    Returns:
        The task (``None`` when nothing is left or nothing is ready), the tasks passed over
        with the reason, the counts, and whether the returned task's dependencies are done
        (``False`` only when tasks remain but none is ready).
    """
    knows = task_list.knows
    blocked: list[Blocked] = []
    table = task_list.table()
    is_open = _OpenRefs(task_list)
    start = _first_open(table.statuses) if exclude_completed else 0
    rows = zip(table.ids[start:], table.types[start:], table.statuses[start:], strict=True)
    for index, (task_id, kind, status) in enumerate(rows, start=start):
        if kind != "atomic" or status == "cancelled":
            continue
        if is_open.first_open_atomic is None and _is_open(status):
            is_open.first_open_atomic = index
        if status == "completed" and exclude_completed:
            continue
        if status == "blocked":
            blocked.append(Blocked(task_id, (), "the task's status is blocked"))
            continue
        deps = table.dependencies(index)
        waiting = tuple(d for d in deps if is_open(d) or not knows(d))
        if waiting:
            unknown = [d for d in waiting if not knows(d)]
            if unknown:
                reason = f"unknown dependency {', '.join(unknown)}"
            else:
                reason = f"waiting for {', '.join(waiting)}"
            blocked.append(Blocked(task_id, waiting, reason))
            continue
        return _selection(task_list, task_list.get(task_id), blocked, satisfied=True)
    return _selection(task_list, None, blocked, satisfied=not blocked)


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
    task = task_list.record(task_id)
    if task is None or task.type != "atomic" or task_id.count(".") < 2:
        return None
    group = task_list.group(".".join(task_id.split(".", 2)[:2]))
    if group is None:
        return None
    for member in group.tasks:
        other = task_list.record(member)
        open_task = other is not None and other.status not in ("completed", "cancelled")
        if member != task_id and open_task:
            return None
    return group
