"""The task list's values: tasks, groups, phases and the issues found while parsing.

Everything here is an immutable attrs value that the parser builds once. Ids are the dotted
numbers of the list (``"1"`` for Phase 1, ``"1.1"`` for a group, ``"1.1.1"`` for a task,
``"1.1.A"`` for a checkpoint), and a dependency is any of those ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple, Protocol

import attrs

from runner.wire import PRIVATE

__all__ = [
    "DEFAULT_CRITERIA",
    "STATUSES",
    "STYLES",
    "TASK_TYPES",
    "Group",
    "Issue",
    "Maker",
    "Phase",
    "Row",
    "Task",
    "TaskList",
]

DEFAULT_CRITERIA: Mapping[str, str] = MappingProxyType(
    {"test.coverage": "≥80%", "type.strict": "0 errors", "tests.pass": "true"}
)
"""The criteria a task gets when the list names none.

Not ``doc.updated: task_outcomes.md``: COMPLETE writes that file once per completed group,
so asking every task's branch to change it fails every task but the model's lucky ones.
A task (or the customer's ``defaultCriteria``) that wants a document updated says so.
"""

STATUSES = ("pending", "in_progress", "completed", "blocked", "cancelled")
"""Every status a task can have; only ``completed`` is done."""

STYLES = ("plain", "bullet", "field", "checkbox")
"""The four line styles: ``1.1.1 Text``, ``- 1.1.1 Text``, ``#### 1.1.1`` + fields, ``- [ ]``."""

TASK_TYPES = ("atomic", "composite", "checkpoint")
"""Numeric leaves are atomic, numeric items with children composite, lettered items checkpoints."""


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
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
    style: str = attrs.field(metadata=PRIVATE)
    """How its status is written (``checkbox``, ``field``...): the marker's business."""
    status_line: int | None = attrs.field(default=None, metadata=PRIVATE)
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


class Row(NamedTuple):
    """What SELECT reads of a task: its id, type, status and dependencies (one per task).

    A named tuple: one is made per task of a long list, and tuples of strings are
    untracked by the collector.
    """

    id: str
    type: str
    status: str
    dependencies: tuple[str, ...]
    prerequisites: tuple[str, ...]
    line: int
    criteria: Mapping[str, str]


class Maker(Protocol):
    """Makes the values of a parsed list on first use (see `runner.tasks.values`)."""

    def task(self, task_id: str) -> Task:
        """The `Task` of a row (made once)."""

    def groups(self) -> tuple[Group, ...]:
        """The groups in the order of their line, else of their first task's (made once)."""

    def phases(self) -> tuple[Phase, ...]:
        """The phases in document order (made once)."""


@attrs.frozen(eq=False)
class TaskList:
    """A parsed task list: every task in document order, its groups and phases, and issues.

    What SELECT reads of every task (`Row`) is worked out by the parse; the `Task`,
    `Group` and `Phase` values (titles, descriptions, files) are made on first access.
    """

    rows: tuple[Row, ...]
    """Every task (atomic, composite, checkpoint) in document order."""
    warnings: tuple[Issue, ...]
    errors: tuple[Issue, ...]
    containers: frozenset[str] = attrs.field(repr=False)
    """Every group and phase id, and the phase and group part of every item id."""
    _maker: Maker = attrs.field(repr=False)
    _by_id: Mapping[str, Row] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.rows})  # frozen: an index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskList):
            return NotImplemented
        mine = (self.tasks, self.groups, self.phases, self.warnings, self.errors)
        return mine == (other.tasks, other.groups, other.phases, other.warnings, other.errors)

    __hash__ = None  # type: ignore[assignment]  # equal by value, like its values

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Every task (atomic, composite, checkpoint) in document order."""
        return tuple(self._maker.task(r.id) for r in self.rows)

    @property
    def groups(self) -> tuple[Group, ...]:
        """The groups in the order of their line (or of their first task's)."""
        return self._maker.groups()

    @property
    def phases(self) -> tuple[Phase, ...]:
        """The phases in document order."""
        return self._maker.phases()

    def row(self, task_id: str) -> Row | None:
        """Return what SELECT reads of the task with this id, or ``None``."""
        return self._by_id.get(task_id)

    def get(self, task_id: str) -> Task | None:
        """Return the task (of any type) with this id, or ``None``."""
        return self._maker.task(task_id) if task_id in self._by_id else None

    def group(self, group_id: str) -> Group | None:
        """Return the group with this id, or ``None``."""
        return next((g for g in self.groups if g.id == group_id), None)

    def knows(self, ref: str) -> bool:
        """Whether an id names a task, group or phase of the list (or a task id's phase)."""
        return ref in self._by_id or ref in self.containers

    def atomic(self) -> tuple[Task, ...]:
        """Return the atomic tasks in document order."""
        return tuple(self._maker.task(r.id) for r in self.rows if r.type == "atomic")

    @property
    def total(self) -> int:
        """The number of atomic tasks that count towards progress (cancelled ones do not)."""
        return sum(r.type == "atomic" and r.status != "cancelled" for r in self.rows)

    @property
    def completed(self) -> int:
        """The number of completed atomic tasks."""
        return sum(r.type == "atomic" and r.status == "completed" for r in self.rows)
