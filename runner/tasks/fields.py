"""A task's text fields: title, description, done mark, dependency clause, files, criteria."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

import attrs

from runner.tasks.deps import Clause, parse_clause
from runner.tasks.model import Issue
from runner.tasks.syntax import (
    file_words,
    link_targets,
    split_dependency_clause,
    split_links,
    strip_done,
    tidy_description,
    title_of,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runner.tasks.build import RawNode

__all__ = ["FileResolver", "NodeText", "criteria_of", "files_of", "node_text"]


class NodeText(NamedTuple):
    """What a node's own text says (a named tuple: one is made per numbered line)."""

    title: str
    description: str
    done: bool
    clause: Clause | None
    """The dependency clause (inline ``(Dependencies: …)`` and/or the field); ``None`` if none."""
    clause_line: int
    paths: tuple[str, ...]
    """Files named by the text: link targets, then path-like words."""


def node_text(node: RawNode) -> NodeText:
    """Read a node's line (and its Description/Title/Dependencies fields)."""
    text, done_end = strip_done(node.text)
    inline: str | None = None
    done_before_clause = False
    if "(" in text:  # a dependency clause starts with "("
        rest, inline = split_dependency_clause(text)
        if inline is not None:
            rest, done_before_clause = strip_done(rest)
    else:
        rest = text
    if rest.startswith("**") or rest.endswith("**"):
        rest = rest.strip("*").strip()
    fields = node.fields
    done = (
        done_end
        or done_before_clause
        or node.lead_done
        or node.box in ("x", "X")
        or fields.get("status") == "completed"
        or node.commented
    )
    lists = node.lists
    items = [inline] if inline is not None else []
    if "dependencies" in lists:
        items.extend(lists["dependencies"])
    has_clause = inline is not None or "dependencies" in lists
    clause_line = (
        node.line if inline is not None else node.list_lines.get("dependencies", node.line)
    )
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
        done=done,
        clause=parse_clause(items) if has_clause else None,
        clause_line=clause_line,
        paths=tuple(dict.fromkeys(paths)) if len(paths) > 1 else tuple(paths),
    )


def files_of(node: RawNode, text: NodeText) -> list[str]:
    """Return a task's files: the ``**Files**`` field when present, else those its text names."""
    if "files" not in node.lists:
        return list(text.paths)  # already without repeats
    files: list[str] = []
    for item in node.lists["files"]:
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
    node: RawNode, defaults: Mapping[str, str], warnings: list[Issue]
) -> Mapping[str, str]:
    """Return the ``**Criteria**`` field's ``key: value`` pairs, else the defaults."""
    if "criteria" not in node.lists:
        return defaults
    criteria: dict[str, str] = {}
    for item in node.lists["criteria"]:
        for piece in item.split(","):
            key, sep, value = piece.partition(":")
            key, value = key.strip().strip("`*").strip(), value.strip().strip("`").strip()
            if sep and key and value:
                criteria[key] = value
    if not criteria:
        line = node.list_lines.get("criteria", node.line)
        warnings.append(Issue(line, "criteria field has no 'key: value' items", node.id))
        return defaults
    return criteria


@attrs.frozen
class FileResolver:
    """Complete bare file names (``devTeamSlice.js``) with the one full path the list names."""

    _full: Mapping[str, str]

    @classmethod
    def of(cls, texts: Iterable[NodeText]) -> FileResolver:
        """Collect the full paths named anywhere in the list (text and dependency links)."""
        candidates: dict[str, set[str]] = {}
        for text in texts:
            prerequisites = text.clause.prerequisites if text.clause else ()
            for path in (*text.paths, *prerequisites):
                if "/" in path:
                    candidates.setdefault(path.rsplit("/", 1)[-1], set()).add(path)
        return cls({name: next(iter(p)) for name, p in candidates.items() if len(p) == 1})

    def resolve(self, paths: Iterable[str]) -> list[str]:
        """Return ``paths`` with bare names completed where unambiguous, without repeats."""
        full = self._full
        resolved = [p if "/" in p else full.get(p, p) for p in paths]
        return list(dict.fromkeys(resolved)) if len(resolved) > 1 else resolved
