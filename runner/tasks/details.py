"""Make a `Task` from its built record: title, description, files, criteria, requirements.

A `TaskList` asks for these on first access only, so parsing a long list and selecting the
next task reads the text of one task, not of all of them. Bare file names (``devTeamSlice.js``)
are completed with the one full path the whole list names for them; that search only reads
the lines that can name the file (see `TaskMaker.full_path`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from runner.tasks.fields import NodeState, NodeText, criteria_of, files_of, node_text
from runner.tasks.model import Record, Task
from runner.tasks.syntax import holds
from runner.tasks.table import Nodes, TaskTable

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["TaskMaker"]

# A word char right before a link or right after one: reducing the link to its text can then
# join a word across it, so the reduced text may name a file the raw text does not spell out.
# (Each branch starts with its bracket, which the regex engine finds far faster than a class.)
_STRADDLE_RE = re.compile(r"\[(?<=[\w./@+-]\[)|!\[(?<=[\w./@+-]!\[)|\)(?=[\w./@+-])")
# The same, one branch each: searching a long text for one literal is far faster than for any of
# three, so three searches beat one.
_STRADDLE_BRANCHES = tuple(re.compile(branch) for branch in _STRADDLE_RE.pattern.split("|"))
_STRADDLE_LITERALS = ("[", "![", ")")
"""The literal each branch starts with: a text without it needs no search for the branch."""


@attrs.define
class TaskMaker:
    """Makes (and keeps) the heavy values of one parsed list."""

    nodes: Nodes
    table: TaskTable
    by_id: Mapping[str, int]
    """The index of every task in the table, by id."""
    first: Mapping[str, int]
    """The position of every item id's first line."""
    phases: Mapping[str, Record]
    states: Mapping[str, NodeState]
    """The states with a clause: phases (by ``Phase N``), items (by id); see
    `runner.tasks.build`."""
    default_criteria: Mapping[str, str]
    requirements: Mapping[str, Sequence[str]]
    """The criterion bullets of each group."""
    _texts: dict[int, NodeText] = attrs.Factory(dict)
    _files: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    _full: dict[str, str] = attrs.Factory(dict)
    _search: _Search | None = None

    def record(self, index: int) -> Record:
        """The record of the ``index``-th task, with its built type, status and dependencies."""
        table = self.table
        record = self.nodes.record(self.first[table.ids[index]])
        record.type, record.status = table.types[index], table.statuses[index]
        record.dependencies = table.dependencies(index)
        record.prerequisites = table.prerequisites(index)
        return record

    def task_record(self, task_id: str) -> Record | None:
        """The record of the task with this id, if any (see `record`)."""
        index = self.by_id.get(task_id)
        return None if index is None else self.record(index)

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
            requirements=tuple(self.requirements.get(group_key, ())),
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
                parent = self.task_record(record.id.rpartition(".")[0])
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
            for node in self._may_name(name):
                key = node.id if node.kind == "item" else f"Phase {node.id}"
                state = self.states.get(key)
                prerequisites = state.clause.prerequisites if state and state.clause else ()
                for path in (*self.text(node).paths, *prerequisites):
                    if "/" in path and path.rsplit("/", 1)[-1] == name:
                        candidates.add(path)
            found = self._full[name] = next(iter(candidates)) if len(candidates) == 1 else name
        return found

    def _may_name(self, name: str) -> list[Record]:
        search = self._search
        if search is None:
            search = self._search = _Search.of(self.nodes, self.first, self.phases)
        return search.may_name(name)


@attrs.frozen
class _Search:
    """Every item and phase line (the first of each id), searchable by text.

    The lines' texts are joined with ``\n`` (which no line holds), so one `str.find` over the
    joined text finds the lines that hold a name, and one regex search the straddling links; a
    hit's entry is the number of ``\n`` before it. Entry ``i`` is the ``i``-th item line, then
    the phase lines; its record is made on demand.
    """

    nodes: Nodes
    positions: Sequence[int]
    """The position of each item entry in ``nodes``."""
    phases: Sequence[Record]
    texts: Sequence[str]
    """Each entry's text (a plain line's with its id: `Nodes.raws`)."""
    joined: str
    with_fields: Sequence[Record]
    straddling: Sequence[int]
    """The entries whose text straddles a link (see `_STRADDLE_RE`)."""

    @classmethod
    def of(cls, nodes: Nodes, first: Mapping[str, int], phases: Mapping[str, Record]) -> _Search:
        """Index the first line of each item and phase id."""
        if len(first) == len(nodes.ids):  # no id repeated: every item line is an entry
            positions: Sequence[int] = range(len(nodes.ids))
            texts = nodes.raws + [node.text for node in phases.values()]
        else:
            positions = list(first.values())
            texts = [nodes.raws[position] for position in positions]
            texts += [node.text for node in phases.values()]
        joined = "\n".join(texts)
        with_fields = [
            record
            for position, record in nodes.records.items()
            if record.extra is not None and first[record.id] == position
        ]
        with_fields += [node for node in phases.values() if node.extra is not None]
        straddling: dict[int, None] = {}  # in the order found, without repeats
        for literal, branch in zip(_STRADDLE_LITERALS, _STRADDLE_BRANCHES, strict=True):
            if holds(joined, literal, literal[0]):
                offsets = (m.start() for m in branch.finditer(joined))
                straddling.update(dict.fromkeys(_entries(joined, offsets)))
        return cls(
            nodes, positions, tuple(phases.values()), texts, joined, with_fields, list(straddling)
        )

    def may_name(self, name: str) -> list[Record]:
        """The records that hold ``name`` (`_holds`) and the straddling ones, maybe repeated."""
        if name and "\n" not in name:
            entries = _find_all(self.joined, name)
        else:
            entries = [i for i, text in enumerate(self.texts) if name in text]
        found = [self._record(i) for i in (*entries, *self.straddling)]
        found += [node for node in self.with_fields if _holds(node, name)]
        found += [node for node in self.with_fields if _straddles_fields(node)]
        return found

    def _record(self, entry: int) -> Record:
        items = len(self.positions)
        if entry < items:
            return self.nodes.record(self.positions[entry])
        return self.phases[entry - items]


def _entries(joined: str, offsets: Iterable[int]) -> Iterator[int]:
    """The entries of ascending offsets in ``joined``: the ``\n`` before each, counted once."""
    entry = counted = 0
    for offset in offsets:
        entry += joined.count("\n", counted, offset)
        counted = offset
        yield entry


def _find_all(joined: str, name: str) -> list[int]:
    """The indexes of the entries whose text holds ``name`` (which holds no ``\n``)."""
    return list(_entries(joined, _offsets(joined, name)))


def _offsets(joined: str, name: str) -> Iterator[int]:
    """Where ``name`` first is in each entry's text that holds it, in ascending order."""
    at = joined.find(name)
    while at != -1:
        yield at
        end = joined.find("\n", at)
        if end == -1:
            return
        at = joined.find(name, end + 1)


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
