"""Make a parsed list's `Task`, `Group` and `Phase` values (titles, descriptions, files).

The build works out what SELECT needs of every task (a `Row`); the text of a task is read
when its `Task` is first asked for, so selecting the next task of a long list reads one
task's text. A bare file name (``devTeamSlice.js``) gets the one full path the list names
for it; only the lines whose text holds the name (or glues a word to a link) can name one.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping, Sequence

import attrs

from runner.tasks.fields import NodeText, State, files_of, node_text
from runner.tasks.lines import Node
from runner.tasks.model import Group, Phase, Row, Task

__all__ = ["GroupParts", "Values"]

Refs = tuple[tuple[str, ...], tuple[str, ...]]

# A word char right before a link or right after one: reducing the link to its text joins the
# word across it, so the text may name a file its raw text does not spell out. (Each branch
# starts with its bracket: the regex engine then skips to brackets, ~7x sooner than with a
# lookbehind first.)
_STRADDLE_RE = re.compile(r"\[(?<=[\w./@+-]\[)|!\[(?<=[\w./@+-]!\[)|\)(?=[\w./@+-])")


@attrs.frozen
class GroupParts:
    """A group's members and resolved clause, as the build found them."""

    id: str
    atomic: tuple[str, ...]
    checkpoints: tuple[str, ...]
    refs: Refs


@attrs.define
class Values:
    """What makes (and keeps) the values of one parsed list."""

    rows: Mapping[str, Row]
    nodes: Mapping[str, Node]
    """The first line of every item id."""
    phase_nodes: Mapping[str, Node]
    states: Mapping[str, State]
    """The state of every item (by id) and phase (by ``Phase N``)."""
    requirements: Mapping[str, Sequence[str]]
    groups_parts: Sequence[GroupParts]
    """In the order of the group's line, else of its first task's."""
    phase_refs: Mapping[str, Refs]
    completed_phases: frozenset[str]
    _texts: dict[str, NodeText] = attrs.Factory(dict)
    _tasks: dict[str, Task] = attrs.Factory(dict)
    _full: dict[str, str] = attrs.Factory(dict)
    _groups: tuple[Group, ...] | None = None
    _phases: tuple[Phase, ...] | None = None
    _search: _Search | None = None

    def task(self, task_id: str) -> Task:
        """The `Task` of a row."""
        if (found := self._tasks.get(task_id)) is not None:
            return found
        row, node = self.rows[task_id], self.nodes[task_id]
        text = self._text(task_id)
        files = tuple(dict.fromkeys(self._full_path(p) for p in files_of(node, text)))
        parent = self.rows.get(task_id.rpartition(".")[0])
        if not files and row.type == "atomic" and task_id.count(".") >= 3 and parent:
            # the parts of a composite work on its files unless they name some
            composite = parent.type == "composite" and parent.line < row.line
            files = self.task(parent.id).files if composite else ()
        parts = task_id.split(".")
        found = self._tasks[task_id] = Task(
            id=task_id,
            title=text.title,
            description=text.description,
            type=row.type,
            dependencies=row.dependencies,
            files=files,
            criteria=row.criteria,
            requirements=tuple(self.requirements.get(".".join(parts[:2]), ())),
            prerequisites=row.prerequisites,
            line=row.line,
            group=".".join(parts[:2]) if len(parts) > 2 else None,
            phase=int(parts[0]),
            status=row.status,
            style="field" if node.status_line is not None else node.line.style,
            status_line=node.status_line,
        )
        return found

    def groups(self) -> tuple[Group, ...]:
        """Make the groups (once)."""
        if self._groups is None:
            self._groups = self._make_groups()
        return self._groups

    def phases(self) -> tuple[Phase, ...]:
        """Make the phases (once)."""
        if self._phases is None:
            self._phases = self._make_phases()
        return self._phases

    def _make_groups(self) -> tuple[Group, ...]:
        return tuple(
            Group(
                id=g.id,
                title=self._text(g.id).title if g.id in self.nodes else "",
                line=self.nodes[g.id].number if g.id in self.nodes else None,
                dependencies=g.refs[0],
                prerequisites=g.refs[1],
                tasks=g.atomic,
                checkpoints=g.checkpoints,
                requirements=tuple(self.requirements.get(g.id, ())),
                phase=int(g.id.split(".")[0]),
            )
            for g in self.groups_parts
        )

    def _make_phases(self) -> tuple[Phase, ...]:
        return tuple(
            Phase(
                id=phase_id,
                title=self._text(f"Phase {phase_id}").title,
                line=node.number,
                dependencies=self.phase_refs[phase_id][0],
                prerequisites=self.phase_refs[phase_id][1],
                completed=self.states[f"Phase {phase_id}"].done
                or phase_id in self.completed_phases,
            )
            for phase_id, node in self.phase_nodes.items()
        )

    def node(self, key: str) -> Node:
        """The node of an item (by id) or phase (by ``Phase N``)."""
        return self.phase_nodes[key.removeprefix("Phase ")] if key[0] == "P" else self.nodes[key]

    def _text(self, key: str) -> NodeText:
        """The text of an item (by id) or phase (by ``Phase N``), read once."""
        if (found := self._texts.get(key)) is None:
            found = self._texts[key] = node_text(self.node(key), self.states[key])
        return found

    def _full_path(self, name: str) -> str:
        """The one full path (``src/a.js``) the list names for a bare name, else the name."""
        if "/" in name:
            return name
        if (found := self._full.get(name)) is not None:
            return found
        if self._search is None:
            self._search = _Search.of(self)
        candidates = set()
        for key in self._search.may_name(name):
            clause = self.states[key].clause
            for path in (*self._text(key).paths, *(clause.prerequisites if clause else ())):
                if "/" in path and path.rsplit("/", 1)[-1] == name:
                    candidates.add(path)
        found = self._full[name] = candidates.pop() if len(candidates) == 1 else name
        return found


@attrs.frozen
class _Search:
    """The raw text of every item and phase (line, description, dependency items), joined.

    A path ending in a name can only come from a text that holds the name, or glues a word to
    a link (reducing the link joins them); one search of the joined text finds either.
    """

    keys: Sequence[str]
    ends: Sequence[int]
    """Where each key's text ends in ``joined``."""
    joined: str
    straddling: frozenset[int]
    """The index of each key whose text straddles a link."""

    @classmethod
    def of(cls, values: Values) -> _Search:
        keys = [*values.nodes, *(f"Phase {i}" for i in values.phase_nodes)]
        texts = [_raw(node) for node in (*values.nodes.values(), *values.phase_nodes.values())]
        ends = list(itertools.accumulate(len(text) + 1 for text in texts))
        joined = "\n".join(texts)  # no pattern matches across a "\n"
        straddling = {bisect.bisect_right(ends, m.start()) for m in _STRADDLE_RE.finditer(joined)}
        return cls(keys, ends, joined, frozenset(straddling))

    def may_name(self, name: str) -> list[str]:
        """The keys whose text holds ``name`` or straddles a link, in document order."""
        found = set(self.straddling)
        at = self.joined.find(name)
        while at != -1:
            found.add(bisect.bisect_right(self.ends, at))
            at = self.joined.find(name, at + 1)
        return [self.keys[index] for index in sorted(found)]


def _raw(node: Node) -> str:
    """A node's line text, description and dependency items, one a line."""
    if node.written is None:
        return node.line.text
    parts = [node.line.text, node.fields.get("description", "")]
    return "\n".join([*parts, *node.lists.get("dependencies", ())])
