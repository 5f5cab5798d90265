"""A task's text fields: title, description, done mark, dependency clause, files, criteria."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from runner.tasks.deps import Clause, parse_clause
from runner.tasks.model import Issue
from runner.tasks.syntax import (
    description_of,
    file_words,
    link_targets,
    reduce_links,
    split_dependency_clause,
    strip_done,
    title_of,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runner.tasks.build import RawNode

__all__ = ["FileResolver", "NodeText", "criteria_of", "files_of", "node_text"]


@attrs.frozen
class NodeText:
    """What a node's own text says."""

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
    rest, inline = split_dependency_clause(text)
    rest, done_before_clause = strip_done(rest)
    if rest.startswith("**") or rest.endswith("**"):
        rest = rest.strip("*").strip()
    done = (
        done_end
        or done_before_clause
        or node.lead_done
        or node.box in ("x", "X")
        or node.fields.get("status") == "completed"
        or node.commented
    )
    items = [inline] if inline is not None else []
    items.extend(node.lists.get("dependencies", ()))
    has_clause = inline is not None or "dependencies" in node.lists
    clause_line = (
        node.line if inline is not None else node.list_lines.get("dependencies", node.line)
    )
    heading = description_of(rest)
    field = node.fields.get("description")
    description = description_of(field) if field else heading
    title = node.fields.get("title") or (heading if field and heading else title_of(description))
    sources = [rest, field] if field else [rest]
    paths = [p for s in sources for p in link_targets(s)]
    paths.extend(p for s in sources for p in file_words(reduce_links(s)))
    return NodeText(
        title=title,
        description=description,
        done=done,
        clause=parse_clause(items) if has_clause else None,
        clause_line=clause_line,
        paths=tuple(dict.fromkeys(paths)),
    )


def files_of(node: RawNode, text: NodeText) -> list[str]:
    """Return a task's files: the ``**Files**`` field when present, else those its text names."""
    if "files" not in node.lists:
        return list(text.paths)
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
        return list(dict.fromkeys(p if "/" in p else self._full.get(p, p) for p in paths))
