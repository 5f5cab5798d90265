"""A task's text fields: done mark and dependency clause (cheap), title, description, files.

`node_state` is what every task needs when a list is parsed; `node_text` (title, description,
the files the text names) is only read when a `Task` is made.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from runner.tasks.deps import Clause, parse_clause, parse_clause_text
from runner.tasks.model import Issue, Record
from runner.tasks.syntax import (
    DONE_MARKS,
    file_words,
    link_targets,
    split_dependency_clause,
    split_links,
    strip_done,
    tidy_description,
    title_of,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DONE",
    "OPEN",
    "NodeState",
    "NodeText",
    "criteria_of",
    "files_of",
    "node_state",
    "node_text",
    "plain_state",
]


class NodeText(NamedTuple):
    """What a node's own text says besides its state: the heavy part, made on demand."""

    title: str
    description: str
    paths: tuple[str, ...]
    """Files named by the text: link targets, then path-like words."""


class NodeState(NamedTuple):
    """The cheap part of a node's text: done mark and dependency clause."""

    done: bool
    clause: Clause | None
    """The dependency clause (inline ``(Dependencies: …)`` and/or the field); ``None`` if none."""
    clause_line: int


# A text whose only parentheses are a dependency clause that ends it: what `_split` reads from
# it is the clause's content, and the done mark before the clause (the text after the
# clause is blank, so no done mark can end the text).
_TAIL_CLAUSE_RE = re.compile(
    r"(?P<head>[^()]*)\(\s*(?:dependencies|depends on|deps)\s*:(?P<clause>[^()]*)\)\s*",
    re.IGNORECASE,
)

OPEN = NodeState(False, None, 0)
DONE = NodeState(True, None, 0)
"""The states of nodes without a clause (``clause_line`` only matters with a clause)."""


def _split(text: str) -> tuple[str, bool, str | None]:
    """Split a line's text into the rest, whether a done mark ends it, and the inline clause."""
    text, done = strip_done(text)
    inline: str | None = None
    # a dependency clause starts with "(" and holds a ":", so most lines skip the regex
    if "(" in text and ":" in text:
        text, inline = split_dependency_clause(text)
        if inline is not None:
            text, done_before_clause = strip_done(text)
            done = done or done_before_clause
    if text.startswith("**") or text.endswith("**"):
        text = text.strip("*").strip()
    return text, done, inline


def plain_state(text: str, line: int) -> NodeState:
    """Read the done state and dependency clause of a plain ``1.1.1 Text`` line.

    What `node_state` reads from the line's record, without making one.
    """
    if "(" not in text or ":" not in text:  # no clause: the done mark
        return DONE if text.rstrip().endswith(DONE_MARKS) else OPEN
    if (m := _TAIL_CLAUSE_RE.fullmatch(text)) is not None:  # the common shape, at once
        done, inline = m["head"].rstrip().endswith(DONE_MARKS), m["clause"].strip()
    else:
        _, done, inline = _split(text)
        if inline is None:
            return DONE if done else OPEN
    return NodeState(done, parse_clause_text(inline), line)


def node_state(node: Record) -> NodeState:
    """Read a node's done state and dependency clause (its line and fields)."""
    text = node.text
    if node.extra is None and ("(" not in text or ":" not in text):  # no clause: the done mark
        if text.rstrip().endswith(DONE_MARKS) or node.lead_done or node.commented:
            return DONE
        return DONE if node.box in ("x", "X") else OPEN
    _, done, inline = _split(text)
    done = done or node.lead_done or node.box in ("x", "X") or node.commented
    extra = node.extra
    if extra is None:  # the common case: a line without fields
        if inline is None:
            return DONE if done else OPEN
        return NodeState(done, parse_clause_text(inline), node.line)
    done = done or extra.fields.get("status") == "completed"
    items = [inline] if inline is not None else []
    deps = extra.lists.get("dependencies")
    if deps is not None:
        items.extend(deps)
    elif inline is None:
        return DONE if done else OPEN
    clause_line = node.line if inline is not None else extra.list_lines["dependencies"]
    return NodeState(done, parse_clause(items), clause_line)


def node_text(node: Record) -> NodeText:
    """Read a node's title, description and the files its text names."""
    rest, _, _ = _split(node.text)
    fields = node.fields()
    reduced, paths = split_links(rest)
    heading = tidy_description(reduced)
    field = fields.get("description")
    if field:
        field_reduced, field_targets = split_links(field)
        description = tidy_description(field_reduced)
        paths += field_targets
    else:
        description = heading
    title = fields.get("title") or (heading if field and heading else title_of(description))
    paths += file_words(reduced)
    if field:
        paths += file_words(field_reduced)
    return NodeText(
        title=title,
        description=description,
        paths=tuple(dict.fromkeys(paths)) if len(paths) > 1 else tuple(paths),
    )


def files_of(node: Record, text: NodeText) -> list[str]:
    """Return a task's files: the ``**Files**`` field when present, else those its text names."""
    items = node.lists().get("files")
    if items is None:
        return list(text.paths)  # already without repeats
    files: list[str] = []
    for item in items:
        targets = link_targets(item)
        if targets:
            files.extend(targets)
            continue
        for piece in item.split(","):
            name = piece.strip().strip("`'\"").strip()
            if name and name.lower() not in ("none", "-", "n/a"):
                files.append(name.removeprefix("./"))
    return list(dict.fromkeys(files))


def criteria_of(
    node: Record, defaults: Mapping[str, str], warnings: list[Issue]
) -> Mapping[str, str]:
    """Return the ``**Criteria**`` field's ``key: value`` pairs, else the defaults."""
    extra = node.extra
    if extra is None or "criteria" not in extra.lists:
        return defaults
    criteria: dict[str, str] = {}
    for item in extra.lists["criteria"]:
        for piece in item.split(","):
            key, sep, value = piece.partition(":")
            key, value = key.strip().strip("`*").strip(), value.strip().strip("`").strip()
            if sep and key and value:
                criteria[key] = value
    if not criteria:
        line = extra.list_lines.get("criteria", node.line)
        warnings.append(Issue(line, "criteria field has no 'key: value' items", node.id))
        return defaults
    return criteria
