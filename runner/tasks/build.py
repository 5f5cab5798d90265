"""Turn the scanned lines into a `TaskList`: structure, done state, dependencies, validation.

The structure comes from the ids: ``N.M`` with children is a group, an item with numeric
children is composite, a numeric leaf is atomic, a lettered item (``1.1.A``) is a checkpoint.
A done mark on a phase, group or composite line (or a ``PHASE N COMPLETED`` line, or a comment
block) makes everything under it done.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

import attrs

from runner.tasks.deps import Clause, RangeIndex, find_cycles, points_backwards, related
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


def _prefixes_of(task_id: str, memo: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """`_prefixes`, memoised: an id's containers are its parent and the parent's containers."""
    found = memo.get(task_id)
    if found is None:
        parent = task_id.rpartition(".")[0]
        found = (parent, *_prefixes_of(parent, memo)) if parent else ()
        memo[task_id] = found
    return found


class _Context(NamedTuple):
    """Where a task sits, worked out once per task by `_Builder._tasks`."""

    kind: str
    group_key: str
    """The first two parts of the id (the group's id when the task is in a group)."""
    in_group: bool
    phase: int
    done: bool


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
    prefixes: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    """The containers of every item id (and of every container), nearest first."""
    inherited: dict[str, tuple[list[str], list[str]]] = attrs.Factory(dict)
    ranges: RangeIndex | None = None
    requirement_tuples: dict[str, tuple[str, ...]] = attrs.Factory(dict)

    def run(self, nodes: Iterable[RawNode]) -> TaskList:
        self.requirement_tuples = {k: tuple(v) for k, v in self.requirements.items()}
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
        parents: set[str] = set()
        lettered: set[str] = set()
        for task_id in self.items:
            (lettered if task_id[-1].isalpha() else parents).add(_parent(task_id))
        kinds = self.kinds
        for task_id in self.items:
            if task_id[-1].isalpha():
                kind = "checkpoint"
            elif task_id.count(".") == 1:
                kind = "group" if task_id in parents or task_id in lettered else "atomic"
            else:
                kind = "composite" if task_id in parents else "atomic"
            kinds[task_id] = kind
        prefixes = self.prefixes
        for task_id in self.items:
            _prefixes_of(task_id, prefixes)
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
        composite_files: dict[str, tuple[str, ...]] = {}
        kinds, texts, prefixes = self.kinds, self.texts, self.prefixes
        for task_id, node in self.items.items():
            kind = kinds[task_id]
            if kind == "group":
                continue
            text = texts[task_id]
            parts = task_id.split(".")
            group_key = f"{parts[0]}.{parts[1]}"
            scope = group_key if len(parts) >= 3 else parts[0]
            deps, prereqs = self._task_refs(task_id, kind, text, previous.get(scope))
            if kind == "atomic":
                previous[scope] = task_id
            done = text.done or not done_containers.isdisjoint(prefixes[task_id])
            files = tuple(resolver.resolve(files_of(node, text)))
            if not files and kind == "atomic" and len(parts) >= 4:
                # a composite's parts work on the composite's files unless they name their own
                files = composite_files.get(_parent(task_id), ())
            elif kind == "composite":
                composite_files[task_id] = files
            context = _Context(kind, group_key, len(parts) > 2, int(parts[0]), done)
            tasks.append(self._task(node, text, context, deps, prereqs, files))
        return _complete_composites(tasks) if "composite" in kinds.values() else tasks

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
        context: _Context,
        deps: list[str],
        prereqs: list[str],
        files: tuple[str, ...],
    ) -> Task:
        kind = context.kind
        declared = node.fields.get("type", "").lower()
        if declared and declared != kind:
            self.warnings.append(
                Issue(node.line, f"{node.id} is declared {declared} but is {kind}", node.id)
            )
        status = "completed" if context.done else node.fields.get("status", "pending")
        if status == "completed" and not context.done:
            status = "pending"
        criteria = criteria_of(node, self.default_criteria, self.warnings)
        return Task(
            id=node.id,
            title=text.title,
            description=text.description,
            type=kind,
            dependencies=tuple(deps),
            files=files,
            criteria=criteria,
            requirements=self.requirement_tuples.get(context.group_key, ()),
            prerequisites=tuple(prereqs),
            line=node.line,
            group=context.group_key if context.in_group else None,
            phase=context.phase,
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
        if not points_backwards(tasks, self.prefixes):
            self._report_cycles(tasks)

    def _report_cycles(self, tasks: list[Task]) -> None:
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
        default_criteria=MappingProxyType(dict(default_criteria)),
        requirements=requirements,
        completed_phases=completed_phases,
        warnings=list(warnings),
    )
    return builder.run(nodes)
