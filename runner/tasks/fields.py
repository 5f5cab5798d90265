"""What one item or phase line and its fields say: done state, clause, title, files, criteria."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import attrs

from runner.tasks.clauses import Clause, parse_clause
from runner.tasks.model import Issue
from runner.tasks.text import description_of, file_words, link_targets, split_links, title_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runner.tasks.lines import Node
    from runner.tasks.rules import Rules

__all__ = ["NodeText", "State", "criteria_of", "files_of", "node_text", "read_state"]

_NO_FILES = frozenset({"none", "-", "n/a"})


class State(NamedTuple):
    """A node's done state and dependency clause, and its text without them."""

    done: bool
    clause: Clause | None
    """The inline clause and the ``**Dependencies**`` field together; ``None`` if neither."""
    clause_line: int
    rest: str


@attrs.frozen
class NodeText:
    """A node's title, description and the files its text names."""

    title: str
    description: str
    paths: tuple[str, ...]
    """Link targets, then path-like words."""


def read_state(node: Node, rules: Rules) -> State:
    """Read whether a node is done (`Rules.done_marks`, box, status, comment) and its clause."""
    line = node.line
    text, done = rules.strip_done(line.text)
    inline = None
    if (m := rules.find_clause(text)) is not None:
        text, inline = _cut_clause(text, m.start(), m.end())
        text, done_before = rules.strip_done(text)
        done = done or done_before
    if text.startswith("**") or text.endswith("**"):
        text = text.strip("*").strip()
    done = done or line.lead_done or line.box in ("x", "X") or node.commented
    if node.written is None and inline is None:  # the common line: no fields, no clause
        return State(done, None, 0, text)
    done = done or node.fields.get("status") == "completed"
    field = node.lists.get("dependencies")
    if inline is None and field is None:
        return State(done, None, 0, text)
    items = [inline] if inline is not None else []
    clause_line = node.number if inline is not None else node.list_lines["dependencies"]
    return State(done, parse_clause([*items, *(field or ())]), clause_line, text)


def _cut_clause(text: str, start: int, content: int) -> tuple[str, str]:
    """Cut the clause opened at ``start`` out of ``text``: (the rest, the clause's content).

    The clause ends at its matching parenthesis, so links inside it are kept whole.
    """
    depth = 1
    for i in range(content, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                rest = (text[:start] + " " + text[i + 1 :]).strip()
                return " ".join(rest.split()), text[content:i].strip()
    return text[:start].strip(), text[content:].strip()


def node_text(node: Node, state: State) -> NodeText:
    """Read a node's title, description (its field, else its line) and the files they name."""
    reduced, paths = split_links(state.rest)
    heading = description_of(reduced)
    field = node.fields.get("description")
    field_reduced = ""
    if field:
        field_reduced, field_targets = split_links(field)
        description = description_of(field_reduced)
        paths += field_targets
    else:
        description = heading
    title = node.fields.get("title") or (heading if field and heading else title_of(description))
    paths += file_words(reduced)
    if field:
        paths += file_words(field_reduced)
    return NodeText(title, description, tuple(dict.fromkeys(paths)))


def files_of(node: Node, text: NodeText) -> list[str]:
    """Return a task's files: the ``**Files**`` field when present, else those its text names."""
    items = node.lists.get("files")
    if items is None:
        return list(text.paths)
    files: list[str] = []
    for item in items:
        if targets := link_targets(item):
            files.extend(targets)
            continue
        for piece in item.split(","):
            name = piece.strip().strip("`'\"").strip()
            if name and name.lower() not in _NO_FILES:
                files.append(name.removeprefix("./"))
    return list(dict.fromkeys(files))


def criteria_of(
    node: Node, defaults: Mapping[str, str], warnings: list[Issue]
) -> Mapping[str, str]:
    """Return the ``**Criteria**`` field's ``key: value`` pairs, else the defaults."""
    items = node.lists.get("criteria")
    if items is None:
        return defaults
    criteria: dict[str, str] = {}
    for item in items:
        for piece in item.split(","):
            key, sep, value = piece.partition(":")
            key, value = key.strip().strip("`*").strip(), value.strip().strip("`").strip()
            if sep and key and value:
                criteria[key] = value
    if not criteria:
        line = node.list_lines.get("criteria", node.number)
        warnings.append(Issue(line, "criteria field has no 'key: value' items", node.id))
        return defaults
    return criteria
