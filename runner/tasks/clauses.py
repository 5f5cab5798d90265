"""Dependency clauses: reading them, expanding ranges, and finding cycles.

A clause is the content of an inline ``(Dependencies: …)`` (any of `Rules.dependency_forms`)
or of a ``**Dependencies**:`` field. Its items are task references (``1.1.1``, ``1.3 Services``,
``Phase 1 complete``, ``[1.1, 1.2]``, ranges ``1.1-1.10`` with a hyphen or an en dash) and
file links, which are prerequisites, not tasks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from runner.tasks.text import link_targets, remove_links

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "Clause",
    "expand_range",
    "find_cycles",
    "id_key",
    "numeric_ids",
    "parse_clause",
    "related",
]

_REF = r"\d+(?:\.\d+)*(?:\.[A-Za-z])?"
_WORD = r"(?:(?:phase|task|group|step)\s+)?"
_ITEM_RE = re.compile(
    rf"{_WORD}(?P<start>{_REF})(?![\d])(?:\s*[\u2013\u2014-]\s*{_WORD}(?P<end>{_REF})(?![\d]))?",
    re.IGNORECASE,
)
_ANY_ID_RE = re.compile(r"(?<![\w.])\d+(?:\.\d+)+(?![\w.]*\w)")
_SPLIT_RE = re.compile(r"\s*(?:[,;]|\band\b|&)\s*", re.IGNORECASE)
_EMPTY = frozenset({"", "none", "n/a", "na", "-", "\u2014", "\u2013", "nil", "null", "tbd"})


class Clause(NamedTuple):
    """A dependency clause read: references, file prerequisites and items not understood."""

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
        prerequisites.extend(link_targets(text))
        rest = remove_links(text).replace("[", " ").replace("]", " ").replace("`", " ").strip()
        for raw in _SPLIT_RE.split(rest):
            item = raw.strip(" .()")
            if item.lower() in _EMPTY:
                continue
            if (m := _ITEM_RE.match(item)) is not None:
                refs.append((m["start"], m["end"]))
            elif found := _ANY_ID_RE.findall(item):
                refs.extend((ref, None) for ref in found)
            else:
                unparsed.append(item)
    return Clause(tuple(refs), tuple(prerequisites), tuple(unparsed))


def id_key(task_id: str) -> tuple[int, ...]:
    """Return the numeric sort key of a numeric id (``"1.10"`` -> ``(1, 10)``)."""
    return tuple(int(part) for part in task_id.split("."))


def numeric_ids(ids: Iterable[str]) -> list[tuple[tuple[int, ...], str]]:
    """The numeric ids among ``ids`` (lettered ones cannot end a range) with their keys, sorted."""
    return sorted((id_key(i), i) for i in ids if i.replace(".", "").isdigit())


def expand_range(keyed: Sequence[tuple[tuple[int, ...], str]], start: str, end: str) -> list[str]:
    """Return the ids (`numeric_ids`) from ``start`` to ``end`` inclusive, of their depth."""
    if not (start.replace(".", "").isdigit() and end.replace(".", "").isdigit()):
        return []
    low, high = id_key(start), id_key(end)
    if len(low) != len(high):
        return []
    return [i for key, i in keyed if len(key) == len(low) and low <= key <= high]


def related(task_id: str, ref: str) -> bool:
    """Whether ``ref`` is the task itself, contains it, or is part of it (reported apart)."""
    return ref == task_id or task_id.startswith(ref + ".") or ref.startswith(task_id + ".")


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
