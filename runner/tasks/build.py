"""Turn the scanned lines into a `TaskList`: structure, done state, dependencies, validation.

The structure comes from the ids: ``N.M`` with children is a group, an item with numeric
children is composite, a numeric leaf is atomic, a lettered item (``1.1.A``) is a checkpoint.
A done mark on a phase, group or composite line (or a ``PHASE N COMPLETED`` line, or a comment
block) makes everything under it done. A task without a clause of its own depends on the
previous atomic task of its group (a checkpoint on its parent), plus the clauses of every
container above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from runner.tasks.clauses import Clause, expand_range, find_cycles, numeric_ids, related
from runner.tasks.fields import State, criteria_of, read_state
from runner.tasks.lines import Node, Scan
from runner.tasks.model import Issue, Row, TaskList
from runner.tasks.rules import Rules
from runner.tasks.values import GroupParts, Values

__all__ = ["build_task_list"]

Refs = tuple[tuple[str, ...], tuple[str, ...]]
"""Resolved references: (dependency ids, prerequisite files)."""


def _lineage(container: str) -> tuple[str, ...]:
    """A container and its own containers, nearest first (``1.1.5`` -> ``1.1.5, 1.1, 1``)."""
    parts = container.split(".")
    return tuple(".".join(parts[:n]) for n in range(len(parts), 0, -1))


def _parent(item_id: str) -> str:
    return item_id.rpartition(".")[0]


def _merge(first: tuple[str, ...], then: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *then)))


@attrs.define
class _Build:
    """The state of one build; `run` returns the `TaskList`."""

    found: Scan
    rules: Rules
    default_criteria: Mapping[str, str]
    warnings: list[Issue]
    errors: list[Issue] = attrs.Factory(list)
    items: dict[str, Node] = attrs.Factory(dict)
    """The first line of every item id, in document order."""
    phases: dict[str, Node] = attrs.Factory(dict)
    states: dict[str, State] = attrs.Factory(dict)
    """The state of every item (by id) and phase (by ``Phase N``)."""
    kinds: dict[str, str] = attrs.Factory(dict)
    """The kind (``group``, ``composite``) of every item with parts."""
    lineage: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    """Every container of an item (parent, the parent's parent…) with its containers."""
    resolved: dict[str, Refs] = attrs.Factory(dict)
    inherited: dict[str, Refs] = attrs.Factory(dict)
    ranges: list[tuple[tuple[int, ...], str]] | None = None

    def run(self) -> TaskList:
        self._index()
        self._structure()
        for parent in self.lineage:  # every container's clause, before the tasks'
            self._inherited(parent)
        rows = self._rows(self._done_containers())
        for phase_id in self.phases:
            self._owner_refs(phase_id)
        self._report_cycles(rows)
        known = {c for c in self.lineage if c.count(".") <= 1} | self.phases.keys()
        values = Values(
            rows={row.id: row for row in rows},
            nodes=self.items,
            phase_nodes=self.phases,
            states=self.states,
            requirements=self.found.requirements,
            groups_parts=self._groups(rows),
            phase_refs={phase_id: self._owner_refs(phase_id) for phase_id in self.phases},
            completed_phases=frozenset(self.found.completed_phases),
        )
        return TaskList(
            rows=tuple(rows),
            warnings=tuple(sorted(self.warnings, key=lambda i: i.line)),
            errors=tuple(sorted(self.errors, key=lambda i: i.line)),
            containers=frozenset(known),
            maker=values,
        )

    def _owners(self) -> list[tuple[str, Node]]:
        """Every item (by id) and phase (by ``Phase N``) node, items first."""
        return [*self.items.items(), *((f"Phase {i}", n) for i, n in self.phases.items())]

    def _index(self) -> None:
        """Keep the first line of every item and phase id; the others are errors."""
        sources = ((self.found.items, self.items, ""), (self.found.phases, self.phases, "Phase "))
        for nodes, found, label in sources:
            for node in nodes:
                first = found.setdefault(node.id, node)
                if first is not node:
                    message = f"duplicate id {label}{node.id} (first at line {first.number})"
                    message += "; this line is ignored"
                    self.errors.append(Issue(node.number, message, node.id))
        for key, node in self._owners():
            self.states[key] = read_state(node, self.rules)

    def _structure(self) -> None:
        """Find the groups and composites among the items, and every container's lineage."""
        parents = {item_id: _parent(item_id) for item_id in self.items}
        numeric_parts = {p for i, p in parents.items() if not i[-1].isalpha()}
        holding = set(parents.values())
        for item_id in self.items:
            if item_id in holding and item_id.count(".") == 1:
                self.kinds[item_id] = "group"
            elif item_id in holding and item_id in numeric_parts:
                self.kinds[item_id] = "composite"
        for parent in dict.fromkeys(parents.values()):
            for container in _lineage(parent):
                self.lineage.setdefault(container, _lineage(container))

    def _done_containers(self) -> set[str]:
        """The phases, groups and composites marked done."""
        done = set(self.found.completed_phases)
        done.update(i for i in self.phases if self.states[f"Phase {i}"].done)
        done.update(i for i in self.kinds if self.states[i].done)
        return done

    def _rows(self, done_containers: set[str]) -> list[Row]:
        """Work out every task's type, status and dependencies, in document order."""
        rows: list[Row] = []
        last: dict[str, str] = {}  # the last atomic task of each scope (group, else phase)
        for task_id, node in self.items.items():
            kind = self.kinds.get(task_id)
            if kind == "group":
                continue
            kind = kind or ("checkpoint" if task_id[-1].isalpha() else "atomic")
            parent = _parent(task_id)
            lineage = self.lineage[parent]
            scope = lineage[-2] if len(lineage) >= 2 else lineage[-1]
            state = self.states[task_id]
            deps, prereqs = self._inherited(parent)
            lead = ""
            if kind == "checkpoint":
                lead = parent
            elif state.clause is not None:
                deps, prereqs = self._task_refs(task_id, state)
            else:
                lead = last.get(scope, "")
            declared, criteria = self._check_fields(node, kind)
            if state.done or not done_containers.isdisjoint(lineage):
                status = "completed"
            else:
                status = "pending" if declared == "completed" else declared
            if lead:
                deps = (lead, *(ref for ref in deps if ref != lead))
            rows.append(Row(task_id, kind, status, deps, prereqs, node.number, criteria))
            if kind == "atomic":
                last[scope] = task_id
        return self._complete_composites(rows)

    def _check_fields(self, node: Node, kind: str) -> tuple[str, Mapping[str, str]]:
        """The declared status and the criteria; warn about a type that is not the task's."""
        if node.written is None:  # no fields
            return "pending", self.default_criteria
        declared = node.fields.get("type", "").lower()
        if declared and declared != kind:
            message = f"{node.id} is declared {declared} but is {kind}"
            self.warnings.append(Issue(node.number, message, node.id))
        criteria = criteria_of(node, self.default_criteria, self.warnings)
        return node.fields.get("status", "pending"), criteria

    def _complete_composites(self, rows: list[Row]) -> list[Row]:
        """Give each composite task the done state of its parts (done when all of them are)."""
        open_parts = {
            container
            for row in rows
            if row.type == "atomic" and row.status not in ("completed", "cancelled")
            for container in self.lineage[_parent(row.id)]
        }
        return [
            row._replace(status="completed")
            if row.type == "composite" and row.id not in open_parts
            else row
            for row in rows
        ]

    def _knows(self, ref: str) -> bool:
        return ref in self.items or ref in self.lineage or ref in self.phases

    def _resolve(self, owner: str, line: int, clause: Clause | None) -> Refs:
        """Resolve an owner's clause once: (dependency ids, prerequisite files)."""
        if (found := self.resolved.get(owner)) is not None:
            return found
        refs: list[str] = []
        if clause is not None:
            for item in clause.unparsed:
                message = f"dependency '{item}' of {owner} is not a task reference"
                self.warnings.append(Issue(line, message, owner))
            for start, end in clause.refs:
                refs.extend(self._expand(owner, line, start, end))
            self._check_self(owner, line, refs)
        found = self.resolved[owner] = (
            tuple(dict.fromkeys(refs)),
            clause.prerequisites if clause else (),
        )
        return found

    def _expand(self, owner: str, line: int, start: str, end: str | None) -> list[str]:
        if end is None:
            if not self._knows(start):
                self.errors.append(Issue(line, f"{owner} depends on unknown {start}", owner))
            return [start]
        if self.ranges is None:
            self.ranges = numeric_ids({*self.items, *self.lineage, *self.phases})
        expanded = expand_range(self.ranges, start, end)
        if not self._knows(start) or not self._knows(end) or not expanded:
            message = f"{owner} depends on unknown range {start}\N{EN DASH}{end}"
            self.errors.append(Issue(line, message, owner))
            return [r for r in (start, end) if self._knows(r)]
        return expanded

    def _check_self(self, owner: str, line: int, refs: list[str]) -> None:
        bare = owner.removeprefix("Phase ")
        for ref in refs:
            if ref == bare:
                message = f"{owner} depends on itself"
            elif bare.startswith(ref + "."):
                message = f"{owner} depends on {ref}, which contains it"
            elif ref.startswith(bare + "."):
                message = f"{owner} depends on its own part {ref}"
            else:
                continue
            self.errors.append(Issue(line, message, bare))

    def _owner_refs(self, owner_id: str) -> Refs:
        """The resolved clause of a container (phase, group, composite), if it has a line."""
        key = owner_id if "." in owner_id else f"Phase {owner_id}"
        state = self.states.get(key)
        if state is None:
            return (), ()
        return self._resolve(key, state.clause_line, state.clause)

    def _task_refs(self, task_id: str, state: State) -> Refs:
        """The refs of a task with its own clause, then its containers' clauses."""
        own, prereqs = self._resolve(task_id, state.clause_line, state.clause)
        refs, more = self._inherited(_parent(task_id))
        if not own and not prereqs:
            return refs, more
        return _merge(own, refs), _merge(prereqs, more)

    def _inherited(self, parent: str) -> Refs:
        """The clauses of a parent and all its containers, nearest first."""
        if (cached := self.inherited.get(parent)) is not None:
            return cached
        deps, files = self._owner_refs(parent)
        if "." in parent:
            up, more = self._inherited(_parent(parent))
            if up:
                deps = _merge(deps, up) if deps else up
            if more:
                files = _merge(files, more) if files else more
        cached = self.inherited[parent] = (deps, files)
        return cached

    def _report_cycles(self, rows: list[Row]) -> None:
        """Report one dependency cycle per strongly connected part of the graph.

        A task's edges go to its dependencies (other than itself, its containers and its
        parts); a container's edges go to the atomic tasks under it. Most lists have every
        edge pointing up the document (a container placed just after its last atomic task),
        which proves there is no cycle without looking for one.
        """
        place: dict[str, float] = {}
        for index, row in enumerate(rows):
            place[row.id] = index
            if row.type == "atomic":
                for container in self.lineage[_parent(row.id)]:
                    place[container] = index + 0.5  # after its last atomic task: edges up
        edges = ((row.id, d) for row in rows for d in row.dependencies if not related(row.id, d))
        if all(place.get(d, -1) < place[task_id] for task_id, d in edges):
            return
        graph: dict[str, list[str]] = {}
        for row in rows:
            graph[row.id] = [d for d in row.dependencies if not related(row.id, d)]
            if row.type == "atomic":
                for container in self.lineage[_parent(row.id)]:
                    graph.setdefault(container, []).append(row.id)
        lines = {item_id: node.number for item_id, node in self.items.items()}
        lines.update({phase_id: node.number for phase_id, node in self.phases.items()})
        for cycle in find_cycles(graph):
            spelled = " → ".join(f"{n} (line {lines[n]})" if n in lines else n for n in cycle)
            self.errors.append(Issue(lines.get(cycle[0], 0), f"dependency cycle: {spelled}"))

    def _groups(self, rows: list[Row]) -> list[GroupParts]:
        """The groups' members, in the order of their line (else of their first task's)."""
        members: dict[str, tuple[list[str], list[str], int]] = {
            i: ([], [], self.items[i].number) for i, kind in self.kinds.items() if kind == "group"
        }
        for row in rows:
            lineage = self.lineage[_parent(row.id)]
            if row.type != "composite" and len(lineage) >= 2:
                entry = members.setdefault(lineage[-2], ([], [], row.line))
                (entry[1] if row.type == "checkpoint" else entry[0]).append(row.id)
        return [
            GroupParts(group_id, tuple(atomic), tuple(checks), self._owner_refs(group_id))
            for group_id, (atomic, checks, _) in sorted(members.items(), key=lambda m: m[1][2])
        ]


def build_task_list(found: Scan, rules: Rules, default_criteria: Mapping[str, str]) -> TaskList:
    """Build the `TaskList` from the scanned lines (see the module docstring)."""
    criteria = MappingProxyType(dict(default_criteria))
    return _Build(found, rules, criteria, warnings=list(found.warnings)).run()
