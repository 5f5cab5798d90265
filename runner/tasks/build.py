"""Turn the scanned lines into a `TaskList`: structure, done state, dependencies, validation.

The structure comes from the ids: ``N.M`` with children is a group, an item with numeric
children is composite, a numeric leaf is atomic, a lettered item (``1.1.A``) is a checkpoint.
A done mark on a phase, group or composite line (or a ``PHASE N COMPLETED`` line, or a comment
block) makes everything under it done. Everything a task's state needs (type, status,
dependencies) and every issue is worked out here, at once, into the columns of a `TaskTable`;
the text fields of the `Task`, `Group` and `Phase` values are made on first access
(`runner.tasks.source`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from runner.tasks.deps import dependency_graph, find_cycles, last_atomic, points_backwards
from runner.tasks.details import TaskMaker
from runner.tasks.fields import NodeState, criteria_of, node_state, plain_state
from runner.tasks.model import Issue, Record, TaskList
from runner.tasks.resolve import Refs, Resolver
from runner.tasks.source import BuiltSource
from runner.tasks.syntax import DONE_MARKS
from runner.tasks.table import Nodes, TaskTable

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["build_task_list"]

_Parent = tuple[str, bool, tuple[str, ...], tuple[str, ...]]
"""What the tasks of one parent share: the scope where a task's previous sibling is looked for
(the group, else the phase), whether a container is done, and the containers' clauses'
references (`Resolver.inherited_refs`)."""


def _lineage(container: str, memo: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """A container and its own containers, nearest first (``1.1.5`` -> ``1.1.5, 1.1, 1``)."""
    found = memo.get(container)
    if found is None:
        parent = container.rpartition(".")[0]
        found = (container, *_lineage(parent, memo)) if parent else (container,)
        memo[container] = found
    return found


@attrs.define
class _Builder:
    """The state of one build; `run` returns the `TaskList` (its source: a `BuiltSource`)."""

    nodes: Nodes
    phase_lines: list[Record]
    default_criteria: Mapping[str, str]
    requirements: Mapping[str, list[str]]
    completed_phases: set[str]
    warnings: list[Issue]
    errors: list[Issue] = attrs.Factory(list)
    phases: dict[str, Record] = attrs.Factory(dict)
    first: dict[str, int] = attrs.Factory(dict)
    """The position of every item id's first line, in document order."""
    states: dict[str, NodeState] = attrs.Factory(dict)
    """The done state and clause of the phases (by ``Phase N``) and of the items (by id) whose
    line says more than a done mark; an item without one has no clause."""
    containers: dict[str, str] = attrs.Factory(dict)
    """The kind (``group`` or ``composite``) of every item with parts, in document order."""
    lineage: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    """Every container of an item (parent, the parent's parent…) with its containers."""
    resolver: Resolver = attrs.field(init=False)
    table: TaskTable = attrs.Factory(TaskTable)

    def run(self) -> TaskList:
        self._index()
        parents = self._classify()
        self.resolver = Resolver(
            self.first, self.lineage, self.phases, self.states, self.warnings, self.errors
        )
        self._tasks(parents, self._done_containers())
        if "composite" in self.containers.values():
            self.table.complete_composites()
        # every container's clause is resolved by now (`_by_parent`); those of phases without
        # items are not
        for phase_id in self.phases:
            self.resolver.owner_refs(phase_id)
        table = self.table
        by_id = dict(zip(table.ids, range(len(table.ids)), strict=True))
        last = last_atomic(table, self.lineage)
        if not points_backwards(table, by_id, last):
            self._report_cycles()
        maker = TaskMaker(
            self.nodes,
            table,
            by_id,
            self.first,
            self.phases,
            self.states,
            self.default_criteria,
            self.requirements,
        )
        source = BuiltSource(
            maker=maker,
            resolver=self.resolver,
            containers=self.containers,
            lineage=self.lineage,
            last=last,
            completed_phases=self.completed_phases,
        )
        return TaskList(
            table=table,
            warnings=tuple(sorted(self.warnings, key=lambda i: i.line)),
            errors=tuple(sorted(self.errors, key=lambda i: i.line)),
            source=source,
            by_id=by_id,
        )

    def _index(self) -> None:
        """Find the first line of every item and phase id; report the other lines."""
        ids = self.nodes.ids
        first = dict(zip(ids, range(len(ids)), strict=True))
        if len(first) < len(ids):  # some id is repeated: keep its first line
            first = {}
            for position, item_id in enumerate(ids):
                seen = first.setdefault(item_id, position)
                if seen != position:
                    self._duplicate(self.nodes.lines[position], item_id, self.nodes.lines[seen])
        self.first = first
        for node in self.phase_lines:
            seen_phase = self.phases.setdefault(node.id, node)
            if seen_phase is node:
                self.states[f"Phase {node.id}"] = node_state(node)
            else:
                self._duplicate(node.line, node.id, seen_phase.line, label=f"Phase {node.id}")

    def _duplicate(self, line: int, node_id: str, first: int, *, label: str = "") -> None:
        message = f"duplicate id {label or node_id} (first at line {first}); this line is ignored"
        self.errors.append(Issue(line, message, node_id))

    def _classify(self) -> list[str]:
        """Find the containers among the items and every container's lineage.

        Returns the parent of each item, in document order.
        """
        items = self.first
        parents = [item_id.rpartition(".")[0] for item_id in items]
        distinct = set(parents)
        candidates = distinct.intersection(items)
        deep = {parent for parent in candidates if parent.count(".") >= 2}
        with_parts = (  # the deeper candidates with numeric parts: composites
            {p for p, i in zip(parents, items, strict=True) if p in deep and not i[-1].isalpha()}
            if deep
            else set()
        )
        for parent in sorted(candidates, key=items.__getitem__):
            if parent.count(".") == 1:
                self.containers[parent] = "group"
            elif parent in with_parts:
                self.containers[parent] = "composite"
        for parent in distinct:
            _lineage(parent, self.lineage)
        return parents

    def _state(self, item_id: str) -> NodeState:
        """The done state and clause of an item (kept in ``states`` unless a bare done mark)."""
        found = self.states.get(item_id)
        if found is None:
            nodes, position = self.nodes, self.first[item_id]
            record = nodes.records.get(position)
            if record is not None:
                found = node_state(record)
            else:
                found = plain_state(nodes.raws[position], nodes.lines[position])
                if found.clause is None:  # a bare done mark at most: not kept
                    return found
            self.states[item_id] = found
        return found

    def _done_containers(self) -> set[str]:
        """The phases, groups and composites marked done.

        Reads the state of every item that holds another (a container, or a task whose parts'
        parent has no line), so that the clauses its parts inherit are known before the task
        pass.
        """
        done = set(self.completed_phases)
        for phase_id in self.phases:
            if self.states[f"Phase {phase_id}"].done:
                done.add(phase_id)
        containers, state = self.containers, self._state
        for item_id in self.lineage.keys() & self.first.keys():  # the items holding others
            if state(item_id).done and item_id in containers:
                done.add(item_id)
        return done

    def _by_parent(self, done_containers: set[str]) -> dict[str, _Parent]:
        """What the tasks of each parent share (see `_Parent`)."""
        found = {}
        for parent, lineage in self.lineage.items():
            found[parent] = (
                lineage[-2] if len(lineage) >= 2 else lineage[-1],
                bool(done_containers) and not done_containers.isdisjoint(lineage),
                *self.resolver.inherited_refs(parent),
            )
        return found

    def _tasks(self, parents: list[str], done_containers: set[str]) -> None:
        """Work out every task's type, dependencies and status, in document order.

        A task's default first dependency is its previous sibling: the last atomic task of
        its scope (``previous``). Tasks of one parent come together, so what they share
        (`_Parent`) and the scope's last atomic task are looked up once per run of them.
        """
        previous: dict[str, str] = {}  # the last atomic task of each scope, but the current one
        raws, records, containers = self.nodes.raws, self.nodes.records, self.containers
        by_parent = self._by_parent(done_containers)
        table = self.table = TaskTable()
        add_id, add_type, add_status = table.ids.append, table.types.append, table.statuses.append
        add_lead, add_parent = table.leads.append, table.parents.append
        add_start, add_run_rest = table.run_starts.append, table.run_rests.append
        add_run_prereqs = table.run_prerequisites.append
        current, scope, last = None, "", ""  # the parent, its scope, the scope's last atomic
        container_done = False  # and the refs that the parent's tasks inherit:
        deps: tuple[str, ...] = ()
        prereqs: tuple[str, ...] = ()
        own = False  # whether the last task's run is its own (a task with a clause)
        for (task_id, position), parent in zip(self.first.items(), parents, strict=True):
            kind = containers.get(task_id)
            if kind == "group":
                continue
            if parent != current:
                previous[scope] = last
                current = parent
                scope, container_done, deps, prereqs = by_parent[parent]
                last = previous.get(scope, "")
                add_start(len(table.ids))
                add_run_rest(deps)
                add_run_prereqs(prereqs)
                own = False
            if kind is None:
                kind = "checkpoint" if task_id[-1].isalpha() else "atomic"
            text = raws[position]
            if position not in records and ("(" not in text or ":" not in text):
                # the common case, a plain line with a done mark at most
                if own:  # back to the parent's run
                    add_start(len(table.ids))
                    add_run_rest(deps)
                    add_run_prereqs(prereqs)
                    own = False
                add_lead(parent if kind == "checkpoint" else last)
                done = container_done or text.rstrip().endswith(DONE_MARKS)
                add_status("completed" if done else "pending")
            else:
                status, lead, own_deps, own_prereqs = self._task(
                    task_id, kind, container_done, (deps, prereqs), last
                )
                add_start(len(table.ids))
                add_run_rest(own_deps)
                add_run_prereqs(own_prereqs)
                own = True
                add_lead(lead)
                add_status(status)
            add_id(task_id)
            add_type(kind)
            add_parent(parent)
            if kind == "atomic":
                last = task_id

    def _task(
        self, task_id: str, kind: str, container_done: bool, inherited: Refs, last: str
    ) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        """Status, lead, rest and prerequisites of a task whose line says more than a done mark
        (``inherited``: its containers' clauses' refs; ``last``: its scope's last atomic task)."""
        position = self.first[task_id]
        record = self.nodes.records.get(position)
        state = self._state(task_id)
        deps, prereqs = inherited
        lead = ""
        if kind == "checkpoint":
            lead = task_id.rpartition(".")[0]
        elif state.clause is not None:
            deps, prereqs = self.resolver.task_refs(task_id, state)
        else:
            lead = last
        status = "pending" if record is None else self._declared_status(record, kind)
        if state.done or container_done:
            status = "completed"
        elif status == "completed":
            status = "pending"
        return status, lead, deps, prereqs

    def _declared_status(self, node: Record, kind: str) -> str:
        """The status of a task's fields (``pending`` without any), after checking them."""
        if node.extra is None:
            return "pending"
        self._check_fields(node, kind)
        return node.extra.fields.get("status", "pending")

    def _check_fields(self, node: Record, kind: str) -> None:
        """Warn about a declared type that is not the task's and criteria without pairs."""
        declared = node.fields().get("type", "").lower()
        if declared and declared != kind:
            self.warnings.append(
                Issue(node.line, f"{node.id} is declared {declared} but is {kind}", node.id)
            )
        criteria_of(node, self.default_criteria, self.warnings)

    def _report_cycles(self) -> None:
        """Build the whole graph and report one cycle per strongly connected component."""
        graph = dependency_graph(self.table, self.lineage)
        item_lines = self.nodes.lines
        lines = {item_id: item_lines[position] for item_id, position in self.first.items()}
        lines.update({k: n.line for k, n in self.phases.items()})
        for cycle in find_cycles(graph):
            spelled = " → ".join(
                f"{node} (line {lines[node]})" if node in lines else node for node in cycle
            )
            self.errors.append(Issue(lines.get(cycle[0], 0), f"dependency cycle: {spelled}"))


def build_task_list(
    items: Nodes,
    phases: Iterable[Record],
    *,
    requirements: Mapping[str, list[str]],
    completed_phases: set[str],
    warnings: list[Issue],
    default_criteria: Mapping[str, str],
) -> TaskList:
    """Build the `TaskList` from the scanner's item and phase lines (see the module docstring)."""
    builder = _Builder(
        nodes=items,
        phase_lines=list(phases),
        default_criteria=MappingProxyType(dict(default_criteria)),
        requirements=requirements,
        completed_phases=completed_phases,
        warnings=list(warnings),
    )
    return builder.run()
