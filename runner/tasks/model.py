"""The task list's values: tasks, groups, phases and the issues found while parsing.

Everything here is an immutable attrs value; the parser builds them and nothing mutates them.
Ids are the dotted numbers of the list (``"1"`` for Phase 1, ``"1.1"`` for a group, ``"1.1.1"``
for a task, ``"1.1.A"`` for a checkpoint), and a dependency is any of those ids.
"""

from __future__ import annotations

import itertools
import operator
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

import attrs

from runner.tasks.table import Extra, Record, TaskTable

__all__ = [
    "DEFAULT_CRITERIA",
    "STATUSES",
    "STYLES",
    "TASK_TYPES",
    "Extra",
    "Group",
    "Issue",
    "Phase",
    "Record",
    "Task",
    "TaskList",
    "TaskSource",
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


class TaskSource(Protocol):
    """What makes the heavy values of a `TaskList` on demand (see `runner.tasks.build`)."""

    def record_of(self, index: int) -> Record:
        """The record of the ``index``-th task, with its built type, status and dependencies."""

    def make_task(self, index: int) -> Task:
        """Make the `Task` of the ``index``-th task."""

    def make_groups(self) -> tuple[Group, ...]:
        """Make the groups in document order."""

    def make_group(self, group_id: str) -> Group | None:
        """Make the group with this id, if there is one (as `make_groups` would)."""

    def make_phases(self) -> tuple[Phase, ...]:
        """Make the phases in document order."""

    def knows_container(self, ref: str) -> bool:
        """Whether ``ref`` is a group or phase id, or the phase or group part of a task id."""

    def last_atomic(self, container: str) -> int:
        """The index of the last atomic task under a container, else -1."""


@attrs.frozen(eq=False)
class TaskList:
    """A parsed task list: every task in document order, its groups and phases, and issues.

    Issues are found while parsing, and each task's type, status and dependencies are kept
    as columns (`TaskTable`); the `Task`, `Group` and `Phase` values (titles, descriptions,
    files…) are made on first access and kept, so that selecting the next task in a long list
    only makes the one task it returns (and marking it done only its group).
    """

    _table: TaskTable
    """The built tasks (every item but groups) as columns, in document order."""
    warnings: tuple[Issue, ...]
    errors: tuple[Issue, ...]
    _source: TaskSource = attrs.field(repr=False)
    _by_id: Mapping[str, int] = attrs.field(repr=False)
    """The index of every task in the table, by id."""
    _made: _Made = attrs.field(init=False, factory=lambda: _Made(), repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskList):
            return NotImplemented
        mine = (self.tasks, self.groups, self.phases, self.warnings, self.errors)
        return mine == (other.tasks, other.groups, other.phases, other.warnings, other.errors)

    __hash__ = None  # type: ignore[assignment]  # equal by value; holds caches

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Every task (atomic, composite, checkpoint) in document order."""
        made = self._made
        if made.all is None:
            made.all = tuple(self._task(i) for i in range(len(self._table.ids)))
        return made.all

    @property
    def groups(self) -> tuple[Group, ...]:
        """The groups in document order."""
        made = self._made
        if made.groups is None:
            made.groups = self._source.make_groups()
        return made.groups

    @property
    def phases(self) -> tuple[Phase, ...]:
        """The phases in document order."""
        made = self._made
        if made.phases is None:
            made.phases = self._source.make_phases()
        return made.phases

    def table(self) -> TaskTable:
        """The tasks as columns (id, type, status, dependencies…), in document order.

        The cheapest view of a long list; do not change it.
        """
        return self._table

    def records(self) -> tuple[Record, ...]:
        """The records of the tasks in document order (id, type, status, dependencies)."""
        made = self._made
        if made.records is None:
            made.records = tuple(map(self._source.record_of, range(len(self._table.ids))))
        return made.records

    def record(self, task_id: str) -> Record | None:
        """Return the record of the task (of any type) with this id, or ``None``."""
        index = self._by_id.get(task_id)
        return None if index is None else self._source.record_of(index)

    def atomic(self) -> tuple[Task, ...]:
        """Return the atomic tasks in document order."""
        made = self._made
        if made.atomic is None:
            types = self._table.types
            made.atomic = tuple(self._task(i) for i, t in enumerate(types) if t == "atomic")
        return made.atomic

    def knows(self, ref: str) -> bool:
        """Whether an id names a task, group or phase of the list (or a task id's phase)."""
        return ref in self._by_id or self._source.knows_container(ref)

    def index(self, task_id: str) -> int | None:
        """The index of the task (of any type) with this id in `table`, or ``None``."""
        return self._by_id.get(task_id)

    def last_atomic(self, container: str) -> int:
        """The index in `table` of the last atomic task under a container, else -1."""
        return self._source.last_atomic(container)

    def get(self, task_id: str) -> Task | None:
        """Return the task (of any type) with this id, or ``None``."""
        index = self._by_id.get(task_id)
        return None if index is None else self._task(index)

    def group(self, group_id: str) -> Group | None:
        """Return the group with this id, or ``None``."""
        made = self._made
        if made.group_index is None and made.groups is not None:
            made.group_index = {g.id: g for g in made.groups}
        if made.group_index is not None:
            return made.group_index.get(group_id)
        if group_id not in made.some_groups:  # one group, without making all of them
            made.some_groups[group_id] = self._source.make_group(group_id)
        return made.some_groups[group_id]

    @property
    def total(self) -> int:
        """The number of atomic tasks that count towards progress (cancelled ones do not)."""
        return sum(n for status, n in self._counts().items() if status != "cancelled")

    @property
    def completed(self) -> int:
        """The number of completed atomic tasks."""
        return self._counts()["completed"]

    def _counts(self) -> Counter[str]:
        """The number of atomic tasks of each status."""
        made = self._made
        if made.counts is None:
            table = self._table
            atomic = map(operator.eq, table.types, itertools.repeat("atomic"))
            made.counts = Counter(itertools.compress(table.statuses, atomic))
        return made.counts

    def _task(self, index: int) -> Task:
        made = self._made.tasks
        task = made.get(index)
        if task is None:
            task = made[index] = self._source.make_task(index)
        return task


@attrs.define
class _Made:
    """What a `TaskList` has made so far (instance state, filled on first access)."""

    tasks: dict[int, Task] = attrs.Factory(dict)
    all: tuple[Task, ...] | None = None
    atomic: tuple[Task, ...] | None = None
    records: tuple[Record, ...] | None = None
    groups: tuple[Group, ...] | None = None
    phases: tuple[Phase, ...] | None = None
    group_index: dict[str, Group] | None = None
    some_groups: dict[str, Group | None] = attrs.Factory(dict)
    counts: Counter[str] | None = None
