"""Dependency clauses: reading them, expanding ranges, and finding cycles.

A clause is the content of ``(Dependencies: …)`` or of a ``**Dependencies**:`` field. Its items
are task references (``1.1.1``, ``1.3 Services``, ``Phase 1 complete``, ``[1.1, 1.2]``, ranges
``1.1-1.10`` with a hyphen or an en dash) and file links, which are prerequisites, not tasks.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

import attrs

from runner.tasks.syntax import link_targets, remove_links

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from runner.tasks.table import TaskTable

__all__ = [
    "Clause",
    "RangeIndex",
    "dependency_graph",
    "find_cycles",
    "id_key",
    "last_atomic",
    "parse_clause",
    "parse_clause_text",
    "points_backwards",
    "related",
]

_REF = r"\d+(?:\.\d+)*(?:\.[A-Za-z])?"
_ITEM_RE = re.compile(
    rf"(?:(?:phase|task|group|step)\s+)?(?P<start>{_REF})(?![\d])"
    rf"(?:\s*[\u2013\u2014-]\s*(?:(?:phase|task|group|step)\s+)?(?P<end>{_REF})(?![\d]))?",
    re.IGNORECASE,
)
_LONE_REF_RE = re.compile(
    rf"\s*(?:(?:phase|task|group|step)\s+)?(?P<start>{_REF})(?![\d])[^\u2013\u2014,;&`\[\]-]*",
    re.IGNORECASE,
)
"""A clause that is one reference and words (no link, bracket, code, range or separator);
``and`` is looked for apart. `parse_clause` reads it as its one item's `_ITEM_RE` start."""
_ANY_ID_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)+(?![\w.]*\w)")
_SPLIT_RE = re.compile(r"\s*(?:[,;]|\band\b|&)\s*", re.IGNORECASE)
_EMPTY = frozenset({"", "none", "n/a", "na", "-", "\u2014", "\u2013", "nil", "null", "tbd"})


class Clause(NamedTuple):
    """A dependency clause read: references, file prerequisites and items not understood.

    A named tuple rather than an attrs value: one is made per clause of a long list.
    """

    refs: tuple[tuple[str, str | None], ...]
    """``(start, end)`` pairs; ``end`` is ``None`` unless the item is a range."""
    prerequisites: tuple[str, ...]
    unparsed: tuple[str, ...]


def parse_clause(items: Iterable[str]) -> Clause:
    """Read the items of a dependency clause (one or more pieces of text)."""
    refs: list[tuple[str, str | None]] = []
    prerequisites: list[str] = []
    unparsed: list[str] = []
    for text in items:
        if "[" in text or "]" in text or "`" in text:  # links, brackets or code spans
            prerequisites.extend(link_targets(text))
            rest = remove_links(text).replace("[", " ").replace("]", " ").replace("`", " ")
            rest = rest.strip()
        else:  # the common case: nothing to remove
            rest = text.strip()
        for raw in _SPLIT_RE.split(rest) if _may_split(rest) else (rest,):
            item = raw.strip(" .()")
            if item.lower() in _EMPTY:
                continue
            m = _ITEM_RE.match(item)
            if m is not None:
                refs.append((m["start"], m["end"]))
                continue
            found = _ANY_ID_RE.findall(item)
            if found:
                refs.extend((ref, None) for ref in found)
            else:
                unparsed.append(item)
    return Clause(tuple(refs), tuple(prerequisites), tuple(unparsed))


def parse_clause_text(text: str) -> Clause:
    """`parse_clause` of one piece of text; a lone reference (``1.2 Setup``) is read at once."""
    m = _LONE_REF_RE.fullmatch(text)
    if m is None or "and" in text.lower():
        return parse_clause([text])
    return Clause(((m["start"], None),), (), ())


def _may_split(text: str) -> bool:
    """Whether `_SPLIT_RE` can split ``text`` (most clauses name one reference)."""
    return "," in text or ";" in text or "&" in text or "and" in text.lower()


def id_key(task_id: str) -> tuple[int, ...]:
    """Return the numeric sort key of a numeric id (``"1.10"`` -> ``(1, 10)``)."""
    return tuple(int(part) for part in task_id.split("."))


@attrs.frozen
class RangeIndex:
    """The known numeric ids, by depth and in numeric order, to expand ranges against."""

    _by_depth: Mapping[int, tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]]

    @classmethod
    def of(cls, ids: Iterable[str]) -> RangeIndex:
        """Index the numeric ids among ``ids`` (lettered ones cannot be range ends)."""
        by_depth: dict[int, list[tuple[tuple[int, ...], str]]] = {}
        for task_id in ids:
            if task_id.replace(".", "").isdigit():
                key = id_key(task_id)
                by_depth.setdefault(len(key), []).append((key, task_id))
        index = {}
        for depth, pairs in by_depth.items():
            pairs.sort()
            index[depth] = (tuple(k for k, _ in pairs), tuple(i for _, i in pairs))
        return cls(index)

    def expand(self, start: str, end: str) -> list[str]:
        """Return the known ids from ``start`` to ``end`` inclusive (same depth), else ``[]``."""
        if not (start.replace(".", "").isdigit() and end.replace(".", "").isdigit()):
            return []
        low, high = id_key(start), id_key(end)
        if len(low) != len(high) or low > high or len(low) not in self._by_depth:
            return []
        keys, ids = self._by_depth[len(low)]
        return list(ids[bisect.bisect_left(keys, low) : bisect.bisect_right(keys, high)])


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Return one cycle (as a closed path ``[a, b, …, a]``) per strongly connected component.

    Iterative Tarjan, so deep lists do not hit the recursion limit; nodes are visited in the
    mapping's order, which makes the answer deterministic.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            edges = graph.get(node, ())
            if i < len(edges):
                work.append((node, i + 1))
                succ = edges[i]
                if succ not in index:
                    work.append((succ, 0))
                elif succ in on_stack:
                    low[node] = min(low[node], index[succ])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    components.append(component)
    order = {node: i for i, node in enumerate(graph)}
    cycles = [_cycle_in(graph, set(c), min(c, key=order.__getitem__)) for c in components]
    return sorted(cycles, key=lambda cycle: order[cycle[0]])


def _cycle_in(graph: Mapping[str, Sequence[str]], members: set[str], start: str) -> list[str]:
    """Find a shortest cycle from ``start`` back to itself inside the component (BFS)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in graph.get(node, ()):
                if succ not in members:
                    continue
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if succ not in parents:
                    parents[succ] = node
                    following.append(succ)
        frontier = following
    return [start, start]


def dependency_graph(
    table: TaskTable, lineage: Mapping[str, tuple[str, ...]]
) -> dict[str, list[str]]:
    """The whole dependency graph: each task's edges to its dependencies (other than itself,
    its containers and its parts), and each container's edges to its atomic tasks."""
    graph: dict[str, list[str]] = {}
    for index, (task_id, kind, parent) in enumerate(
        zip(table.ids, table.types, table.parents, strict=True)
    ):
        deps = table.dependencies(index)
        graph[task_id] = [d for d in deps if not related(task_id, d)]
        if kind == "atomic":
            for container in lineage[parent]:
                graph.setdefault(container, []).append(task_id)
    return graph


def last_atomic(table: TaskTable, lineage: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """The index of the last atomic task under each container that has some."""
    # the last atomic task under each parent (a later entry of a key wins), then under each
    # container: the last of its parents'
    atomic = map(operator.eq, table.types, itertools.repeat("atomic"))
    last_under = dict(itertools.compress(zip(table.parents, itertools.count()), atomic))
    last: dict[str, int] = {}
    for parent, index in last_under.items():
        for container in lineage[parent]:
            if last.get(container, -1) < index:
                last[container] = index
    return last


def points_backwards(table: TaskTable, by_id: Mapping[str, int], last: Mapping[str, int]) -> bool:
    """Whether every edge of the dependency graph points up the document (so it has no cycle).

    A task's edges go to its dependencies (other than itself, its containers and its parts)
    and, for a composite, to its atomic parts; a container counts at its last atomic task
    (``last``: `last_atomic`). ``by_id`` holds the index of every task in the table. Each kind
    of edge is looked at over whole columns, with built-ins, and one by one only where one may
    point down.
    """
    ids, types = table.ids, table.types
    where = dict(by_id)
    where.update(last)  # a container counts at its last atomic task
    get = where.get
    composites = map(operator.eq, types, itertools.repeat("composite"))
    for i in itertools.compress(itertools.count(), composites):
        if get(ids[i], -1) > i:  # a composite before a part
            return False
    leads = table.leads
    lead_at = map(get, leads, itertools.repeat(-1))
    for i in itertools.compress(itertools.count(), map(operator.ge, lead_at, itertools.count())):
        if leads[i] and not related(ids[i], leads[i]):
            return False
    return _rests_point_backwards(table, get)


def _rests_point_backwards(table: TaskTable, get: Callable[[str, int], int]) -> bool:
    """The rests' part of `points_backwards`; ``get`` gives where an id counts, else -1.

    A run's rest whose refs all come before the run's first task (`TaskTable.run_starts`)
    points up for each of its tasks; if some rest does not, the tasks are looked at one by one.
    """
    if all(
        max(map(get, rest, itertools.repeat(-1))) < start
        for start, rest in zip(table.run_starts, table.run_rests, strict=True)
        if rest
    ):
        return True
    ids = table.ids
    for tasks, rest in table.runs():
        for i in tasks:
            if any(get(d, -1) >= i and not related(ids[i], d) for d in rest):
                return False
    return True


def related(task_id: str, ref: str) -> bool:
    """Whether ``ref`` is the task itself, contains it, or is part of it (reported apart)."""
    return ref == task_id or task_id.startswith(ref + ".") or ref.startswith(task_id + ".")
