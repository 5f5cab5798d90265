"""The task list's values: tasks, groups, phases and the issues found while parsing.

Everything here is an immutable attrs value; the parser builds them and nothing mutates them.
Ids are the dotted numbers of the list (``"1"`` for Phase 1, ``"1.1"`` for a group, ``"1.1.1"``
for a task, ``"1.1.A"`` for a checkpoint), and a dependency is any of those ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = [
    "DEFAULT_CRITERIA",
    "STATUSES",
    "STYLES",
    "TASK_TYPES",
    "Group",
    "Issue",
    "Phase",
    "Task",
    "TaskList",
]

DEFAULT_CRITERIA: Mapping[str, str] = MappingProxyType(
    {"test.coverage": "≥80%", "type.strict": "0 errors", "doc.updated": "task_outcomes.md"}
)
"""The criteria a task gets when the list names none (CONTRACT §3)."""

STATUSES = ("pending", "in_progress", "completed", "blocked", "cancelled")
"""Every status a task can have; only ``completed`` is done."""

STYLES = ("plain", "bullet", "field", "checkbox")
"""The four line styles: ``1.1.1 Text``, ``- 1.1.1 Text``, ``#### 1.1.1`` + fields, ``- [ ]``."""

TASK_TYPES = ("atomic", "composite", "checkpoint")
"""Numeric leaves are atomic, numeric items with children composite, lettered items checkpoints."""


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    # a read-only view is kept as it is (the parser gives every task the same frozen defaults)
    return value if isinstance(value, MappingProxyType) else MappingProxyType(dict(value))


@attrs.frozen
class Issue:
    """A warning or an error found in the list, with its 1-based line number."""

    line: int
    message: str
    task_id: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@attrs.frozen
class Task:
    """One numbered item of the list (the spec's Task Definition Structure plus context).

    ``dependencies`` holds ids of tasks, groups or phases (a group or phase is done when all of
    its atomic tasks are); ``prerequisites`` holds the file links found in dependency clauses.
    """

    id: str
    title: str
    description: str
    type: str
    dependencies: tuple[str, ...]
    files: tuple[str, ...]
    criteria: Mapping[str, str] = attrs.field(converter=_frozen_mapping)
    requirements: tuple[str, ...]
    prerequisites: tuple[str, ...]
    line: int
    group: str | None
    phase: int | None
    status: str
    style: str
    status_line: int | None = None
    """The line of the ``**Status**:`` field, when the task has one (field style)."""

    @property
    def done(self) -> bool:
        """Whether the task is completed."""
        return self.status == "completed"


@attrs.frozen
class Group:
    """A numbered group such as ``1.1 Title (Dependencies: …)`` and what belongs to it.

    ``line`` is ``None`` for a group that only exists through its tasks' ids.
    """

    id: str
    title: str
    line: int | None
    dependencies: tuple[str, ...]
    prerequisites: tuple[str, ...]
    tasks: tuple[str, ...]
    """The ids of the group's atomic tasks, in document order."""
    checkpoints: tuple[str, ...]
    """The ids of the group's lettered items (``1.1.A``…), in document order."""
    requirements: tuple[str, ...]
    """The group's criterion bullets."""
    phase: int | None


@attrs.frozen
class Phase:
    """A ``Phase N — Title (Dependencies: …)`` line."""

    id: str
    title: str
    line: int
    dependencies: tuple[str, ...]
    prerequisites: tuple[str, ...]
    completed: bool
    """Whether the phase is marked completed as a whole (comment block, ``PHASE N COMPLETED``)."""

    @property
    def number(self) -> int:
        """The phase's number."""
        return int(self.id)


@attrs.frozen
class TaskList:
    """A parsed task list: every task in document order, its groups and phases, and issues."""

    tasks: tuple[Task, ...]
    groups: tuple[Group, ...]
    phases: tuple[Phase, ...]
    warnings: tuple[Issue, ...]
    errors: tuple[Issue, ...]
    _index: Mapping[str, Task] = attrs.field(
        init=False,
        default=attrs.Factory(lambda self: {t.id: t for t in self.tasks}, takes_self=True),
        eq=False,
        repr=False,
    )
    _atomic: tuple[Task, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: tuple(t for t in self.tasks if t.type == "atomic"), takes_self=True
        ),
        eq=False,
        repr=False,
    )

    _groups_by_id: Mapping[str, Group] = attrs.field(
        init=False,
        default=attrs.Factory(lambda self: {g.id: g for g in self.groups}, takes_self=True),
        eq=False,
        repr=False,
    )

    def atomic(self) -> tuple[Task, ...]:
        """Return the atomic tasks in document order."""
        return self._atomic

    def get(self, task_id: str) -> Task | None:
        """Return the task (of any type) with this id, or ``None``."""
        return self._index.get(task_id)

    def group(self, group_id: str) -> Group | None:
        """Return the group with this id, or ``None``."""
        return self._groups_by_id.get(group_id)

    @property
    def total(self) -> int:
        """The number of atomic tasks that count towards progress (cancelled ones do not)."""
        return sum(1 for t in self._atomic if t.status != "cancelled")

    @property
    def completed(self) -> int:
        """The number of completed atomic tasks."""
        return sum(1 for t in self._atomic if t.done)
