"""Make a `Task` from its built record: title, description, files, criteria, requirements.

A `TaskList` asks for these on first access only, so parsing a long list and selecting the
next task reads the text of one task, not of all of them. Bare file names (``devTeamSlice.js``)
are completed with the one full path the whole list names for them; that search only reads
the lines that can name the file (see `TaskMaker.full_path`).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from runner.tasks.fields import NodeState, NodeText, criteria_of, files_of, node_text
from runner.tasks.model import Record, Task

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["TaskMaker"]

# A word char right before a link or right after one: reducing the link to its text can then
# join a word across it, so the reduced text may name a file the raw text does not spell out.
# (Each branch starts with its bracket, which the regex engine finds far faster than a class.)
_STRADDLE_RE = re.compile(r"\[(?<=[\w./@+-]\[)|!\[(?<=[\w./@+-]!\[)|\)(?=[\w./@+-])")


@attrs.define
class TaskMaker:
    """Makes (and keeps) the heavy values of one parsed list."""

    items: Mapping[str, Record]
    phases: Mapping[str, Record]
    states: Mapping[str, NodeState]
    """The state of every item (by id) and phase (by ``Phase N``)."""
    default_criteria: Mapping[str, str]
    requirements: Mapping[str, tuple[str, ...]]
    _texts: dict[int, NodeText] = attrs.Factory(dict)
    _files: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    _full: dict[str, str] = attrs.Factory(dict)
    _search: _Search | None = None

    def text(self, node: Record) -> NodeText:
        """Return the node's title, description and named files (kept once read)."""
        found = self._texts.get(id(node))
        if found is None:
            found = self._texts[id(node)] = node_text(node)
        return found

    def task(self, record: Record) -> Task:
        """Make the `Task` of a built record."""
        text = self.text(record)
        containers = record.id.split(".")
        in_group = len(containers) > 2
        group_key = f"{containers[0]}.{containers[1]}"
        status_line = record.status_line()
        return Task(
            id=record.id,
            title=text.title,
            description=text.description,
            type=record.type,
            dependencies=record.dependencies,
            files=self.files(record),
            criteria=criteria_of(record, self.default_criteria, []),
            requirements=self.requirements.get(group_key, ()),
            prerequisites=record.prerequisites,
            line=record.line,
            group=group_key if in_group else None,
            phase=int(containers[0]),
            status=record.status,
            style="field" if status_line is not None else record.style,
            status_line=status_line,
        )

    def files(self, record: Record) -> tuple[str, ...]:
        """A task's files; the parts of a composite work on its files unless they name some."""
        found = self._files.get(record.id)
        if found is None:
            found = tuple(self._resolve(files_of(record, self.text(record))))
            if not found and record.type == "atomic" and record.id.count(".") >= 3:
                parent = self.items.get(record.id.rpartition(".")[0])
                if parent is not None and parent.type == "composite" and parent.line < record.line:
                    found = self.files(parent)
            self._files[record.id] = found
        return found

    def _resolve(self, paths: Iterable[str]) -> list[str]:
        """Return ``paths`` with bare names completed where unambiguous, without repeats."""
        resolved = [p if "/" in p else self.full_path(p) for p in paths]
        return list(dict.fromkeys(resolved)) if len(resolved) > 1 else resolved

    def full_path(self, name: str) -> str:
        """Return the one full path (``src/a.js``) the list names for a bare name, else it.

        Only lines whose text holds the name can name such a path, save lines where a link
        is glued to a word (reducing the link joins them); only those lines are read.
        """
        found = self._full.get(name)
        if found is None:
            candidates: set[str] = set()
            for node, state in self._may_name(name):
                prerequisites = state.clause.prerequisites if state.clause else ()
                for path in (*self.text(node).paths, *prerequisites):
                    if "/" in path and path.rsplit("/", 1)[-1] == name:
                        candidates.add(path)
            found = self._full[name] = next(iter(candidates)) if len(candidates) == 1 else name
        return found

    def _may_name(self, name: str) -> list[tuple[Record, NodeState]]:
        search = self._search
        if search is None:
            search = self._search = _Search.of(self.items, self.phases, self.states)
        return search.may_name(name)


@attrs.frozen
class _Search:
    """Every item and phase line (the first of each id), searchable by text.

    The lines' texts are joined with ``\n`` (which no line holds), so one `str.find` over the
    joined text finds the lines that hold a name, and one regex search the straddling links.
    """

    nodes: Sequence[Record]
    states: Mapping[str, NodeState]
    joined: str
    starts: Sequence[int]
    """Where each node's text starts in ``joined`` (and, last, the end of ``joined`` + 1)."""
    with_fields: Sequence[Record]
    straddling: Sequence[Record]

    @classmethod
    def of(
        cls,
        items: Mapping[str, Record],
        phases: Mapping[str, Record],
        states: Mapping[str, NodeState],
    ) -> _Search:
        """Index the items and phases."""
        nodes = [*items.values(), *phases.values()]
        texts = [node.text for node in nodes]
        joined = "\n".join(texts)
        starts = list(itertools.accumulate(map(len, texts), lambda at, n: at + n + 1, initial=0))
        with_fields = [node for node in nodes if node.extra is not None]
        straddling = [nodes[i] for i in _hits(_STRADDLE_RE.finditer(joined), starts)]
        straddling += [node for node in with_fields if _straddles_fields(node)]
        return cls(nodes, states, joined, starts, with_fields, straddling)

    def may_name(self, name: str) -> list[tuple[Record, NodeState]]:
        """The nodes that hold ``name`` (`_holds`) and the straddling ones, maybe repeated."""
        if not name or "\n" in name:
            found = [node for node in self.nodes if _holds(node, name)]
        else:
            found = [self.nodes[i] for i in _find_all(self.joined, name, self.starts)]
            found += [node for node in self.with_fields if _holds(node, name)]
        states = self.states
        return [
            (node, states[node.id if node.kind == "item" else f"Phase {node.id}"])
            for node in (*found, *self.straddling)
        ]


def _hits(matches: Iterable[re.Match[str]], starts: Sequence[int]) -> list[int]:
    """The indexes of the nodes the matches are in, without repeats."""
    found: dict[int, None] = {}
    for m in matches:
        found[bisect.bisect_right(starts, m.start()) - 1] = None
    return list(found)


def _find_all(joined: str, name: str, starts: Sequence[int]) -> list[int]:
    """The indexes of the nodes whose text holds ``name`` (which holds no ``\n``)."""
    found = []
    at = joined.find(name)
    while at != -1:
        index = bisect.bisect_right(starts, at) - 1
        found.append(index)
        at = joined.find(name, starts[index + 1])
    return found


def _holds(node: Record, name: str) -> bool:
    """Whether the node's own text, description or dependency items hold ``name``."""
    if name in node.text:
        return True
    extra = node.extra
    if extra is None:
        return False
    if name in extra.fields.get("description", ""):
        return True
    return any(name in item for item in extra.lists.get("dependencies", ()))


def _straddles_fields(node: Record) -> bool:
    extra = node.extra
    return (
        extra is not None and _STRADDLE_RE.search(extra.fields.get("description", "")) is not None
    )
