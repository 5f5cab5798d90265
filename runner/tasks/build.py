"""Turn the scanned lines into a `TaskList`: structure, done state, dependencies, validation.

The structure comes from the ids: ``N.M`` with children is a group, an item with numeric
children is composite, a numeric leaf is atomic, a lettered item (``1.1.A``) is a checkpoint.
A done mark on a phase, group or composite line (or a ``PHASE N COMPLETED`` line, or a comment
block) makes everything under it done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from runner.tasks.deps import Clause, RangeIndex, find_cycles
from runner.tasks.fields import (
    FileResolver,
    NodeText,
    criteria_of,
    files_of,
    node_text,
)
from runner.tasks.model import Group, Issue, Phase, Task, TaskList

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["RawNode", "build_task_list"]


@attrs.define
class RawNode:
    """One numbered line as the scanner saw it, with the fields that followed it."""

    kind: str
    """``phase`` or ``item``."""
    id: str
    text: str
    line: int
    style: str
    box: str | None = None
    lead_done: bool = False
    commented: bool = False
    fields: dict[str, str] = attrs.Factory(dict)
    lists: dict[str, list[str]] = attrs.Factory(dict)
    list_lines: dict[str, int] = attrs.Factory(dict)
    status_line: int | None = None


def _parent(task_id: str) -> str:
    return task_id.rpartition(".")[0]


def _prefixes(task_id: str) -> list[str]:
    """Return the containers of an id, nearest first: ``1.1.5.1`` -> ``1.1.5, 1.1, 1``."""
    parts = task_id.split(".")
    return [".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]


def _group_key(task_id: str) -> str:
    return ".".join(task_id.split(".")[:2])


@attrs.define
class _Builder:
    """The state of one build; `run` returns the finished `TaskList`."""

    default_criteria: Mapping[str, str]
    requirements: Mapping[str, list[str]]
    completed_phases: set[str]
    warnings: list[Issue]
    errors: list[Issue] = attrs.Factory(list)
    phases: dict[str, RawNode] = attrs.Factory(dict)
    items: dict[str, RawNode] = attrs.Factory(dict)
    texts: dict[str, NodeText] = attrs.Factory(dict)
    kinds: dict[str, str] = attrs.Factory(dict)
    known: set[str] = attrs.Factory(set)
    resolved: dict[str, tuple[list[str], list[str]]] = attrs.Factory(dict)
    prefixes: dict[str, list[str]] = attrs.Factory(dict)
    inherited: dict[str, tuple[list[str], list[str]]] = attrs.Factory(dict)
    ranges: RangeIndex | None = None

    def run(self, nodes: Iterable[RawNode]) -> TaskList:
        self._index(nodes)
        self._classify()
        done_containers = self._done_containers()
        resolver = FileResolver.of(self.texts.values())
        tasks = self._tasks(done_containers, resolver)
        groups = self._groups(tasks)
        phases = tuple(self._phase(node) for node in self.phases.values())
        self._check_cycles(tasks)
        return TaskList(
            tasks=tuple(tasks),
            groups=groups,
            phases=phases,
            warnings=tuple(sorted(self.warnings, key=lambda i: i.line)),
            errors=tuple(sorted(self.errors, key=lambda i: i.line)),
        )

    def _index(self, nodes: Iterable[RawNode]) -> None:
        for node in nodes:
            table = self.phases if node.kind == "phase" else self.items
            first = table.get(node.id)
            if first is not None:
                label = f"Phase {node.id}" if node.kind == "phase" else node.id
                self.errors.append(
                    Issue(
                        node.line,
                        f"duplicate id {label} (first at line {first.line}); this line is ignored",
                        node.id,
                    )
                )
                continue
            table[node.id] = node
            self.texts[node.id if node.kind == "item" else f"Phase {node.id}"] = node_text(node)

    def _classify(self) -> None:
        parents = {_parent(i) for i in self.items if not i[-1].isalpha()}
        lettered = {_parent(i) for i in self.items if i[-1].isalpha()}
        for task_id in self.items:
            depth = task_id.count(".") + 1
            if task_id[-1].isalpha():
                kind = "checkpoint"
            elif depth == 2:
                kind = "group" if task_id in parents or task_id in lettered else "atomic"
            else:
                kind = "composite" if task_id in parents else "atomic"
            self.kinds[task_id] = kind
        self.known = set(self.items) | set(self.phases)
        for task_id in self.items:
            self.prefixes[task_id] = prefixes = _prefixes(task_id)
            self.known.update(prefixes)
        self.ranges = RangeIndex.of(self.known)

    def _done_containers(self) -> set[str]:
        done = set(self.completed_phases)
        for phase_id in self.phases:
            if self.texts[f"Phase {phase_id}"].done:
                done.add(phase_id)
        for task_id, kind in self.kinds.items():
            if kind in ("group", "composite") and self.texts[task_id].done:
                done.add(task_id)
        return done

    def _resolve(self, owner: str, line: int, clause: Clause | None) -> tuple[list[str], list[str]]:
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
        result = (list(dict.fromkeys(refs)), list(clause.prerequisites) if clause else [])
        self.resolved[owner] = result
        return result

    def _expand(self, owner: str, line: int, start: str, end: str | None) -> list[str]:
        assert self.ranges is not None  # set by _classify
        if end is None:
            if start in self.known:
                return [start]
            self.errors.append(Issue(line, f"{owner} depends on unknown {start}", owner))
            return [start]
        expanded = self.ranges.expand(start, end)
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

    def _owner_refs(self, owner_id: str) -> tuple[list[str], list[str]]:
        """The resolved clause of a container (phase, group, composite), if it has a line."""
        key = owner_id if "." in owner_id else f"Phase {owner_id}"
        text = self.texts.get(key)
        if text is None:
            return [], []
        return self._resolve(key, text.clause_line, text.clause)

    def _tasks(self, done_containers: set[str], resolver: FileResolver) -> list[Task]:
        tasks: list[Task] = []
        previous: dict[str, str] = {}
        files: dict[str, tuple[str, ...]] = {}
        for task_id, node in self.items.items():
            kind = self.kinds[task_id]
            if kind == "group":
                continue
            text = self.texts[task_id]
            scope = _group_key(task_id) if task_id.count(".") >= 2 else task_id.split(".")[0]
            deps, prereqs = self._task_refs(task_id, kind, text, previous.get(scope))
            if kind == "atomic":
                previous[scope] = task_id
            done = text.done or any(p in done_containers for p in self.prefixes[task_id])
            task = self._task(node, text, kind, deps, prereqs, done, resolver)
            if not task.files and kind == "atomic" and task_id.count(".") >= 3:
                # a composite's parts work on the composite's files unless they name their own
                parent = files.get(_parent(task_id), ())
                task = attrs.evolve(task, files=parent) if parent else task
            files[task_id] = task.files
            tasks.append(task)
        return _complete_composites(tasks)

    def _task_refs(
        self, task_id: str, kind: str, text: NodeText, previous: str | None
    ) -> tuple[list[str], list[str]]:
        own: list[str]
        prereqs: list[str]
        if kind == "checkpoint":
            own, prereqs = [_parent(task_id)], []
        elif text.clause is not None:
            own, prereqs = self._resolve(task_id, text.clause_line, text.clause)
        else:
            own, prereqs = ([previous] if previous else []), []
        refs, more = self._inherited_refs(_parent(task_id))
        if not own and not prereqs:
            return refs, more
        return list(dict.fromkeys([*own, *refs])), list(dict.fromkeys([*prereqs, *more]))

    def _inherited_refs(self, parent: str) -> tuple[list[str], list[str]]:
        """The clauses of a parent and all its containers, nearest first (cached per parent)."""
        cached = self.inherited.get(parent)
        if cached is None:
            deps, files = self._owner_refs(parent)
            if "." in parent:
                up, more = self._inherited_refs(_parent(parent))
                deps, files = [*deps, *up], [*files, *more]
            cached = (list(dict.fromkeys(deps)), list(dict.fromkeys(files)))
            self.inherited[parent] = cached
        return cached

    def _task(
        self,
        node: RawNode,
        text: NodeText,
        kind: str,
        deps: list[str],
        prereqs: list[str],
        done: bool,
        resolver: FileResolver,
    ) -> Task:
        declared = node.fields.get("type", "").lower()
        if declared and declared != kind:
            self.warnings.append(
                Issue(node.line, f"{node.id} is declared {declared} but is {kind}", node.id)
            )
        status = "completed" if done else node.fields.get("status", "pending")
        if status == "completed" and not done:
            status = "pending"
        criteria = criteria_of(node, self.default_criteria, self.warnings)
        parts = node.id.split(".")
        return Task(
            id=node.id,
            title=text.title,
            description=text.description,
            type=kind,
            dependencies=tuple(deps),
            files=tuple(resolver.resolve(files_of(node, text))),
            criteria=criteria,
            requirements=tuple(self.requirements.get(_group_key(node.id), ())),
            prerequisites=tuple(prereqs),
            line=node.line,
            group=_group_key(node.id) if len(parts) > 2 else None,
            phase=int(parts[0]),
            status=status,
            style="field" if node.status_line is not None else node.style,
            status_line=node.status_line,
        )

    def _groups(self, tasks: list[Task]) -> tuple[Group, ...]:
        members: dict[str, tuple[list[str], list[str], int]] = {}
        for task_id, kind in self.kinds.items():
            if kind == "group":
                members[task_id] = ([], [], self.items[task_id].line)
        for task in tasks:
            if task.group is not None and task.type in ("atomic", "checkpoint"):
                atomic, checkpoints, _ = members.setdefault(task.group, ([], [], task.line))
                (atomic if task.type == "atomic" else checkpoints).append(task.id)
        groups = []
        for group_id, (atomic, checkpoints, first_line) in members.items():
            node = self.items.get(group_id)
            refs, prereqs = self._owner_refs(group_id)
            group = Group(
                id=group_id,
                title=self.texts[group_id].title if node else "",
                line=node.line if node else None,
                dependencies=tuple(refs),
                prerequisites=tuple(prereqs),
                tasks=tuple(atomic),
                checkpoints=tuple(checkpoints),
                requirements=tuple(self.requirements.get(group_id, ())),
                phase=int(group_id.split(".")[0]),
            )
            groups.append((first_line, group))
        return tuple(group for _, group in sorted(groups, key=lambda pair: pair[0]))

    def _phase(self, node: RawNode) -> Phase:
        text = self.texts[f"Phase {node.id}"]
        refs, prereqs = self._owner_refs(node.id)
        return Phase(
            id=node.id,
            title=text.title,
            line=node.line,
            dependencies=tuple(refs),
            prerequisites=tuple(prereqs),
            completed=text.done or node.id in self.completed_phases,
        )

    def _check_cycles(self, tasks: list[Task]) -> None:
        position = {t.id: i for i, t in enumerate(tasks)}
        last: dict[str, int] = {}
        graph: dict[str, list[str]] = {}
        for i, task in enumerate(tasks):
            graph[task.id] = [d for d in task.dependencies if not _related(task.id, d)]
            if task.type == "atomic":
                for container in self.prefixes[task.id]:
                    last[container] = i
                    graph.setdefault(container, []).append(task.id)
        backwards = all(
            last.get(dep, position.get(dep, -1)) < i
            for i, task in enumerate(tasks)
            for dep in graph[task.id]
        )
        if backwards:  # every edge points up the document: no cycle is possible
            return
        lines = {**{t.id: t.line for t in tasks}, **{k: n.line for k, n in self.items.items()}}
        lines.update({k: n.line for k, n in self.phases.items()})
        for cycle in find_cycles(graph):
            spelled = " → ".join(
                f"{node} (line {lines[node]})" if node in lines else node for node in cycle
            )
            self.errors.append(Issue(lines.get(cycle[0], 0), f"dependency cycle: {spelled}"))


def _complete_composites(tasks: list[Task]) -> list[Task]:
    """Give each composite task the done state of its parts (done when all of them are)."""
    open_parts = {_parent(t.id) for t in tasks if t.type == "atomic" and not _closed(t)}
    for container in list(open_parts):
        open_parts.update(_prefixes(container))
    return [
        attrs.evolve(t, status="completed")
        if t.type == "composite" and t.id not in open_parts and not t.done
        else t
        for t in tasks
    ]


def _closed(task: Task) -> bool:
    return task.done or task.status == "cancelled"


def _related(task_id: str, ref: str) -> bool:
    """Whether ``ref`` is the task itself, contains it, or is part of it (reported apart)."""
    return ref == task_id or task_id.startswith(ref + ".") or ref.startswith(task_id + ".")


def build_task_list(
    nodes: Iterable[RawNode],
    *,
    requirements: Mapping[str, list[str]],
    completed_phases: set[str],
    warnings: list[Issue],
    default_criteria: Mapping[str, str],
) -> TaskList:
    """Build the `TaskList` from the scanner's nodes (see the module docstring)."""
    builder = _Builder(
        default_criteria=default_criteria,
        requirements=requirements,
        completed_phases=completed_phases,
        warnings=list(warnings),
    )
    return builder.run(nodes)
