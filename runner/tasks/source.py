"""What a built `TaskList` makes on demand: task records and values, groups and phases.

`runner.tasks.build` works out every task's state as columns; a `BuiltSource` keeps what the
build found (`TaskMaker` for the tasks' text, the resolved clauses, the containers) and makes
the heavier values when the `TaskList` first asks for them (the `TaskSource` protocol).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import attrs

from runner.tasks.details import TaskMaker
from runner.tasks.model import Group, Phase, Record, Task
from runner.tasks.resolve import Resolver

__all__ = ["BuiltSource"]


@attrs.frozen
class BuiltSource:
    """The `TaskSource` of a built list."""

    maker: TaskMaker
    resolver: Resolver
    """The build's resolver: every clause is resolved by now, so its answers are kept ones."""
    containers: Mapping[str, str]
    """The kind (``group`` or ``composite``) of every item with parts, in document order."""
    lineage: Mapping[str, tuple[str, ...]]
    """Every container of an item (parent, the parent's parent…) with its containers."""
    last: Mapping[str, int]
    """The index of the last atomic task under each container that has some."""
    completed_phases: Collection[str]
    """The phases a ``PHASE N COMPLETED`` line marks."""

    def record_of(self, index: int) -> Record:
        """The record of the ``index``-th task, with its built type and status."""
        return self.maker.record(index)

    def make_task(self, index: int) -> Task:
        """Make the `Task` of the ``index``-th task."""
        return self.maker.task(self.maker.record(index))

    def make_groups(self) -> tuple[Group, ...]:
        """Make the groups in the order of their first line."""
        made = [
            (first_line, self._group(group_id, atomic, checkpoints))
            for group_id, (atomic, checkpoints, first_line) in self._members().items()
        ]
        return tuple(group for _, group in sorted(made, key=lambda pair: pair[0]))

    def make_group(self, group_id: str) -> Group | None:
        """Make one group, as `make_groups` would."""
        found = self._members(group_id).get(group_id)
        return None if found is None else self._group(group_id, found[0], found[1])

    def _members(self, only: str | None = None) -> dict[str, tuple[list[str], list[str], int]]:
        """The atomic tasks and the checkpoints of every group (or of ``only``), and its line.

        The line is the group's own, else that of its first task.
        """
        members: dict[str, tuple[list[str], list[str], int]] = {}
        lines, lineage = self.maker.nodes.lines, self.lineage
        for group_id, kind in self.containers.items():
            if kind == "group" and only in (None, group_id):
                members[group_id] = ([], [], lines[self.maker.first[group_id]])
        # the parents in a group: (nearly) every parent, or those of the one group
        in_groups = {p for p, up in lineage.items() if len(up) >= 2 and only in (None, up[-2])}
        table = self.maker.table
        for task_id, kind, parent in zip(table.ids, table.types, table.parents, strict=True):
            if kind in ("atomic", "checkpoint") and parent in in_groups:
                line = lines[self.maker.first[task_id]]
                atomic, checkpoints, _ = members.setdefault(lineage[parent][-2], ([], [], line))
                (atomic if kind == "atomic" else checkpoints).append(task_id)
        return members

    def _group(self, group_id: str, atomic: list[str], checkpoints: list[str]) -> Group:
        at = self.maker.first.get(group_id)
        node = None if at is None else self.maker.nodes.record(at)
        refs, prereqs = self.resolver.owner_refs(group_id)
        return Group(
            id=group_id,
            title="" if node is None else self.maker.text(node).title,
            line=None if node is None else node.line,
            dependencies=refs,
            prerequisites=prereqs,
            tasks=tuple(atomic),
            checkpoints=tuple(checkpoints),
            requirements=tuple(self.maker.requirements.get(group_id, ())),
            phase=int(group_id.split(".")[0]),
        )

    def last_atomic(self, container: str) -> int:
        """The index of the last atomic task under a container, else -1."""
        return self.last.get(container, -1)

    def make_phases(self) -> tuple[Phase, ...]:
        """Make the phases in document order."""
        return tuple(self._phase(node) for node in self.maker.phases.values())

    def knows_container(self, ref: str) -> bool:
        """Whether ``ref`` is a group or phase id, or the phase or group part of a task id
        ."""
        # The containers of the items (every item's parent, and theirs, down to its phase part)
        # hold every group, and the phase part and the group part of every item id; the ids of
        # one or two parts among them are exactly those.
        return ref.count(".") <= 1 and (ref in self.lineage or ref in self.maker.phases)

    def _phase(self, node: Record) -> Phase:
        refs, prereqs = self.resolver.owner_refs(node.id)
        return Phase(
            id=node.id,
            title=self.maker.text(node).title,
            line=node.line,
            dependencies=refs,
            prerequisites=prereqs,
            completed=self.maker.states[f"Phase {node.id}"].done
            or node.id in self.completed_phases,
        )
