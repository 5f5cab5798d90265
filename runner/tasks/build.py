"""Turn the scanned lines into a `TaskList`: structure, done state, dependencies, validation.

The structure comes from the ids: ``N.M`` with children is a group, an item with numeric
children is composite, a numeric leaf is atomic, a lettered item (``1.1.A``) is a checkpoint.
A done mark on a phase, group or composite line (or a ``PHASE N COMPLETED`` line, or a comment
block) makes everything under it done. Everything a task's state needs (type, status,
dependencies) and every issue is worked out here, at once; the text fields of the `Task`,
`Group` and `Phase` values are made on first access (`TaskMaker`, `_Builder.groups`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import attrs

from runner.tasks.deps import Clause, RangeIndex, find_cycles, points_backwards, related
from runner.tasks.details import TaskMaker
from runner.tasks.fields import DONE, OPEN, NodeState, criteria_of, node_state
from runner.tasks.model import Group, Issue, Phase, Record, Task, TaskList
from runner.tasks.syntax import DONE_MARKS

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["build_task_list"]

_Refs = tuple[tuple[str, ...], tuple[str, ...]]
"""Resolved references: (dependency ids, prerequisite files)."""


def _parent(task_id: str) -> str:
    return task_id.rpartition(".")[0]


def _prefixes(task_id: str) -> list[str]:
    """Return the containers of an id, nearest first: ``1.1.5.1`` -> ``1.1.5, 1.1, 1``."""
    parts = task_id.split(".")
    return [".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]


def _prefixes_of(task_id: str, memo: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """`_prefixes`, memoised: an id's containers are its parent and the parent's containers."""
    found = memo.get(task_id)
    if found is None:
        parent = task_id.rpartition(".")[0]
        found = (parent, *_prefixes_of(parent, memo)) if parent else ()
        memo[task_id] = found
    return found


@attrs.define
class _Builder:
    """The state of one build; `run` returns the `TaskList`, which keeps it as its source."""

    default_criteria: Mapping[str, str]
    requirements: Mapping[str, list[str]]
    completed_phases: set[str]
    warnings: list[Issue]
    errors: list[Issue] = attrs.Factory(list)
    phases: dict[str, Record] = attrs.Factory(dict)
    items: dict[str, Record] = attrs.Factory(dict)
    states: dict[str, NodeState] = attrs.Factory(dict)
    """The done state and clause of every item (by id) and phase (by ``Phase N``)."""
    kinds: dict[str, str] = attrs.Factory(dict)
    known: set[str] = attrs.Factory(set)
    resolved: dict[str, _Refs] = attrs.Factory(dict)
    prefixes: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    """The containers of every item id (and of every container), nearest first."""
    inherited: dict[str, _Refs] = attrs.Factory(dict)
    ranges: RangeIndex | None = None
    records: list[Record] = attrs.Factory(list)
    maker: TaskMaker | None = None

    def run(self, nodes: Iterable[Record]) -> TaskList:
        self._index(nodes)
        self._classify()
        self._tasks(self._done_containers())
        if "composite" in self.kinds.values():
            _complete_composites(self.records)
        for group_id, kind in self.kinds.items():  # the clauses of groups without tasks
            if kind == "group":
                self._owner_refs(group_id)
        for phase_id in self.phases:
            self._owner_refs(phase_id)
        if not points_backwards(self.records, self.prefixes):
            self._report_cycles(self.records)
        requirements = {k: tuple(v) for k, v in self.requirements.items()}
        self.maker = TaskMaker(
            self.items, self.phases, self.states, self.default_criteria, requirements
        )
        return TaskList(
            records=tuple(self.records),
            warnings=tuple(sorted(self.warnings, key=lambda i: i.line)),
            errors=tuple(sorted(self.errors, key=lambda i: i.line)),
            source=self,
        )

    def _index(self, nodes: Iterable[Record]) -> None:
        phases, items, states = self.phases, self.items, self.states
        for node in nodes:
            node_id = node.id
            if node.kind == "item":
                if node_id not in items:
                    items[node_id] = node
                    text = node.text
                    if (
                        node.extra is None
                        and node.box is None
                        and ("(" not in text or ":" not in text)
                    ):
                        # `node_state` of a plain line without a clause, inline (most lines)
                        done = (
                            node.lead_done or node.commented or text.rstrip().endswith(DONE_MARKS)
                        )
                        states[node_id] = DONE if done else OPEN
                    else:
                        states[node_id] = node_state(node)
                    continue
                first, label = items[node_id], node_id
            else:
                if node_id not in phases:
                    phases[node_id] = node
                    states[f"Phase {node_id}"] = node_state(node)
                    continue
                first, label = phases[node_id], f"Phase {node_id}"
            self.errors.append(
                Issue(
                    node.line,
                    f"duplicate id {label} (first at line {first.line}); this line is ignored",
                    node_id,
                )
            )

    def _classify(self) -> None:
        items = self.items
        parent_ids = [i.rpartition(".")[0] for i in items]
        letters = [i[-1].isalpha() for i in items]
        parents = {p for p, letter in zip(parent_ids, letters, strict=True) if not letter}
        lettered = {p for p, letter in zip(parent_ids, letters, strict=True) if letter}
        kinds = self.kinds
        prefixes = self.prefixes
        for task_id, parent, letter in zip(items, parent_ids, letters, strict=True):
            if letter:
                kinds[task_id] = "checkpoint"
            elif task_id.count(".") == 1:
                kinds[task_id] = "group" if task_id in parents or task_id in lettered else "atomic"
            else:
                kinds[task_id] = "composite" if task_id in parents else "atomic"
            up = prefixes.get(parent)
            if up is None:
                _prefixes_of(task_id, prefixes)
            else:
                prefixes[task_id] = (parent, *up)
        # every item id and every container of one is a key of the memo
        self.known = set(prefixes)
        self.known.update(self.phases)

    def _range_index(self) -> RangeIndex:
        """The range index over the known ids, built on the first range met."""
        if self.ranges is None:
            self.ranges = RangeIndex.of(self.known)
        return self.ranges

    def _done_containers(self) -> set[str]:
        done = set(self.completed_phases)
        for phase_id in self.phases:
            if self.states[f"Phase {phase_id}"].done:
                done.add(phase_id)
        for task_id, kind in self.kinds.items():
            if kind in ("group", "composite") and self.states[task_id].done:
                done.add(task_id)
        return done

    def _resolve(self, owner: str, line: int, clause: Clause | None) -> _Refs:
        """Resolve an owner's clause once: (dependency ids, prerequisite files)."""
        if owner in self.resolved:
            return self.resolved[owner]
        refs: list[str] = []
        if clause is not None:
            for item in clause.unparsed:
                self.warnings.append(
                    Issue(line, f"dependency '{item}' of {owner} is not a task reference", owner)
                )
            for start, end in clause.refs:
                refs.extend(self._expand(owner, line, start, end))
            self._check_self(owner, line, refs)
        result = (tuple(dict.fromkeys(refs)), clause.prerequisites if clause else ())
        self.resolved[owner] = result
        return result

    def _expand(self, owner: str, line: int, start: str, end: str | None) -> list[str]:
        if end is None:
            if start in self.known:
                return [start]
            self.errors.append(Issue(line, f"{owner} depends on unknown {start}", owner))
            return [start]
        expanded = self._range_index().expand(start, end)
        if start not in self.known or end not in self.known or not expanded:
            self.errors.append(
                Issue(line, f"{owner} depends on unknown range {start}\N{EN DASH}{end}", owner)
            )
            return [r for r in (start, end) if r in self.known]
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

    def _owner_refs(self, owner_id: str) -> _Refs:
        """The resolved clause of a container (phase, group, composite), if it has a line."""
        key = owner_id if "." in owner_id else f"Phase {owner_id}"
        state = self.states.get(key)
        if state is None:
            return (), ()
        return self._resolve(key, state.clause_line, state.clause)

    def _tasks(self, done_containers: set[str]) -> None:
        """Work out every task's type, dependencies and status, in document order."""
        previous: dict[str, str] = {}
        kinds, states, prefixes, inherited = self.kinds, self.states, self.prefixes, self.inherited
        append = self.records.append
        # (scope, done by a container) of every parent: both follow from the parent's containers
        by_parent: dict[str, tuple[str, bool]] = {}
        for task_id, node in self.items.items():
            kind = kinds[task_id]
            if kind == "group":
                continue
            state = states[task_id]
            containers = prefixes[task_id]
            parent = containers[0]
            found = by_parent.get(parent)
            if found is None:
                found = by_parent[parent] = (
                    containers[-2] if len(containers) >= 2 else containers[-1],
                    bool(done_containers) and not done_containers.isdisjoint(containers),
                )
            scope, container_done = found
            if kind == "checkpoint" or state.clause is not None:
                deps, prereqs = self._task_refs(task_id, kind, state, None)
            else:  # the common case: the previous sibling and the containers' clauses
                deps, prereqs = inherited.get(parent) or self._inherited_refs(parent)
                before = previous.get(scope)
                if before is not None:  # the inherited ids are without repeats already
                    if before in deps:
                        deps = (before, *(d for d in deps if d != before))
                    else:
                        deps = (before, *deps)
            if kind == "atomic":
                previous[scope] = task_id
            done = state.done or container_done
            status = "pending"
            if node.extra is not None:
                self._check_fields(node, kind)
                status = node.extra.fields.get("status", "pending")
            if done:
                status = "completed"
            elif status == "completed":
                status = "pending"
            node.type, node.status = kind, status
            node.dependencies, node.prerequisites = deps, prereqs
            append(node)

    def _check_fields(self, node: Record, kind: str) -> None:
        """Warn about a declared type that is not the task's and criteria without pairs."""
        declared = node.fields().get("type", "").lower()
        if declared and declared != kind:
            self.warnings.append(
                Issue(node.line, f"{node.id} is declared {declared} but is {kind}", node.id)
            )
        criteria_of(node, self.default_criteria, self.warnings)

    def _task_refs(self, task_id: str, kind: str, state: NodeState, previous: str | None) -> _Refs:
        own: tuple[str, ...]
        prereqs: tuple[str, ...]
        if kind == "checkpoint":
            own, prereqs = (_parent(task_id),), ()
        elif state.clause is not None:
            own, prereqs = self._resolve(task_id, state.clause_line, state.clause)
        else:
            own, prereqs = ((previous,) if previous else ()), ()
        refs, more = self._inherited_refs(_parent(task_id))
        if not own and not prereqs:
            return refs, more
        return tuple(dict.fromkeys((*own, *refs))), tuple(dict.fromkeys((*prereqs, *more)))

    def _inherited_refs(self, parent: str) -> _Refs:
        """The clauses of a parent and all its containers, nearest first (cached per parent)."""
        cached = self.inherited.get(parent)
        if cached is None:
            deps, files = self._owner_refs(parent)
            if "." in parent:
                up, more = self._inherited_refs(_parent(parent))
                deps, files = (*deps, *up), (*files, *more)
            cached = (tuple(dict.fromkeys(deps)), tuple(dict.fromkeys(files)))
            self.inherited[parent] = cached
        return cached

    def make_task(self, record: Record) -> Task:
        """Make the `Task` of a built record (`TaskSource`)."""
        assert self.maker is not None  # set by run
        return self.maker.task(record)

    def make_groups(self) -> tuple[Group, ...]:
        """Make the groups in the order of their first line (`TaskSource`)."""
        assert self.maker is not None  # set by run
        members: dict[str, tuple[list[str], list[str], int]] = {}
        for task_id, kind in self.kinds.items():
            if kind == "group":
                members[task_id] = ([], [], self.items[task_id].line)
        for record in self.records:
            kind = record.type
            if kind in ("atomic", "checkpoint") and record.id.count(".") >= 2:
                group_id = self.prefixes[record.id][-2]
                atomic, checkpoints, _ = members.setdefault(group_id, ([], [], record.line))
                (atomic if kind == "atomic" else checkpoints).append(record.id)
        groups = []
        for group_id, (atomic, checkpoints, first_line) in members.items():
            node = self.items.get(group_id)
            refs, prereqs = self._owner_refs(group_id)
            group = Group(
                id=group_id,
                title=self.maker.text(node).title if node else "",
                line=node.line if node else None,
                dependencies=refs,
                prerequisites=prereqs,
                tasks=tuple(atomic),
                checkpoints=tuple(checkpoints),
                requirements=tuple(self.requirements.get(group_id, ())),
                phase=int(group_id.split(".")[0]),
            )
            groups.append((first_line, group))
        return tuple(group for _, group in sorted(groups, key=lambda pair: pair[0]))

    def make_phases(self) -> tuple[Phase, ...]:
        """Make the phases in document order (`TaskSource`)."""
        return tuple(self._phase(node) for node in self.phases.values())

    def containers(self) -> frozenset[str]:
        """The ids of groups and phases, and the phase part of every task id (`TaskSource`)."""
        # Read from the distinct parents: an id's phase part is its parent's, and the group part
        # of an id with two dots or more is the first two parts of its parent (a composite's
        # group is that of its parts, which are records too).
        parents = {r.id.rpartition(".")[0] for r in self.records}
        found = {p.split(".", 1)[0] for p in parents if p}
        if "" in parents:
            found.update(r.id for r in self.records if "." not in r.id)
        found.update(".".join(p.split(".", 2)[:2]) for p in parents if "." in p)
        found.update(k for k, kind in self.kinds.items() if kind == "group")
        found.update(self.phases)
        return frozenset(found)

    def _phase(self, node: Record) -> Phase:
        assert self.maker is not None  # set by run
        refs, prereqs = self._owner_refs(node.id)
        return Phase(
            id=node.id,
            title=self.maker.text(node).title,
            line=node.line,
            dependencies=refs,
            prerequisites=prereqs,
            completed=self.states[f"Phase {node.id}"].done or node.id in self.completed_phases,
        )

    def _report_cycles(self, tasks: list[Record]) -> None:
        """Build the whole graph and report one cycle per strongly connected component."""
        graph: dict[str, list[str]] = {}
        for task in tasks:
            graph[task.id] = [d for d in task.dependencies if not related(task.id, d)]
            if task.type == "atomic":
                for container in self.prefixes[task.id]:
                    graph.setdefault(container, []).append(task.id)
        lines = {**{t.id: t.line for t in tasks}, **{k: n.line for k, n in self.items.items()}}
        lines.update({k: n.line for k, n in self.phases.items()})
        for cycle in find_cycles(graph):
            spelled = " → ".join(
                f"{node} (line {lines[node]})" if node in lines else node for node in cycle
            )
            self.errors.append(Issue(lines.get(cycle[0], 0), f"dependency cycle: {spelled}"))


def _complete_composites(records: list[Record]) -> None:
    """Give each composite task the done state of its parts (done when all of them are)."""
    open_parts = {
        _parent(r.id)
        for r in records
        if r.type == "atomic" and r.status != "completed" and r.status != "cancelled"
    }
    for container in list(open_parts):
        open_parts.update(_prefixes(container))
    for record in records:
        if record.type == "composite" and record.id not in open_parts:
            record.status = "completed"


def build_task_list(
    nodes: Iterable[Record],
    *,
    requirements: Mapping[str, list[str]],
    completed_phases: set[str],
    warnings: list[Issue],
    default_criteria: Mapping[str, str],
) -> TaskList:
    """Build the `TaskList` from the scanner's nodes (see the module docstring)."""
    builder = _Builder(
        default_criteria=MappingProxyType(dict(default_criteria)),
        requirements=requirements,
        completed_phases=completed_phases,
        warnings=list(warnings),
    )
    return builder.run(nodes)
